"""WLCG storage scopes, and which scope each operation of the service needs on which LFNs.

A token that carries ``storage.read:/p``, ``storage.create:/p``,
``storage.modify:/p`` or ``storage.stage:/p`` may do only that, and only at
``/p`` and below, matched on whole path components (``/foo`` never reaches
``/foobar``). ``modify`` includes ``create``. A token with no storage scope
at all is an identity token: the ACLs alone decide. Certificates carry no
scopes. Scopes narrow what the ACLs allow; they never widen it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gridfs.catalog import CatalogAPI, EntryId, FileStatus, Replica, split_lfn
from gridfs.errors import PermissionDenied

__all__ = ["KINDS", "RULES", "Rule", "Scopes", "authorize"]

KINDS = ("read", "create", "modify", "stage")
_IMPLIED = {"create": ("create", "modify"), "read": ("read",), "modify": ("modify",)}


@dataclass(frozen=True)
class Scopes:
    """The storage scopes of a token: for each kind, the LFN subtrees it reaches."""

    grants: Mapping[str, tuple[str, ...]]

    @classmethod
    def parse(cls, claim: str, base: str = "/") -> Scopes | None:
        """The storage scopes in a ``scope`` claim; None when it has none.

        Scope paths are relative to ``base`` (the issuer's root in the LFN tree).
        """
        grants: dict[str, list[str]] = {}
        for word in claim.split():
            name, _, path = word.partition(":")
            if not name.startswith("storage."):
                continue
            kind = name.removeprefix("storage.")
            if kind not in KINDS:
                continue
            relative = posixpath.normpath("/" + path).lstrip("/")  # `..` stays inside
            grants.setdefault(kind, []).append(posixpath.normpath(posixpath.join(base, relative)))
        if not grants:
            return None
        return cls({kind: tuple(paths) for kind, paths in grants.items()})

    def allows(self, kind: str, lfn: str) -> bool:
        """Whether a scope of ``kind`` (or one that includes it) reaches ``lfn``."""
        for granted in _IMPLIED.get(kind, (kind,)):
            for top in self.grants.get(granted, ()):
                if top in ("/", lfn) or lfn.startswith(top + "/"):
                    return True
        return False

    def describe(self) -> list[str]:
        """The scopes as the token spelled them (under the base)."""
        return [f"storage.{kind}:{path}" for kind, paths in self.grants.items() for path in paths]


# How to find the LFNs an argument is about, given the caller's catalog.
Resolver = Callable[[CatalogAPI, Any], list[str]]


def _path(catalog: CatalogAPI, value: Any) -> list[str]:
    return ["/" + "/".join(split_lfn(value))]  # normalised: no `..` walks out of a scope


def _entry(catalog: CatalogAPI, value: Any) -> list[str]:
    return [catalog.lfn_of(EntryId(value))]


def _either(catalog: CatalogAPI, value: Any) -> list[str]:
    return _path(catalog, value) if isinstance(value, str) else _entry(catalog, value)


def _targets(catalog: CatalogAPI, value: Any) -> list[str]:
    if isinstance(value, str | int):
        return _either(catalog, value)
    return [lfn for one in value for lfn in _either(catalog, one)]


def _paths(catalog: CatalogAPI, values: Any) -> list[str]:
    return [lfn for value in values for lfn in _path(catalog, value)]


def _new_files(catalog: CatalogAPI, values: Any) -> list[str]:
    return [lfn for value in values for lfn in _path(catalog, value.lfn)]


def _guid(catalog: CatalogAPI, value: Any) -> list[str]:
    return catalog.lfns_of(value)[:1]


def _replica(catalog: CatalogAPI, value: Any) -> list[str]:
    assert isinstance(value, Replica)
    return _entry(catalog, value.entry_id)


def _root(catalog: CatalogAPI, value: Any) -> list[str]:
    return ["/"]  # names no LFN (a SURL, a query): needs a scope on the whole tree


@dataclass(frozen=True)
class Rule:
    """The scope kinds (any one suffices) an operation needs, on the LFNs of which arguments."""

    kinds: tuple[str, ...]
    targets: tuple[tuple[str, Resolver], ...]
    # A create scope may finish (commit, abandon) a file it created: one still WRITING.
    writing_file: bool = False


def _rule(kinds: str, *targets: tuple[str, Resolver], writing_file: bool = False) -> Rule:
    return Rule(tuple(kinds.split("|")), targets, writing_file)


_R, _C, _M = "read", "create", "modify"
RULES: dict[str, Rule] = {
    "catalog.stat": _rule(_R, ("lfn", _path)),
    "catalog.stat_id": _rule(_R, ("entry_id", _entry)),
    "catalog.lookup": _rule(_R, ("parent_id", _entry)),
    "catalog.stat_walked": _rule(_R, ("entry_id", _entry)),
    "catalog.lfn_of": _rule(_R, ("entry_id", _entry)),
    "catalog.readlink": _rule(_R, ("lfn_or_id", _either)),
    "catalog.iterdir": _rule(_R, ("directory", _either)),
    "catalog.list_page": _rule(_R, ("directory_id", _entry)),
    "catalog.children": _rule(_R, ("directory_id", _entry)),
    "catalog.guid_of": _rule(_R, ("lfn", _path)),
    "catalog.lfns_of": _rule(_R, ("guid", _guid)),
    "catalog.access": _rule(_R, ("lfn", _path)),
    "catalog.getacl": _rule(_R, ("lfn", _path)),
    "catalog.properties": _rule(_R, ("lfn_or_id", _either)),
    "catalog.inherited_property": _rule(_R, ("entry_id", _entry)),
    "catalog.mkdir": _rule(_C, ("lfn", _path)),
    "catalog.symlink": _rule(_C, ("lfn", _path)),
    "catalog.mknod": _rule(_C, ("lfn", _path)),
    "catalog.add_file": _rule(_C, ("lfn", _path)),
    "catalog.add_files": _rule(_C, ("files", _new_files)),
    "catalog.unlink": _rule(_M, ("lfn", _path)),
    "catalog.abandon_writing": _rule(_M, ("entry_id", _entry), writing_file=True),
    "catalog.rmdir": _rule(_M, ("lfn", _path)),
    "catalog.rename": _rule(_M, ("source", _path), ("destination", _path)),
    "catalog.chmod": _rule(_M, ("lfn", _path)),
    "catalog.chown": _rule(_M, ("lfn", _path)),
    "catalog.utime": _rule(_M, ("lfn", _path)),
    "catalog.set_comment": _rule(_M, ("lfn", _path)),
    "catalog.setacl": _rule(_M, ("lfn", _path)),
    "catalog.edit_acl": _rule(_M, ("lfn", _path)),
    "catalog.set_property": _rule(_M, ("lfn_or_id", _either)),
    "catalog.add_alias": _rule(_C, ("alias", _path)),
    "catalog.remove_alias": _rule(_M, ("alias", _path)),
    "catalog.replicas": _rule(_R, ("lfn_or_id", _either)),
    "catalog.stat_replicas": _rule(_R, ("lfn_or_id", _either)),
    "catalog.replicas_to_replace": _rule(_M, ("entry_id", _entry)),
    "catalog.replicas_many": _rule(_R, ("lfns", _paths)),
    "catalog.replicas_for_removal": _rule(_M, ("lfn", _path)),
    "catalog.drop_replicas": _rule(_M, ("lfn", _path)),
    "catalog.surls_of": _rule(_R, ("guid", _guid)),
    "catalog.space_used": _rule(_R, ("se", _root)),
    "catalog.commit_version": _rule(_M, ("entry_id", _entry), writing_file=True),
    "catalog.add_replica": _rule(_M, ("guid", _guid)),
    "catalog.remove_replica": _rule(_M, ("guid", _guid)),
    "catalog.set_replica_status": _rule("stage|modify", ("surl", _root)),
    "catalog.mark_replica_bad": _rule(_R, ("entry_id", _entry)),
    "catalog.begin_replica_deletion": _rule(_M, ("surl", _root)),
    "catalog.undo_replica_deletion": _rule(_M, ("replica", _replica)),
    "metadata.add_entry": _rule(_C, ("lfn", _path)),
    "metadata.addattr": _rule(_M, ("directory", _either)),
    "metadata.addattrs": _rule(_M, ("directory", _either)),
    "metadata.removeattr": _rule(_M, ("directory", _either)),
    "metadata.removeattrs": _rule(_M, ("directory", _either)),
    "metadata.listattr": _rule(_R, ("directory", _either)),
    "metadata.entry_schema": _rule(_R, ("entry", _either)),
    "metadata.setattr": _rule(_M, ("entries", _targets)),
    "metadata.getattr": _rule(_R, ("entry", _either)),
    "metadata.clearattr": _rule(_M, ("entry", _either)),
    "metadata.list_entries": _rule(_R, ("directory", _either)),
    "metadata.get_xattr": _rule(_R, ("entry", _either)),
    "metadata.xattr_names": _rule(_R, ("entry", _either)),
    "metadata.set_xattr": _rule(_M, ("entry", _either)),
    "metadata.remove_xattr": _rule(_M, ("entry", _either)),
    "metadata.find": _rule(_R, ("directory", _path)),
    "metadata.find_ids": _rule(_R, ("directory_id", _entry)),
    "metadata.selectattr": _rule(_R, ("attributes", _root)),
    "metadata.select_query": _rule(_R, ("query", _root)),
    "metadata.save_query": _rule(_M, ("directory", _either)),
    "metadata.saved_queries": _rule(_R, ("directory", _either)),
    "metadata.remove_query": _rule(_M, ("directory", _either)),
    "metadata.run_saved_query": _rule(_R, ("directory", _path)),
}
_ANY_TREE = _rule(_M, ("", _root))  # an operation without a rule: the broadest scope only


def authorize(
    scopes: Scopes | None, operation: str, arguments: Mapping[str, Any], catalog: CatalogAPI
) -> None:
    """Raise :class:`PermissionDenied` unless ``scopes`` allow the call (None: no scopes apply).

    ``operation`` is ``interface.name``; ``catalog`` acts as the caller (to find
    the LFN of an id, which the ACLs must let the caller see anyway).
    """
    if scopes is None:
        return
    rule = RULES.get(operation, _ANY_TREE)
    for argument, resolve in rule.targets:
        if argument and argument not in arguments:
            continue  # an optional argument left out
        for lfn in resolve(catalog, arguments.get(argument)):
            if any(scopes.allows(kind, lfn) for kind in rule.kinds):
                continue
            if rule.writing_file and _finishes_own_file(scopes, catalog, arguments, lfn):
                continue
            raise PermissionDenied(
                f"{lfn}: the token's scopes do not allow {operation.split('.')[1]} "
                f"(it needs storage.{rule.kinds[0]} there)",
                lfn,
            )


def _finishes_own_file(
    scopes: Scopes, catalog: CatalogAPI, arguments: Mapping[str, Any], lfn: str
) -> bool:
    if not scopes.allows("create", lfn):
        return False
    return catalog.stat_id(EntryId(arguments["entry_id"])).status is FileStatus.WRITING
