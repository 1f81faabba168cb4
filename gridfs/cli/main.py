"""The ``gridfs`` command line: a thin adapter over the gfal layer.

An expected failure is one line on stderr and exit status 1; a usage error
exits with 2; no traceback reaches the user unless ``--debug`` asks for it.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import stat as _stat
import sys
import time
from pathlib import Path

import click

from gridfs.catalog import SUPERUSER, Stat, format_acl, parse_acl
from gridfs.cli.jsonout import echo_json, replica_record, stat_record
from gridfs.cli.transfer import TRANSFER_COMMANDS, complete_lfn
from gridfs.config import (
    Config,
    add_se_to_config,
    config_path,
    load_config,
    remove_se_from_config,
    write_config,
)
from gridfs.errors import ConfigError, GridError, IsADirectory, NotFound
from gridfs.gfal import Grid
from gridfs.gfal.sweep import sweep
from gridfs.storage import RequestState

__all__ = ["main"]

log = logging.getLogger("gridfs.cli")

_CHUNK = 1 << 20


class _State:
    """The configuration and grid of one command, opened on first use."""

    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file
        self._config: Config | None = None
        self._grid: Grid | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_file)
        return self._config

    @property
    def grid(self) -> Grid:
        if self._grid is None:
            self._grid = Grid.from_config(self.config)
        return self._grid

    def close(self) -> None:
        if self._grid is not None:
            self._grid.close()


pass_state = click.make_pass_decorator(_State)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    help="Configuration file (default: $GRIDFS_CONFIG, else ~/.config/gridfs/config.toml).",
)
@click.option("-v", "--verbose", is_flag=True, help="Say what is being done.")
@click.option("--debug", is_flag=True, help="Debug logging, and tracebacks on errors.")
@click.version_option(package_name="gridfs")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, verbose: bool, debug: bool) -> None:
    """Grid data management: a file catalog, storage elements and a /grid mount."""
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="gridfs: %(message)s", stream=sys.stderr)
    ctx.meta["debug"] = debug
    state = _State(config_file)
    ctx.obj = state
    ctx.call_on_close(state.close)


for _command in TRANSFER_COMMANDS:
    cli.add_command(_command)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--vo", default="gilda", show_default=True, help="Creates /grid/<VO>.")
@click.option("--site", default="local", show_default=True, help="This machine's site.")
@click.option("--se", "se_name", default="local", show_default=True, help="Name of the local SE.")
@click.option("--force", is_flag=True, help="Replace an existing configuration file.")
@pass_state
def init(state: _State, directory: Path, vo: str, site: str, se_name: str, force: bool) -> None:
    """Create a grid in DIRECTORY: configuration, catalog and one local SE."""
    directory = directory.absolute()
    # Never the system-wide file: init makes a grid of the user's own.
    path = config_path(state.config_file, system=False)
    se_root = directory / "se" / se_name
    document = {
        "catalog": {"url": f"sqlite:///{directory / 'catalog.db'}"},
        "site": {"name": site},
        "storage": {"default_se": se_name, "protocols": ["file"]},
        "se": {
            se_name: {
                "site": site,
                "surl_prefix": f"srm://{se_name}.{site}/grid",
                "root": str(se_root),
            }
        },
        "mount": {"root": "/grid"},
    }
    write_config(path, document, overwrite=force)
    se_root.mkdir(parents=True, exist_ok=True)
    state.config_file = str(path)
    # The creator of a new catalog administers it: the VO directory is made
    # by the superuser and handed to the user, as an LFC manager would.
    identity = state.config.identity
    admin = state.grid.as_identity(SUPERUSER)
    admin.makedirs("/grid", 0o755, exist_ok=True)
    admin.makedirs(f"/grid/{vo}", 0o775, exist_ok=True)
    admin.chown(f"/grid/{vo}", identity.user, identity.group)
    click.echo(f"configuration: {path}")
    click.echo(f"catalog:       {state.config.catalog_url}")
    click.echo(f"local SE:      {se_name} at {se_root}")
    click.echo(f"namespace:     /grid/{vo}")


@cli.group()
def se() -> None:
    """Storage elements."""


@se.command("list")
@pass_state
def se_list(state: _State) -> None:
    """List the configured storage elements."""
    rows = [("NAME", "SITE", "ACCESS", "SURL PREFIX", "TURL PREFIXES")]
    for element in state.config.ses:
        access = ("r" if element.readable else "-") + ("w" if element.writable else "-")
        turls = " ".join(f"{prefix}" for prefix in element.protocols.values())
        rows.append((element.name, element.site, access, element.surl_prefix, turls))
    _print_table(rows)


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
    state: _State,
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
    spec: dict[str, object] = {
        "site": site,
        "surl_prefix": surl_prefix or f"srm://{name}.{site}/grid",
        "write": not read_only,
        "protocols": dict(_pairs(protocols, "--protocol")),
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
    add_se_to_config(path, name, spec)
    for directory in (root, tape):
        if directory:
            directory.absolute().mkdir(parents=True, exist_ok=True)
    where = root.absolute() if root else ", ".join(spec["protocols"].values())  # type: ignore[attr-defined]
    click.echo(f"added storage element {name} ({site}) at {where}")


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
def se_space(state: _State) -> None:
    """Show each SE's space tokens: quota, bytes used by registered replicas, free."""
    rows = [("SE", "TOKEN", "QUOTA", "USED", "FREE")]
    for element in state.config.ses:
        for token, quota in sorted(element.space_tokens.items()):
            used = state.grid.space_used(element.name, token)
            rows.append((element.name, token, str(quota), str(used), str(max(quota - used, 0))))
    _print_table(rows)


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
def se_clean(state: _State, name: str, older_than_s: float, dry_run: bool) -> None:
    """Delete what no replica names on an SE: partial uploads and unregistered copies."""
    for dark in sweep(state.grid, name, older_than_s=older_than_s, delete=not dry_run):
        kind = "partial upload" if dark.partial else "unregistered copy"
        click.echo(f"{'would delete' if dry_run else 'deleted'} {kind} {dark.surl} ({dark.size} B)")


