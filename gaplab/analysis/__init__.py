"""Statistics of results: bands, fits, variance shares, seed embeddings and the gap."""
