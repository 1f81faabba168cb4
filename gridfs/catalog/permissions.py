"""Unix mode bits and POSIX ACLs: parsing, formatting and the access check. Pure.

An entry's minimal ACL (owner, owning group, other) lives in its mode bits.
An extended ACL adds named users and groups and a mask; then the mode's group
bits show the mask, and the owning group's own permissions are an ACL entry,
as on Linux. Default ACLs, on directories only, are inherited by new children.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gridfs.catalog.identity import Identity
from gridfs.errors import InvalidArgument

__all__ = [
    "EXECUTE",
    "READ",
    "WRITE",
    "AclEdit",
    "AclEntry",
    "AclKey",
    "AclTag",
    "edit_acl",
    "filled_default",
    "format_acl",
    "inherit",
    "is_allowed",
    "key_of",
    "parse_acl",
    "parse_acl_keys",
    "with_mask",
]

READ, WRITE, EXECUTE = 4, 2, 1


class AclTag(StrEnum):
    """The kinds of ACL entry; the values are stored in the database."""

    USER_OBJ = "user_obj"
    USER = "user"
    GROUP_OBJ = "group_obj"
    GROUP = "group"
    MASK = "mask"
    OTHER = "other"


@dataclass(frozen=True, order=True)
class AclEntry:
    """One ACL entry; ``qualifier`` names the user or group of USER and GROUP entries."""

    default: bool
    tag: AclTag
    qualifier: str
    perms: int

    def __post_init__(self) -> None:
        named = self.tag in (AclTag.USER, AclTag.GROUP)
        if named != bool(self.qualifier):
            raise InvalidArgument(
                f"ACL entry {self.tag.value} {'needs' if named else 'takes no'} name"
            )
        if not 0 <= self.perms <= 7:
            raise InvalidArgument(f"ACL permissions out of range: {self.perms}")


AclKey = tuple[bool, AclTag, str]  # what names an entry in an ACL: default, tag, qualifier


_TEXT_TAGS = {
    "user": AclTag.USER,
    "u": AclTag.USER,
    "group": AclTag.GROUP,
    "g": AclTag.GROUP,
    "mask": AclTag.MASK,
    "m": AclTag.MASK,
    "other": AclTag.OTHER,
    "o": AclTag.OTHER,
}


_LETTERS = {"r": READ, "w": WRITE, "x": EXECUTE}


def _perm_bits(text: str, spec: str) -> int:
    """``r-x``, ``rx``, ``rw`` (a missing letter is ``-``), ``-`` or an octal digit ``5``."""
    if len(text) == 1 and text in "01234567":
        return int(text)
    letters = text.replace("-", "")
    if not text or any(c not in _LETTERS for c in letters) or len(set(letters)) != len(letters):
        raise InvalidArgument(f"bad ACL permissions {text!r} in {spec!r} (want e.g. r-x, rx or 5)")
    return sum(_LETTERS[c] for c in letters)


def _perm_text(bits: int) -> str:
    return "".join(
        c if bits & bit else "-" for c, bit in zip("rwx", (READ, WRITE, EXECUTE), strict=True)
    )


def _specs(text: str) -> list[str]:
    """The entries of comma- or line-separated ACL text, ``#`` comments dropped."""
    specs = (raw.split("#", 1)[0].strip() for raw in text.replace("\n", ",").split(","))
    return [spec for spec in specs if spec]


def _parse_key(spec: str, parts: list[str]) -> AclKey:
    """The entry that ``[d[efault]:]tag:name`` names (``parts``, the perms split off)."""
    default = parts[0] in ("default", "d")
    if default:
        parts = parts[1:]
    if len(parts) == 1 and parts[0] in ("mask", "m", "other", "o"):
        parts = [*parts, ""]  # setfacl's "mask" and "other" without the colon
    if len(parts) != 2 or parts[0] not in _TEXT_TAGS:
        raise InvalidArgument(f"bad ACL entry {spec!r} (want e.g. user:bob:r-x)")
    kind, name = parts
    tag = _TEXT_TAGS[kind]
    if not name and tag is AclTag.USER:
        tag = AclTag.USER_OBJ
    elif not name and tag is AclTag.GROUP:
        tag = AclTag.GROUP_OBJ
    elif name and tag in (AclTag.MASK, AclTag.OTHER):
        raise InvalidArgument(f"bad ACL entry {spec!r}: {kind} takes no name")
    return default, tag, name


def parse_acl(text: str) -> list[AclEntry]:
    """Entries from getfacl- or setfacl-style text, comma- or line-separated.

    ``user::rwx,user:bob:r-x,group::r-x,mask::rwx,other::---,default:user::rwx``;
    short forms too: ``u:bob:rx``, ``g:atlas:5``, ``d:u:bob:rw``, ``o::-``.
    ``#`` starts a comment. Raises :class:`InvalidArgument` saying which entry is bad.
    """
    entries = []
    for spec in _specs(text):
        *named, perms = spec.split(":")
        if not named:
            raise InvalidArgument(f"bad ACL entry {spec!r} (want e.g. user:bob:r-x)")
        default, tag, name = _parse_key(spec, named)
        entries.append(AclEntry(default, tag, name, _perm_bits(perms, spec)))
    return entries