@se.command("rm")
@click.argument("name")
@pass_state
def se_rm(state: _State, name: str) -> None:
    """Remove a storage element from the configuration (its replicas stay registered)."""
    path = state.config.path
    if path is None:
        raise ConfigError("no configuration file to change: run 'gridfs init' first")
    remove_se_from_config(path, name)
    click.echo(f"removed storage element {name} from {path}")


@se.command("status")
@pass_state
def se_status(state: _State) -> None:
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
    _print_table(rows)
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


@cli.command()
@click.argument("lfn")
@click.option(
    "-p", "--parents", is_flag=True, help="Create missing parents; no error if it exists."
)
@pass_state
def mkdir(state: _State, lfn: str, parents: bool) -> None:
    """Create a catalog directory."""
    if parents:
        state.grid.makedirs(lfn, exist_ok=True)
    else:
        state.grid.mkdir(lfn)


@cli.command()
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("lfn")
@click.option("-d", "--se", "se_name", help="Destination SE (default: the configured default).")
@click.option("-g", "--guid", help="GUID to give the new file (default: a new one).")
@click.option("-s", "--space-token", help="The SE's reserved space to write into.")
@pass_state
def cr(
    state: _State,
    source: Path,
    lfn: str,
    se_name: str | None,
    guid: str | None,
    space_token: str | None,
) -> None:
    """Copy a local file to an SE and register it as LFN; prints its GUID."""
    entry = state.grid.cr(source, lfn, se_name, guid=guid, space_token=space_token)
    click.echo(f"guid:{entry.guid}")


