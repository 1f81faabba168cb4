"""``grid://`` for the Python data ecosystem: an fsspec filesystem over the LFN namespace.

Registered with fsspec (the ``fsspec.specs`` entry point) as protocol ``grid``,
so that ``fsspec.open("grid:///grid/<vo>/path")``, ``uproot.open``, pandas and
pyarrow reach grid files by LFN, with the replica choice, failover and tape
staging of :func:`gridfs.open`.
"""

from gridfs.fsspec.filesystem import GridFileSystem
from gridfs.fsspec.reading import GridFile

__all__ = ["GridFile", "GridFileSystem"]
