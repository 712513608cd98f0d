"""The `gaplab` command line, one module per command."""