@cli.command("bring-online")
@click.argument("lfn")
@click.option(
    "--pin",
    "pin_s",
    type=float,
    default=3600,
    show_default=True,
    help="Pin lifetime of the staged copy, in seconds.",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=3600,
    show_default=True,
    help="Give up waiting after this many seconds (the request is aborted).",
)
@pass_state
def bring_online(state: _State, lfn: str, pin_s: float, timeout_s: float) -> None:
    """Stage a file from tape so that it can be read; waits for the recall."""
    request = state.grid.bring_online(lfn, pin_s)
    if request is None:
        click.echo(f"{lfn}: online")
        return
    outcome = request.wait(timeout_s)
    if outcome is RequestState.QUEUED:
        state.grid.abort_stage(request)
        raise GridError(f"{lfn}: not staged within {timeout_s:.0f} s; request aborted", lfn)
    if outcome is not RequestState.DONE:
        raise GridError(f"{lfn}: staging {outcome.value.lower()}: {request.error}", lfn)
    click.echo(f"{lfn}: staged, pinned for {pin_s:.0f} s")


cli.add_command(bring_online, "bringonline")  # gfal-style name


@cli.command()
@click.argument("lfn")
@click.argument("protocols", nargs=-1)
@pass_state
def gt(state: _State, lfn: str, protocols: tuple[str, ...]) -> None:
    """Print a TURL for each readable replica (protocols: most preferred first)."""
    turls = state.grid.turls(lfn, protocols or None)
    if not turls:
        raise GridError(f"{lfn}: no replica is online with a protocol asked for", lfn)
    for turl in turls.values():
        click.echo(turl)


@cli.command()
@click.argument("lfn")
@pass_state
def locality(state: _State, lfn: str) -> None:
    """Show where each replica is: ONLINE, NEARLINE, ONLINE_AND_NEARLINE (never stages)."""
    for surl, place in state.grid.locality(lfn).items():
        click.echo(f"{place.value:<20} {surl}")


@cli.command()
@click.argument("lfn")
@pass_state
def release(state: _State, lfn: str) -> None:
    """Unpin the staged copies of a file (the tape copies stay)."""
    state.grid.release(lfn)


@cli.command()
@click.argument("lfn", shell_complete=complete_lfn)
@click.option("--json", "as_json", is_flag=True, help="Print the replicas as JSON.")
@pass_state
def lr(state: _State, lfn: str, as_json: bool) -> None:
    """List the replicas (SURLs) of a file."""
    if as_json:
        echo_json([replica_record(r) for r in state.grid.replicas(lfn)])
        return
    for surl in state.grid.lr(lfn):
        click.echo(surl)


@cli.command("ls")
@click.argument("lfns", nargs=-1, shell_complete=complete_lfn)
@click.option("-l", "long", is_flag=True, help="Long listing.")
@click.option("-d", "directory", is_flag=True, help="List directories themselves.")
@click.option("-R", "recursive", is_flag=True, help="List subdirectories too.")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as one JSON array.")
@click.pass_context
def ls(
    ctx: click.Context,
    lfns: tuple[str, ...],
    long: bool,
    directory: bool,
    recursive: bool,
    as_json: bool,
) -> None:
    """List directories (default: the mount root, /grid).

    As ls(1) does: a link given on the command line is followed if it leads to
    a directory (unless -d); a bad argument is reported and the rest listed.
    """
    state: _State = ctx.obj
    targets = lfns or (state.config.mount_root,)
    lister = _Lister(state.grid, long=long, header=len(targets) > 1 or recursive, as_json=as_json)
    failed = False
    for lfn in targets:
        try:
            lister.show(lfn, directory=directory, recursive=recursive)
        except OSError as exc:
            click.echo(f"gridfs: {exc}", err=True)
            failed = True
    if as_json:
        echo_json(lister.records)
    if failed or lister.failed:
        ctx.exit(1)


