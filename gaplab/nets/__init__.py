"""Random networks: activations, initialisations, the MLP, their inputs, row normalisers and seed chunking."""
