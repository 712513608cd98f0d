"""The experiment protocol: sizes, overrides, claims and the reproduce driver."""
