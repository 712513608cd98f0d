"""Random networks: activations, initialisations, the MLP, and their inputs."""
