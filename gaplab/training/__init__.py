"""Two-tower training: towers, the training loop, sweeps, presets and the results store."""
