"""The LFC-style file catalog: LFN namespace, GUIDs and replicas.

Knows nothing of storage or FUSE.
"""

from gridfs.catalog.api import CatalogAPI
from gridfs.catalog.catalog import ROOT_ID, Catalog
from gridfs.catalog.engine import create_catalog_engine, upgrade_schema
from gridfs.catalog.guids import new_guid, parse_guid
from gridfs.catalog.identity import SUPERUSER, Identity
from gridfs.catalog.lfn import join_lfn, split_lfn
from gridfs.catalog.permissions import (
    AclEdit,
    AclEntry,
    AclTag,
    format_acl,
    parse_acl,
    parse_acl_keys,
)
from gridfs.catalog.records import (
    EntryId,
    EntryKind,
    FileStatus,
    NewFile,
    Registration,
    Replica,
    ReplicaStatus,
    Stat,
    kind_of_mode,
)
from gridfs.catalog.store import CatalogStore, retry_on_conflict

__all__ = [
    "ROOT_ID",
    "SUPERUSER",
    "AclEdit",
    "AclEntry",
    "AclTag",
    "Catalog",
    "CatalogAPI",
    "CatalogStore",
    "EntryId",
    "EntryKind",
    "FileStatus",
    "Identity",
    "NewFile",
    "Registration",
    "Replica",
    "ReplicaStatus",
    "Stat",
    "create_catalog_engine",
    "format_acl",
    "join_lfn",
    "kind_of_mode",
    "new_guid",
    "parse_acl",
    "parse_acl_keys",
    "parse_guid",
    "retry_on_conflict",
    "split_lfn",
    "upgrade_schema",
]
