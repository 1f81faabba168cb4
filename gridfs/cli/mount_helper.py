"""``mount.fuse.gridfs``: the helper mount(8) runs for ``mount -t fuse.gridfs`` and fstab lines.

mount(8) calls ``mount.fuse.gridfs SOURCE MOUNTPOINT [-sfnv] [-o OPTIONS] [-t TYPE]``.
SOURCE is the configuration file, or ``gridfs`` for the usual search
(``$GRIDFS_CONFIG``, ``~/.config/gridfs/config.toml``, ``/etc/gridfs/config.toml``).
Besides the mount options of ``gridfs mount -o``, two are the helper's own:
``log=FILE`` (the daemon's log) and ``debug``. An fstab line::

    /etc/gridfs/config.toml  /grid  fuse.gridfs  allow_other,_netdev,cache_size=20G  0  0

The helper returns once the daemon has mounted, or fails with the reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["main"]

_USAGE = "usage: mount.fuse.gridfs CONFIG|gridfs MOUNTPOINT [-o OPTIONS]"


def _arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """The positional arguments and the ``-o`` option strings; mount(8)'s flags are dropped."""
    positional, options = [], []
    words = iter(argv)
    for word in words:
        if word == "-o":
            options.append(next(words, ""))
        elif word.startswith("-o"):
            options.append(word[2:])
        elif word in ("-t", "-N"):
            next(words, None)  # the type (fuse.gridfs) or a namespace: nothing for us
        elif word.startswith("-") and len(word) > 1:
            continue  # -s (sloppy), -f (fake), -n (no mtab), -v (verbose)
        else:
            positional.append(word)
    return positional, options


def main(argv: list[str] | None = None) -> int:
    """Mount as mount(8) asks; returns the exit status (0 once mounted)."""
    from gridfs.config import load_config  # noqa: PLC0415 - keep usage errors fast
    from gridfs.errors import GridError  # noqa: PLC0415

    positional, option_words = _arguments(sys.argv[1:] if argv is None else argv)
    if len(positional) != 2:
        print(_USAGE, file=sys.stderr)
        return 2
    source, mountpoint = positional
    try:
        from gridfs.fuse import mount, parse_options  # noqa: PLC0415 - needs pyfuse3

        options = parse_options(option_words)
        log_file = options.pop("log", None)
        debug = "debug" in options
        options.pop("debug", None)
        config = load_config(None if source == "gridfs" else source)
        mount(
            config,
            mountpoint,
            debug=debug,
            log_file=Path(log_file) if log_file else None,
            options=options,
        )
    except OSError as exc:
        message = str(exc) if isinstance(exc, GridError) else f"{exc.filename}: {exc.strerror}"
        print(f"mount.fuse.gridfs: {message}", file=sys.stderr)
        return 1
    except ImportError as exc:
        if exc.name not in ("pyfuse3", "trio"):
            raise
        hint = f"mounting needs {exc.name}: pip install 'gridfs[fuse]'"
        print(f"mount.fuse.gridfs: {hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
