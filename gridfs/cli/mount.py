"""``gridfs mount`` and ``gridfs umount``: the /grid namespace as a FUSE filesystem.

pyfuse3 is imported only when a command runs, so that the rest of the CLI
works without it (``main()`` turns its absence into an install hint).
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from gridfs.cli.state import State

__all__ = ["COMMANDS"]


@click.command("mount")
@click.argument("mountpoint", type=click.Path(path_type=Path, readable=False))  # a stale one is not
@click.option("-f", "--foreground", is_flag=True, help="Stay in the foreground, log to stderr.")
@click.option(
    "-o",
    "options",
    multiple=True,
    metavar="OPTIONS",
    help="Mount options, comma-separated: ro, allow_other, cache_dir=DIR, cache_size=10G, "
    "attr_timeout=S, entry_timeout=S, stage_timeout=S, stage_eagain, nosuid, nodev...",
)
@click.option(
    "--log",
    "log_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The daemon's log file (default: ~/.local/state/gridfs/mount.log).",
)
@click.option("--allow-other", is_flag=True, help="Let other local users use the mount.")
@click.option(
    "--debug",
    is_flag=True,
    help="Debug logging, e.g. which replica serves each open (as gridfs --debug).",
)
@click.pass_context
def mount_(
    ctx: click.Context,
    mountpoint: Path,
    foreground: bool,
    options: tuple[str, ...],
    log_file: Path | None,
    allow_other: bool,
    debug: bool,
) -> None:
    """Mount the grid's namespace (the [mount] root, /grid) at MOUNTPOINT."""
    from gridfs.fuse import mount, parse_options  # noqa: PLC0415 - pyfuse3 is needed only here

    state: State = ctx.obj
    # A mount is a server: in the foreground it logs to stderr what a daemon logs to its file.
    logging.getLogger().setLevel(logging.DEBUG if debug or ctx.meta["debug"] else logging.INFO)
    chosen = parse_options([*options, "allow_other"] if allow_other else options)
    pid = mount(
        state.config,
        mountpoint,
        foreground=foreground,
        debug=debug or ctx.meta["debug"],
        log_file=log_file,
        options=chosen,
    )
    if pid is not None:
        click.echo(f"mounted {state.config.mount_root} at {mountpoint} (daemon pid {pid})")


@click.command("umount")
@click.argument("mountpoint", type=click.Path(path_type=Path, readable=False))  # a stale one is not
def umount(mountpoint: Path) -> None:
    """Unmount a gridfs mount."""
    from gridfs.fuse import unmount  # noqa: PLC0415 - pyfuse3 is needed only here

    unmount(mountpoint)


COMMANDS: list[click.Command] = [mount_, umount]
