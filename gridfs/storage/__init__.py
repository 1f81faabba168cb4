"""Storage elements, SURL -> TURL resolution and protocol backends.

Knows nothing of the catalog: it is handed SURLs and TURLs.
"""

from gridfs.storage.backend import (
    BackendOptions,
    Capability,
    ListEntry,
    ObjectStat,
    RangeReader,
    StorageBackend,
    WriteResult,
    clamp_ranges,
)
from gridfs.storage.checksum import DEFAULT_CHECKSUM, Adler32, adler32
from gridfs.storage.file_backend import make_private_dirs
from gridfs.storage.health import CircuitBreaker, RetryPolicy, is_transient
from gridfs.storage.naming import (
    GENERATED_AREA,
    ReplicaName,
    generated_surl,
    is_generated_name,
    is_partial_upload,
    new_version_tag,
    parse_replica_name,
    partial_upload_name,
    replica_surl,
)
from gridfs.storage.pool import KNOWN_PROTOCOLS, BackendPool
from gridfs.storage.resolve import make_surl, resolve_turl
from gridfs.storage.se import SERegistry, StorageElement
from gridfs.storage.staging import Locality, RequestState, Stager, StageRequest

__all__ = [
    "DEFAULT_CHECKSUM",
    "GENERATED_AREA",
    "KNOWN_PROTOCOLS",
    "Adler32",
    "BackendOptions",
    "BackendPool",
    "Capability",
    "CircuitBreaker",
    "ListEntry",
    "Locality",
    "ObjectStat",
    "RangeReader",
    "ReplicaName",
    "RequestState",
    "RetryPolicy",
    "SERegistry",
    "StageRequest",
    "Stager",
    "StorageBackend",
    "StorageElement",
    "WriteResult",
    "adler32",
    "clamp_ranges",
    "generated_surl",
    "is_generated_name",
    "is_partial_upload",
    "is_transient",
    "make_private_dirs",
    "make_surl",
    "new_version_tag",
    "parse_replica_name",
    "partial_upload_name",
    "replica_surl",
    "resolve_turl",
]