def parse_acl_keys(text: str) -> list[AclKey]:
    """The entries named by ``-x`` text: ``user:bob,d:group:atlas,mask::`` (permissions ignored)."""
    keys = []
    for spec in _specs(text):
        parts = spec.split(":")
        try:
            keys.append(_parse_key(spec, parts))
        except InvalidArgument:
            if len(parts) < 3:
                raise
            keys.append(_parse_key(spec, parts[:-1]))  # named with its permissions, as LFC's -d
    return keys


_TAG_TEXT = {
    AclTag.USER_OBJ: "user",
    AclTag.USER: "user",
    AclTag.GROUP_OBJ: "group",
    AclTag.GROUP: "group",
    AclTag.MASK: "mask",
    AclTag.OTHER: "other",
}
_TAG_ORDER = list(AclTag)


_GROUP_CLASS = (AclTag.USER, AclTag.GROUP_OBJ, AclTag.GROUP)


def format_acl(entries: Iterable[AclEntry]) -> str:
    """getfacl-style text, one entry per line, access entries before default ones.

    As getfacl, an entry of the group class that its ACL's mask cuts shows
    what it grants: ``user:bob:rwx\t#effective:r-x``.
    """
    ordered = sorted(entries, key=lambda e: (e.default, _TAG_ORDER.index(e.tag), e.qualifier))
    masks = {e.default: e.perms for e in ordered if e.tag is AclTag.MASK}
    lines = []
    for e in ordered:
        line = f"{'default:' if e.default else ''}{_TAG_TEXT[e.tag]}:{e.qualifier}:"
        line += _perm_text(e.perms)
        effective = e.perms & masks.get(e.default, 7)
        if e.tag in _GROUP_CLASS and effective != e.perms:
            line += f"\t#effective:{_perm_text(effective)}"
        lines.append(line + "\n")
    return "".join(lines)


def key_of(entry: AclEntry) -> AclKey:
    """What names ``entry`` in its ACL: default or access, tag, qualifier."""
    return entry.default, entry.tag, entry.qualifier


@dataclass(frozen=True)
class AclEdit:
    """A change to an ACL as setfacl makes it: ``-b``, ``-k``, ``-x``, ``-m``, in that order.

    ``strip`` removes every extended entry, the default ACL too (``-b``);
    ``drop_default`` the default ACL (``-k``); ``remove`` the named entries
    (``-x``); ``modify`` adds or changes entries (``-m``).
    """

    modify: tuple[AclEntry, ...] = ()
    remove: tuple[AclKey, ...] = ()
    strip: bool = False
    drop_default: bool = False


_BASE = (AclTag.USER_OBJ, AclTag.GROUP_OBJ, AclTag.OTHER)


def edit_acl(current: Sequence[AclEntry], edit: AclEdit) -> list[AclEntry]:
    """The whole ACL ``current`` (as getacl gives it) after ``edit``, masks as setfacl sets them.

    An ACL the edit touched gets its mask recomputed, the union of its group
    class, unless the edit gives one; a default ACL made by naming only some
    of its entries gets the others from the access ACL.
    """
    entries = {key_of(e): e for e in current}
    if edit.strip:
        entries = {k: e for k, e in entries.items() if not e.default and e.tag in _BASE}
    if edit.drop_default:
        entries = {k: e for k, e in entries.items() if not e.default}
    touched = set()
    for key in edit.remove:
        if key[1] in _BASE:
            raise InvalidArgument(f"the {_TAG_TEXT[key[1]]}:: entry cannot be removed")
        if entries.pop(key, None) is not None:
            touched.add(key[0])
    for entry in edit.modify:
        entries[key_of(entry)] = entry
        touched.add(entry.default)
    result = list(entries.values())
    access = [e for e in result if not e.default]
    default = [e for e in result if e.default]
    if True in touched:
        default = filled_default(access, default)
    remask = touched - {e.default for e in edit.modify if e.tag is AclTag.MASK}
    return _remasked(access, False in remask) + _remasked(default, True in remask)


def _remasked(entries: list[AclEntry], remask: bool) -> list[AclEntry]:
    """``entries`` with the mask of an extended ACL set to the union of its group class."""
    if not remask or all(e.tag in _BASE for e in entries):
        return entries
    union = 0
    for entry in entries:
        if entry.tag in _GROUP_CLASS:
            union |= entry.perms
    kept = [e for e in entries if e.tag is not AclTag.MASK]
    return [*kept, AclEntry(entries[0].default, AclTag.MASK, "", union)]


