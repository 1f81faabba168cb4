"""``gridfs se``: the storage elements of the configuration, their space and health."""

from __future__ import annotations

import re
import time
from pathlib import Path

import click

from gridfs.cli.output import echo_table
from gridfs.cli.state import State, pass_state
from gridfs.config import add_se_to_config, remove_se_from_config
from gridfs.errors import ConfigError, GridError, IsADirectory, NotFound
from gridfs.gfal import Grid, make_private_dirs
from gridfs.gfal.sweep import sweep

__all__ = ["COMMANDS"]


@click.group()
def se() -> None:
    """Storage elements."""


@se.command("list")
@pass_state
def se_list(state: State) -> None:
    """List the configured storage elements."""
    rows = [("NAME", "SITE", "ACCESS", "SURL PREFIX", "TURL PREFIXES")]
    for element in state.config.ses:
        access = ("r" if element.readable else "-") + ("w" if element.writable else "-")
        turls = " ".join(f"{prefix}" for prefix in element.protocols.values())
        rows.append((element.name, element.site, access, element.surl_prefix, turls))
    echo_table(rows)


@se.command("add")
@click.argument("name")
@click.option("--site", required=True, help="The site the SE belongs to.")
@click.option("--region", help="The region (a country, say) of the site.")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory holding the SE's storage area (reached by file://).",
)
@click.option(
    "--protocol",
    "protocols",
    multiple=True,
    metavar="SCHEME=TURL_PREFIX",
    help="An access protocol, e.g. root=root://host:1094//data (repeatable).",
)
@click.option(
    "--tape",
    type=click.Path(file_okay=False, path_type=Path),
    help="Tape area: makes the SE nearline (needs --root as its disk area).",
)
@click.option("--stage-delay", type=float, help="Seconds a recall from tape takes.")
@click.option(
    "--space-token",
    "tokens",
    multiple=True,
    metavar="NAME=QUOTA_BYTES",
    help="A reserved space and its quota (repeatable).",
)
@click.option("--surl-prefix", help="SURL prefix (default: srm://NAME.SITE/grid).")
@click.option("--read-only", is_flag=True, help="Replicas may be read but not written.")
@pass_state
def se_add(
    state: State,
    name: str,
    site: str,
    region: str | None,
    root: Path | None,
    protocols: tuple[str, ...],
    tape: Path | None,
    stage_delay: float | None,
    tokens: tuple[str, ...],
    surl_prefix: str | None,
    read_only: bool,
) -> None:
    """Add a storage element to the configuration file."""
    path = state.config.path
    if path is None:
        raise ConfigError("no configuration file to add to: run 'gridfs init' first")
    turl_prefixes = dict(_pairs(protocols, "--protocol"))
    spec: dict[str, object] = {
        "site": site,
        "surl_prefix": surl_prefix or f"srm://{name}.{site}/grid",
        "write": not read_only,
        "protocols": turl_prefixes,
    }
    if region:
        spec["region"] = region
    if root:
        spec["root"] = str(root.absolute())
    if tape:
        spec["tape"] = str(tape.absolute())
    if stage_delay is not None:
        spec["stage_delay"] = stage_delay
    if tokens:
        try:
            spec["space_tokens"] = {k: int(v) for k, v in _pairs(tokens, "--space-token")}
        except ValueError:
            raise click.BadParameter(
                "quotas are whole numbers of bytes", param_hint="--space-token"
            ) from None
    preferred = add_se_to_config(path, name, spec)
    for directory in (root, tape):
        if directory:
            make_private_dirs(directory.absolute())
    where = root.absolute() if root else ", ".join(turl_prefixes.values())
    click.echo(f"added storage element {name} ({site}) at {where}")
    if preferred:
        click.echo(f"added {', '.join(preferred)} to [storage] protocols (least preferred)")
    _tell_mounts()


def _tell_mounts() -> None:
    """Running mounts read the configuration when they start: say how they see a change."""
    mounts = _gridfs_mounts()
    if mounts:
        click.echo(
            f"gridfs is mounted at {', '.join(mounts)}: remount to see the change "
            "(gridfs umount DIR; gridfs mount DIR)"
        )


def _gridfs_mounts() -> list[str]:
    """The mount points of the gridfs mounts of this machine (from /proc/self/mounts)."""
    try:
        with open("/proc/self/mounts") as mounts:
            lines = mounts.read().splitlines()
    except OSError:
        return []
    points = []
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[2] == "fuse.gridfs":
            # Spaces and the like are octal escapes there (\040).
            points.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[1]))
    return points


def _pairs(items: tuple[str, ...], option: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=option)
        pairs.append((key, value))
    return pairs


@se.command("space")
@pass_state
def se_space(state: State) -> None:
    """Show each SE's space tokens: quota, bytes used by registered replicas, free."""
    rows = [("SE", "TOKEN", "QUOTA", "USED", "FREE")]
    for element in state.config.ses:
        for token, quota in sorted(element.space_tokens.items()):
            used = state.grid.space_used(element.name, token)
            rows.append((element.name, token, str(quota), str(used), str(max(quota - used, 0))))
    echo_table(rows)


@se.command("clean")
@click.argument("name")
@click.option(
    "--older-than",
    "older_than_s",
    type=click.FloatRange(min=0),
    default=3600,
    show_default=True,
    help="Only objects at least this old, in seconds (spares uploads in progress).",
)
@click.option("-n", "--dry-run", is_flag=True, help="List them, delete nothing.")
@pass_state
def se_clean(state: State, name: str, older_than_s: float, dry_run: bool) -> None:
    """Delete what no replica names on an SE: partial uploads and unregistered copies."""
    for dark in sweep(state.grid, name, older_than_s=older_than_s, delete=not dry_run):
        kind = "partial upload" if dark.partial else "unregistered copy"
        click.echo(f"{'would delete' if dry_run else 'deleted'} {kind} {dark.surl} ({dark.size} B)")


@se.command("rm")
@click.argument("name")
@pass_state
def se_rm(state: State, name: str) -> None:
    """Remove a storage element from the configuration (its replicas stay registered)."""
    path = state.config.path
    if path is None:
        raise ConfigError("no configuration file to change: run 'gridfs init' first")
    remove_se_from_config(path, name)
    click.echo(f"removed storage element {name} from {path}")
    _tell_mounts()


@se.command("status")
@pass_state
def se_status(state: State) -> None:
    """Probe every access protocol of every SE: is it reachable, how fast does it answer?"""
    rows = [("NAME", "PROTOCOL", "STATUS", "MS", "DETAIL")]
    down = False
    for element in state.config.ses:
        for protocol, prefix in element.protocols.items():
            started = time.perf_counter()
            status, detail = _probe(state.grid, prefix)
            ms = f"{(time.perf_counter() - started) * 1000:.0f}"
            rows.append((element.name, protocol, status, ms, detail))
            down = down or status != "up"
    echo_table(rows)
    if down:
        raise click.exceptions.Exit(1)


def _probe(grid: Grid, prefix: str) -> tuple[str, str]:
    """Whether the storage area at ``prefix`` answers (a directory or a missing one both do)."""
    try:
        grid.storage_stat(prefix)
    except IsADirectory:
        return "up", ""
    except NotFound:
        return "up", "storage area not created yet"
    except GridError as exc:
        return "down", str(exc)
    return "up", "the storage area is a file"


COMMANDS: list[click.Command] = [se]
