"""The package version: one place, read by the package, the CLI and the build (pyproject.toml)."""

__version__ = "0.2.0.dev0"
