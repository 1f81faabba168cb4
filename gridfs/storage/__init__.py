"""Storage elements, SURL -> TURL resolution and protocol backends.

Knows nothing of the catalog: it is handed SURLs and TURLs.
"""

from gridfs.storage.backend import (
    BackendOptions,
    ListEntry,
    ObjectStat,
    RangeReader,
    StorageBackend,
    WriteResult,
    backend_for,
)
from gridfs.storage.checksum import DEFAULT_CHECKSUM, Adler32
from gridfs.storage.health import CircuitBreaker, RetryPolicy, is_transient
from gridfs.storage.resolve import make_surl, resolve_turl
from gridfs.storage.se import SERegistry, StorageElement
from gridfs.storage.staging import Locality, RequestState, Stager, StageRequest

__all__ = [
    "DEFAULT_CHECKSUM",
    "Adler32",
    "BackendOptions",
    "CircuitBreaker",
    "ListEntry",
    "Locality",
    "ObjectStat",
    "RangeReader",
    "RequestState",
    "RetryPolicy",
    "SERegistry",
    "StageRequest",
    "Stager",
    "StorageBackend",
    "StorageElement",
    "WriteResult",
    "backend_for",
    "is_transient",
    "make_surl",
    "resolve_turl",
]