def filled_default(access: Sequence[AclEntry], default: Sequence[AclEntry]) -> list[AclEntry]:
    """A default ACL with its missing owner, group and other entries copied from ``access``.

    As setfacl does when a default ACL is made from named entries only.
    """
    if not default:
        return []
    have = {e.tag for e in default}
    copied = [
        AclEntry(True, e.tag, "", e.perms) for e in access if e.tag in _BASE and e.tag not in have
    ]
    return [*default, *copied]


def with_mask(entries: Sequence[AclEntry], *, default: bool) -> list[AclEntry]:
    """One ACL (access or default) checked for completeness, with a mask if it needs one.

    The owner, owning group and other entries are required; a missing mask of
    an ACL with named entries becomes the union of the group class, as
    setfacl computes it.
    """
    kind = "default ACL" if default else "ACL"
    tags = [e.tag for e in entries]
    for required in (AclTag.USER_OBJ, AclTag.GROUP_OBJ, AclTag.OTHER):
        if tags.count(required) != 1:
            raise InvalidArgument(f"the {kind} needs exactly one {_TAG_TEXT[required]}:: entry")
    named = [e for e in entries if e.tag in (AclTag.USER, AclTag.GROUP)]
    if len({(e.tag, e.qualifier) for e in named}) != len(named):
        raise InvalidArgument(f"the {kind} names a user or group twice")
    if tags.count(AclTag.MASK) > 1:
        raise InvalidArgument(f"the {kind} has more than one mask:: entry")
    if named and AclTag.MASK not in tags:
        group_class = [e for e in entries if e.tag in (AclTag.GROUP_OBJ, AclTag.USER, AclTag.GROUP)]
        union = 0
        for entry in group_class:
            union |= entry.perms
        return [*entries, AclEntry(default, AclTag.MASK, "", union)]
    return list(entries)


def is_allowed(
    identity: Identity,
    *,
    owner: str,
    group: str,
    mode: int,
    acl: Sequence[AclEntry],
    want: int,
    is_directory: bool,
) -> bool:
    """Whether ``identity`` may ``want`` (READ|WRITE|EXECUTE bits) on an entry.

    POSIX.1e: the owner gets the owner bits; else a named-user entry, masked;
    else, if the caller's groups match the owning group or named groups, it is
    allowed if one matching entry (masked) grants all of ``want``; else other.
    ``acl`` holds the extended access entries only (empty for a plain mode).
    The superuser may do anything, except execute a file nobody may execute.
    """
    if identity.superuser:
        return not (want & EXECUTE) or is_directory or bool(mode & 0o111)
    access = [e for e in acl if not e.default]
    mask = next((e.perms for e in access if e.tag is AclTag.MASK), 7)
    if identity.user == owner:
        return (mode >> 6) & want == want
    for entry in access:
        if entry.tag is AclTag.USER and entry.qualifier == identity.user:
            return entry.perms & mask & want == want
    group_obj = next((e.perms for e in access if e.tag is AclTag.GROUP_OBJ), (mode >> 3) & 7)
    matched = []
    if group in identity.groups:
        matched.append(group_obj & mask if access else group_obj)
    matched += [
        e.perms & mask for e in access if e.tag is AclTag.GROUP and e.qualifier in identity.groups
    ]
    if matched:
        return any(perms & want == want for perms in matched)
    return mode & want == want


def inherit(
    parent_default: Sequence[AclEntry], mode: int, *, is_directory: bool
) -> tuple[int, list[AclEntry]]:
    """Mode and ACL entries of a new child of a directory with default ACL ``parent_default``.

    The access ACL is the default one with the owner, group-class and other
    permissions cut down to the requested ``mode`` (umask is not applied, as
    POSIX says for directories with a default ACL); a new directory inherits
    the default ACL itself too. Returns the mode to store and the extended
    entries (access and default) to store with it.
    """
    if not parent_default:
        return mode, []
    by_tag = {e.tag: e for e in parent_default if e.tag not in (AclTag.USER, AclTag.GROUP)}
    owner = by_tag[AclTag.USER_OBJ].perms & (mode >> 6) & 7
    other = by_tag[AclTag.OTHER].perms & mode & 7
    group_class = by_tag.get(AclTag.MASK, by_tag[AclTag.GROUP_OBJ]).perms & (mode >> 3) & 7
    new_mode = (mode & 0o7000) | owner << 6 | group_class << 3 | other
    access: list[AclEntry] = []
    named = [e for e in parent_default if e.tag in (AclTag.USER, AclTag.GROUP)]
    if named or AclTag.MASK in by_tag:
        access = [AclEntry(False, e.tag, e.qualifier, e.perms) for e in named]
        access.append(AclEntry(False, AclTag.GROUP_OBJ, "", by_tag[AclTag.GROUP_OBJ].perms))
        access.append(AclEntry(False, AclTag.MASK, "", group_class))
    inherited = list(parent_default) if is_directory else []
    return new_mode, access + inherited
