"""``--json`` output: catalog records as plain data, one JSON document on stdout."""

from __future__ import annotations

import json

import click

from gridfs.gfal import Replica, Stat

__all__ = ["echo_json", "replica_record", "stat_record"]


def stat_record(entry: Stat, lfn: str) -> dict[str, object]:
    """An entry as a JSON object: type, mode, owner, size, times (ns), and GUID/checksum/target."""
    record: dict[str, object] = {
        "lfn": lfn,
        "name": entry.name,
        "type": entry.kind.name.lower(),
        "mode": f"{entry.mode:04o}",
        "owner": entry.owner,
        "group": entry.group,
        "size": entry.size,
        "mtime_ns": entry.mtime_ns,
        "ctime_ns": entry.ctime_ns,
    }
    if entry.is_file():
        record |= {
            "guid": entry.guid,
            "checksum_type": entry.checksum_type,
            "checksum": entry.checksum,
            "status": None if entry.status is None else str(entry.status),
        }
    if entry.is_symlink():
        record["target"] = entry.target
    if entry.kind.is_device:
        record["rdev"] = entry.rdev
    if entry.comment is not None:
        record["comment"] = entry.comment
    return record


def replica_record(replica: Replica) -> dict[str, object]:
    """A replica as a JSON object."""
    return {
        "surl": replica.surl,
        "se": replica.se,
        "status": str(replica.status),
        "space_token": replica.space_token,
    }


def echo_json(data: object) -> None:
    """Print ``data`` as one JSON document."""
    click.echo(json.dumps(data, indent=2, sort_keys=False))
