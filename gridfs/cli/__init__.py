"""The ``gridfs`` command line."""

from gridfs.cli.main import main

__all__ = ["main"]
