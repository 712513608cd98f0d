"""Contrastive learning: losses, metrics, paired data, the loss landscape and the sphere toys."""
