"""Results on disk: the run-directory store and provenance."""