class _Lister:
    """ls output: entries, or directories with a header each when there are several."""

    def __init__(self, grid: Grid, *, long: bool, header: bool, as_json: bool = False) -> None:
        self.grid = grid
        self.long = long
        self.header = header
        self.first = True
        self.failed = False
        self.as_json = as_json
        self.records: list[dict[str, object]] = []  # with as_json: what is listed, not printed

    def show(self, lfn: str, *, directory: bool, recursive: bool) -> None:
        entry = self.grid.lstat(lfn)
        if entry.is_symlink() and not directory:
            with contextlib.suppress(FileNotFoundError):  # a dangling link lists as itself
                target = self.grid.stat(lfn)
                entry = target if target.is_dir() else entry
        if not entry.is_dir() or directory:
            if self.as_json:
                self.records.append(stat_record(entry, lfn))
                return
            click.echo(_long_line(entry, lfn) if self.long else lfn)
            self.first = False
            return
        self._directory(lfn, recursive=recursive)

    def _directory(self, lfn: str, *, recursive: bool) -> None:
        if self.header and not self.as_json:
            click.echo(f"{lfn}:" if self.first else f"\n{lfn}:")
        self.first = False
        subdirectories = []
        for child in self.grid.scandir(lfn):
            if self.as_json:
                self.records.append(stat_record(child, f"{lfn.rstrip('/')}/{child.name}"))
            else:
                click.echo(_long_line(child) if self.long else child.name)
            if recursive and child.is_dir():
                subdirectories.append(f"{lfn.rstrip('/')}/{child.name}")
        for sub in subdirectories:
            try:
                self._directory(sub, recursive=True)
            except OSError as exc:  # an unreadable subdirectory does not stop the rest
                click.echo(f"gridfs: {exc}", err=True)
                self.failed = True


@cli.command("stat")
@click.argument("lfn", shell_complete=complete_lfn)
@click.option("--json", "as_json", is_flag=True, help="Print the entry (and replicas) as JSON.")
@pass_state
def stat_(state: _State, lfn: str, as_json: bool) -> None:
    """Show everything the catalog knows of an entry."""
    entry = state.grid.lstat(lfn)
    if as_json:
        record = stat_record(entry, lfn)
        if entry.is_file():
            record["replicas"] = [replica_record(r) for r in state.grid.replicas(lfn)]
        echo_json(record)
        return
    rows = [
        ("LFN", lfn),
        ("type", entry.kind.name.lower()),
        ("mode", f"{_stat.filemode(entry.st_mode)} ({entry.mode:04o})"),
        ("owner", f"{entry.owner}:{entry.group}"),
        ("size", str(entry.size)),
        ("modified", _time(entry.mtime_ns)),
        ("changed", _time(entry.ctime_ns)),
    ]
    if entry.is_file():
        rows += [
            ("GUID", str(entry.guid)),
            ("checksum", f"{entry.checksum_type}:{entry.checksum}"),
            ("status", str(entry.status)),
            ("replicas", str(len(state.grid.lr(lfn)))),
        ]
    if entry.is_symlink():
        rows.append(("target", str(entry.target)))
    if entry.comment is not None:
        rows.append(("comment", entry.comment))
    for key, value in rows:
        click.echo(f"{key + ':':<10} {value}")


@cli.command()
@click.argument("lfns", nargs=-1, required=True)
@click.option("-r", "recursive", is_flag=True, help="Remove directories and their contents.")
@pass_state
def rm(state: _State, lfns: tuple[str, ...], recursive: bool) -> None:
    """Remove files and aliases (deleting the files' replicas from their SEs)."""
    for lfn in lfns:
        if recursive and state.grid.lstat(lfn).is_dir():
            _remove_tree(state.grid, lfn)
        else:
            state.grid.unlink(lfn)


def _remove_tree(grid: Grid, lfn: str) -> None:
    # Children are listed first, then removed: a listing is not held open while it changes.
    children = [(child.name, child.is_dir()) for child in grid.scandir(lfn)]
    for name, is_dir in children:
        path = f"{lfn.rstrip('/')}/{name}"
        if is_dir:
            _remove_tree(grid, path)
        else:
            grid.unlink(path)
    grid.rmdir(lfn)


@cli.command()
@click.argument("lfns", nargs=-1, required=True)
@pass_state
def rmdir(state: _State, lfns: tuple[str, ...]) -> None:
    """Remove empty directories."""
    for lfn in lfns:
        state.grid.rmdir(lfn)


@cli.command()
@click.argument("source")
@click.argument("destination")
@pass_state
def mv(state: _State, source: str, destination: str) -> None:
    """Rename or move an entry (into DESTINATION if it is a directory)."""
    with contextlib.suppress(FileNotFoundError):
        if state.grid.stat(destination).is_dir():
            destination = f"{destination.rstrip('/')}/{source.rstrip('/').rsplit('/', 1)[-1]}"
    state.grid.rename(source, destination)


