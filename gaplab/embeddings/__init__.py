"""User embeddings: loading, gap metrics, post-hoc interventions and the
paper's downstream analyses (zero-shot accuracy and group outcomes as the gap
is shifted)."""
