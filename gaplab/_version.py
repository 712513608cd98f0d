"""The package version (a module of its own, so provenance can read it without
importing the package that imports everything)."""
__version__ = "0.1.0"