@cli.command()
@click.option("-s", "symbolic", is_flag=True, required=True, help="Symbolic (the only kind).")
@click.argument("target")
@click.argument("lfn")
@pass_state
def ln(state: _State, symbolic: bool, target: str, lfn: str) -> None:
    """Make LFN a symbolic link to TARGET."""
    state.grid.symlink(target, lfn)


@cli.command()
@click.argument("mode")
@click.argument("lfns", nargs=-1, required=True)
@pass_state
def chmod(state: _State, mode: str, lfns: tuple[str, ...]) -> None:
    """Change permission bits (octal MODE, e.g. 755 or 1777)."""
    try:
        bits = int(mode, 8)
    except ValueError:
        raise click.BadParameter(f"{mode!r} is not an octal mode", param_hint="MODE") from None
    for lfn in lfns:
        state.grid.chmod(lfn, bits)


@cli.command()
@click.argument("owner")
@click.argument("lfns", nargs=-1, required=True)
@pass_state
def chown(state: _State, owner: str, lfns: tuple[str, ...]) -> None:
    """Change owner and/or group: OWNER, OWNER:GROUP or :GROUP."""
    user, _, group = owner.partition(":")
    for lfn in lfns:
        state.grid.chown(lfn, user or None, group or None)


@cli.command()
@click.argument("lfn")
@pass_state
def getacl(state: _State, lfn: str) -> None:
    """Show the ACL of an entry, as getfacl does."""
    entry = state.grid.lstat(lfn)
    click.echo(f"# file: {lfn}\n# owner: {entry.owner}\n# group: {entry.group}")
    click.echo(format_acl(state.grid.getacl(lfn)), nl=False)


@cli.command()
@click.option("-m", "modify", is_flag=True, help="Add or change the given entries only.")
@click.argument("acl")
@click.argument("lfn")
@pass_state
def setacl(state: _State, modify: bool, acl: str, lfn: str) -> None:
    """Set the ACL of an entry: "user::rwx,user:bob:r-x,group::r-x,other::---".

    Without -m the given entries replace the whole ACL (default: entries
    included); with -m they are merged into it.
    """
    entries = parse_acl(acl)
    if modify:
        given = {(e.default, e.tag, e.qualifier) for e in entries}
        kept = [e for e in state.grid.getacl(lfn) if (e.default, e.tag, e.qualifier) not in given]
        entries = kept + entries
    state.grid.setacl(lfn, entries)


@cli.command()
@click.argument("lfn")
@click.argument("comment")
@pass_state
def setcomment(state: _State, lfn: str, comment: str) -> None:
    """Attach a comment to an entry."""
    state.grid.set_comment(lfn, comment)


@cli.command()
@click.argument("lfn")
@pass_state
def delcomment(state: _State, lfn: str) -> None:
    """Delete the comment of an entry."""
    state.grid.set_comment(lfn, None)


@cli.command()
@click.argument("lfn")
@pass_state
def lg(state: _State, lfn: str) -> None:
    """Print the GUID of a file."""
    click.echo(f"guid:{state.grid.lg(lfn)}")


@cli.command()
@click.argument("lfn_or_guid")
@pass_state
def la(state: _State, lfn_or_guid: str) -> None:
    """Print the LFNs of a file (primary first, then aliases); give an LFN or a GUID."""
    for lfn in state.grid.la(lfn_or_guid.removeprefix("guid:")):
        click.echo(lfn)


@cli.command()
@click.argument("lfn")
@click.argument("alias")
@pass_state
def aa(state: _State, lfn: str, alias: str) -> None:
    """Add ALIAS for the file LFN."""
    state.grid.aa(lfn, alias)


@cli.command()
@click.argument("aliases", nargs=-1, required=True)
@pass_state
def ra(state: _State, aliases: tuple[str, ...]) -> None:
    """Remove aliases."""
    for alias in aliases:
        state.grid.ra(alias)


