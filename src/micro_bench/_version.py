"""The package version, in its own module so that core modules read it without importing the package."""

__version__ = "0.1.0"
