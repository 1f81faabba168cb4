"""Mount options (``-o``), as ``gridfs mount``, ``mount -t fuse.gridfs`` and fstab give them.

Three kinds, told apart here and nowhere else:

- gridfs settings, the keys of the ``[mount]`` table (``ro``, ``cache_size=2G``,
  ``attr_timeout=30``, ``stage_eagain``...), applied over the configuration;
- options for the kernel's mount (``allow_other``, ``nosuid``, ``nodev``...),
  handed to libfuse;
- fstab words that concern only mount(8) (``defaults``, ``noauto``, ``_netdev``,
  ``nofail``, ``x-systemd.*``...), accepted and ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gridfs.config import MountSettings, apply_mount_options

__all__ = ["kernel_options", "parse_options", "split_options"]

_KERNEL = {
    "allow_other",
    "default_permissions",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "exec",
    "noexec",
    "atime",
    "noatime",
    "nodiratime",
    "relatime",
    "strictatime",
    "sync",
    "async",
    "dirsync",
}
_FSTAB_ONLY = {"defaults", "auto", "noauto", "user", "nouser", "users", "_netdev", "nofail", "rw"}


def parse_options(words: Iterable[str]) -> dict[str, str | None]:
    """``["ro,cache_size=2G", "allow_other"]`` as ``{"ro": None, "cache_size": "2G", ...}``."""
    options: dict[str, str | None] = {}
    for word in words:
        for item in word.split(","):
            if item:
                key, equals, value = item.partition("=")
                options[key] = value if equals else None
    return options


def split_options(
    settings: MountSettings, options: Mapping[str, str | None]
) -> tuple[MountSettings, set[str]]:
    """``settings`` with the gridfs options applied, and the options for libfuse.

    Raises :class:`ConfigError` for an unknown option or a bad value.
    """
    mine = {}
    for key, value in options.items():
        if key in _KERNEL or key in _FSTAB_ONLY or key == "comment" or key.startswith("x-"):
            continue
        mine[key] = value
    settings = apply_mount_options(settings, mine)
    return settings, kernel_options(settings, options)


def kernel_options(settings: MountSettings, options: Mapping[str, str | None]) -> set[str]:
    """What libfuse is told: the names, ``ro``, and the kernel options given.

    No ``default_permissions``: the catalog decides every request, as it
    decides the CLI's, for the caller's grid identity (named users and groups,
    the mask). The kernel could check a POSIX ACL shown as
    ``system.posix_acl_access``, but only in local ids: grid names without a
    local id share the fallback uid, a caller's groups would be its process's
    rather than its account's, and a caller without a grid name is ``nobody``
    to the catalog, not to the kernel; its decisions would differ.
    """
    chosen = {"fsname=gridfs", "subtype=gridfs"}
    chosen |= {key for key in options if key in _KERNEL}
    if settings.read_only:
        chosen.add("ro")
    return chosen