@cli.command()
@click.argument("surl")
@click.argument("lfn")
@click.option("-d", "--se", "se_name", required=True, help="The SE that holds the copy.")
@pass_state
def rf(state: _State, surl: str, lfn: str, se_name: str) -> None:
    """Register an existing copy SURL as a replica of LFN."""
    state.grid.rf(surl, lfn, se_name)


@cli.command()
@click.argument("surl")
@click.argument("lfn")
@pass_state
def uf(state: _State, surl: str, lfn: str) -> None:
    """Unregister the replica SURL of LFN (the stored copy stays)."""
    state.grid.uf(surl, lfn)


@cli.command()
@click.argument("lfn")
@click.argument("attribute", required=False)
@click.option("-x", "--remove", "remove", is_flag=True, help="Remove ATTRIBUTE.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_state
def xattr(state: _State, lfn: str, attribute: str | None, remove: bool, as_json: bool) -> None:
    """List, get (ATTRIBUTE), set (ATTRIBUTE=VALUE) or remove (-x) extended attributes.

    As gfal-xattr: user.guid, user.replicas (+SURL / -SURL), user.status (ONLINE
    stages), user.checksum, user.chksumtype, user.comment, user.grid.default_se.
    """
    grid = state.grid
    if attribute is not None and "=" in attribute:
        if remove:
            raise click.UsageError("-x takes a name, not NAME=VALUE")
        name, value = attribute.split("=", 1)
        grid.setxattr(lfn, name, value.encode())
        return
    if remove:
        if attribute is None:
            raise click.UsageError("-x needs the ATTRIBUTE to remove")
        grid.removexattr(lfn, attribute)
        return
    names = [attribute] if attribute is not None else grid.listxattr(lfn)
    values = {name: grid.getxattr(lfn, name).decode(errors="replace") for name in names}
    if as_json:
        echo_json(values)
    elif attribute is not None:
        click.echo(values[attribute])
    else:
        for name, value in values.items():
            click.echo(f"{name} = {value}")


@cli.command()
@click.argument("lfns", nargs=-1, required=True)
@pass_state
def cat(state: _State, lfns: tuple[str, ...]) -> None:
    """Write files to standard output."""
    out = sys.stdout.buffer
    for lfn in lfns:
        with state.grid.open(lfn, "rb", buffering=0) as stream:
            while chunk := stream.read(_CHUNK):
                out.write(chunk)
    out.flush()


@cli.command("mount")
@click.argument("mountpoint", type=click.Path(path_type=Path))
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

    state: _State = ctx.obj
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


@cli.command("umount")
@click.argument("mountpoint", type=click.Path(path_type=Path))
def umount(mountpoint: Path) -> None:
    """Unmount a gridfs mount."""
    from gridfs.fuse import unmount  # noqa: PLC0415 - pyfuse3 is needed only here

    unmount(mountpoint)


def _long_line(entry: Stat, name: str | None = None) -> str:
    line = (
        f"{_stat.filemode(entry.st_mode)} 1 {entry.owner:<8} {entry.group:<8} "
        f"{entry.size:>12} {_time(entry.mtime_ns)[:16]} {name or entry.name}"
    )
    return f"{line} -> {entry.target}" if entry.is_symlink() else line


def _time(ns: int) -> str:
    return datetime.datetime.fromtimestamp(ns / 1e9).astimezone().isoformat(" ", "seconds")


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (the console script exits with it)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        result = cli.main(args=argv, prog_name="gridfs", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("gridfs: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (`gridfs cat ... | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if debug:
            raise
        message = str(exc) if isinstance(exc, GridError) else _os_message(exc)
        click.echo(f"gridfs: {message}", err=True)
        return 1
    except ImportError as exc:
        if exc.name not in ("pyfuse3", "trio"):
            raise
        click.echo(f"gridfs: mounting needs {exc.name}: pip install 'gridfs[fuse]'", err=True)
        return 1
    return result if isinstance(result, int) else 0


def _os_message(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


from gridfs.cli.meta import meta  # noqa: E402 - its own module; registered here, after cli exists

cli.add_command(meta)

if __name__ == "__main__":
    sys.exit(main())
