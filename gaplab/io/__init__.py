"""Results on disk: the run-directory store, provenance and Markdown tables."""
