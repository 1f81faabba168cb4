"""The namespace verbs: ls, stat, mkdir, rm, mv, ln, chmod, ACLs, comments, xattr, cat."""

from __future__ import annotations

import contextlib
import stat as _stat
import sys

import click

from gridfs.cli.complete import complete_lfn
from gridfs.cli.jsonout import echo_json, replica_record, stat_record
from gridfs.cli.output import Failures, device_numbers, each_argument, local_time, long_line
from gridfs.cli.state import State, pass_state
from gridfs.errors import NotADirectory
from gridfs.gfal import AclEdit, Grid, format_acl, parse_acl, parse_acl_keys

__all__ = ["COMMANDS"]

_CHUNK = 1 << 20


@click.command()
@click.argument("lfns", nargs=-1, required=True)
@click.option(
    "-p", "--parents", is_flag=True, help="Create missing parents; no error if it exists."
)
@pass_state
def mkdir(state: State, lfns: tuple[str, ...], parents: bool) -> None:
    """Create catalog directories."""
    grid = state.grid
    each_argument(lfns, (lambda lfn: grid.makedirs(lfn, exist_ok=True)) if parents else grid.mkdir)


@click.command("ls")
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
    state: State = ctx.obj
    targets = lfns or (state.config.mount_root,)
    failures = Failures()
    lister = _Lister(
        state.grid, failures, long=long, header=len(targets) > 1 or recursive, as_json=as_json
    )
    for lfn in targets:
        with failures.reported():
            lister.show(lfn, directory=directory, recursive=recursive)
    if as_json:
        echo_json(lister.records)
    failures.exit()


class _Lister:
    """ls output: entries, or directories with a header each when there are several."""

    def __init__(
        self, grid: Grid, failures: Failures, *, long: bool, header: bool, as_json: bool = False
    ) -> None:
        self.grid = grid
        self.failures = failures
        self.long = long
        self.header = header
        self.first = True
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
            click.echo(long_line(entry, lfn) if self.long else lfn)
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
                click.echo(long_line(child) if self.long else child.name)
            if recursive and child.is_dir():
                subdirectories.append(f"{lfn.rstrip('/')}/{child.name}")
        for sub in subdirectories:
            with self.failures.reported():  # an unreadable subdirectory does not stop the rest
                self._directory(sub, recursive=True)


@click.command("stat")
@click.argument("lfns", nargs=-1, required=True, shell_complete=complete_lfn)
@click.option("--json", "as_json", is_flag=True, help="Print the entry (and replicas) as JSON.")
@pass_state
def stat_(state: State, lfns: tuple[str, ...], as_json: bool) -> None:
    """Show everything the catalog knows of entries.

    With --json: one object, or with several LFNs an array of them.
    """
    grid = state.grid
    if not as_json:
        each_argument(lfns, lambda lfn: _show_stat(grid, lfn))
        return
    records: list[dict[str, object]] = []

    def record(lfn: str) -> None:
        entry = grid.lstat(lfn)
        fields = stat_record(entry, lfn)
        if entry.is_file():
            fields["replicas"] = [replica_record(r) for r in grid.replicas(lfn)]
        records.append(fields)

    try:
        each_argument(lfns, record)
    finally:
        echo_json(records[0] if len(lfns) == 1 and records else records)


def _show_stat(grid: Grid, lfn: str) -> None:
    """The rows of ``gridfs stat`` for one entry."""
    entry = grid.lstat(lfn)
    rows = [
        ("LFN", lfn),
        ("type", entry.kind.name.lower()),
        ("mode", f"{_stat.filemode(entry.st_mode)} ({entry.mode:04o})"),
        ("owner", f"{entry.owner}:{entry.group}"),
        ("device", device_numbers(entry)) if entry.kind.is_device else ("size", str(entry.size)),
        ("modified", local_time(entry.mtime_ns)),
        ("changed", local_time(entry.ctime_ns)),
    ]
    if entry.is_file():
        rows += [
            ("GUID", str(entry.guid)),
            # A file being written has no checksum until its first version is stored.
            ("checksum", f"{entry.checksum_type}:{entry.checksum}" if entry.checksum else "none"),
            ("status", str(entry.status)),
            ("replicas", _replica_count(grid, lfn)),
        ]
    if entry.is_symlink():
        rows.append(("target", str(entry.target)))
    if entry.comment is not None:
        rows.append(("comment", entry.comment))
    for key, value in rows:
        click.echo(f"{key + ':':<10} {value}")


def _replica_count(grid: Grid, lfn: str) -> str:
    """How many replicas hold the file's content, and which were found bad."""
    bad = [r.surl for r in grid.replicas(lfn) if r.status == "bad"]
    count = str(len(grid.lr(lfn)))
    return f"{count} (and {len(bad)} bad: {', '.join(bad)})" if bad else count


@click.command()
@click.argument("lfns", nargs=-1, required=True)
@click.option("-r", "recursive", is_flag=True, help="Remove directories and their contents.")
@pass_state
def rm(state: State, lfns: tuple[str, ...], recursive: bool) -> None:
    """Remove files and aliases (deleting the files' replicas from their SEs)."""
    grid = state.grid

    def remove(lfn: str) -> None:
        if recursive and grid.lstat(lfn).is_dir():
            _remove_tree(grid, lfn)
        else:
            grid.unlink(lfn)

    each_argument(lfns, remove)


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


@click.command()
@click.argument("lfns", nargs=-1, required=True)
@pass_state
def rmdir(state: State, lfns: tuple[str, ...]) -> None:
    """Remove empty directories."""
    each_argument(lfns, state.grid.rmdir)


@click.command()
@click.argument("sources", nargs=-1, required=True)
@click.argument("destination")
@pass_state
def mv(state: State, sources: tuple[str, ...], destination: str) -> None:
    """Rename or move entries (into DESTINATION if it is a directory, as mv does)."""
    grid = state.grid
    into = False
    with contextlib.suppress(FileNotFoundError):
        into = grid.stat(destination).is_dir()
    if len(sources) > 1 and not into:
        raise NotADirectory(f"not a directory: {destination}", destination)

    def move(source: str) -> None:
        name = source.rstrip("/").rsplit("/", 1)[-1]
        grid.rename(source, f"{destination.rstrip('/')}/{name}" if into else destination)

    each_argument(sources, move)


@click.command()
@click.option("-s", "symbolic", is_flag=True, required=True, help="Symbolic (the only kind).")
@click.argument("target")
@click.argument("lfn")
@pass_state
def ln(state: State, symbolic: bool, target: str, lfn: str) -> None:
    """Make LFN a symbolic link to TARGET."""
    state.grid.symlink(target, lfn)


@click.command()
@click.argument("mode")
@click.argument("lfns", nargs=-1, required=True)
@pass_state
def chmod(state: State, mode: str, lfns: tuple[str, ...]) -> None:
    """Change permission bits (octal MODE, e.g. 755 or 1777)."""
    try:
        bits = int(mode, 8)
    except ValueError:
        raise click.BadParameter(f"{mode!r} is not an octal mode", param_hint="MODE") from None
    each_argument(lfns, lambda lfn: state.grid.chmod(lfn, bits))


@click.command()
@click.argument("owner")
@click.argument("lfns", nargs=-1, required=True)
@pass_state
def chown(state: State, owner: str, lfns: tuple[str, ...]) -> None:
    """Change owner and/or group: OWNER, OWNER:GROUP or :GROUP."""
    user, _, group = owner.partition(":")
    each_argument(lfns, lambda lfn: state.grid.chown(lfn, user or None, group or None))


@click.command()
@click.argument("lfn")
@pass_state
def getacl(state: State, lfn: str) -> None:
    """Show the ACL of an entry, as getfacl does."""
    entry = state.grid.lstat(lfn)
    click.echo(f"# file: {lfn}\n# owner: {entry.owner}\n# group: {entry.group}")
    click.echo(format_acl(state.grid.getacl(lfn)), nl=False)


@click.command()
@click.option("-m", "modify", metavar="ACL", help="Add or change these entries; masks follow.")
@click.option("-x", "remove", metavar="ACL", help="Remove these entries (user:bob,d:group:atlas).")
@click.option("-b", "strip", is_flag=True, help="Remove every extended entry, defaults too.")
@click.option("-k", "drop_default", is_flag=True, help="Remove the default ACL.")
@click.argument("arguments", nargs=-1, required=True, metavar="[ACL] LFN...")
@pass_state
def setacl(
    state: State,
    modify: str | None,
    remove: str | None,
    strip: bool,
    drop_default: bool,
    arguments: tuple[str, ...],
) -> None:
    """Set the ACL of entries, as setfacl does: "user::rwx,user:bob:r-x,group::r-x,other::---".

    Without options ACL replaces the whole ACL (default: entries included);
    -b, -k, -x and -m change it, in that order, and recompute the masks as
    setfacl does (unless -m gives one). Entries may be short: u:bob:rx,
    g:atlas:5, d:u:bob:rw (a default ACL gets its base entries from the
    access ACL).
    """
    if modify is None and remove is None and not strip and not drop_default:
        if len(arguments) < 2:
            raise click.UsageError("give an ACL and an LFN, or -m/-x/-b/-k")
        entries = parse_acl(arguments[0])
        for lfn in arguments[1:]:
            state.grid.setacl(lfn, entries)
        return
    edit = AclEdit(
        modify=tuple(parse_acl(modify or "")),
        remove=tuple(parse_acl_keys(remove or "")),
        strip=strip,
        drop_default=drop_default,
    )
    for lfn in arguments:
        state.grid.edit_acl(lfn, edit)


@click.command()
@click.argument("lfn")
@click.argument("comment")
@pass_state
def setcomment(state: State, lfn: str, comment: str) -> None:
    """Attach a comment to an entry."""
    state.grid.set_comment(lfn, comment)


@click.command()
@click.argument("lfn")
@pass_state
def delcomment(state: State, lfn: str) -> None:
    """Delete the comment of an entry."""
    state.grid.set_comment(lfn, None)


@click.command()
@click.argument("lfn")
@click.argument("attribute", required=False)
@click.option("-x", "--remove", "remove", is_flag=True, help="Remove ATTRIBUTE.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_state
def xattr(state: State, lfn: str, attribute: str | None, remove: bool, as_json: bool) -> None:
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
    names = [attribute] if attribute is not None else grid.listxattr(lfn, every=True)
    values = {name: grid.getxattr(lfn, name).decode(errors="replace") for name in names}
    if as_json:
        echo_json(values)
    elif attribute is not None:
        click.echo(values[attribute])
    else:
        for name, value in values.items():
            click.echo(f"{name} = {value}")


@click.command()
@click.argument("lfns", nargs=-1, required=True)
@pass_state
def cat(state: State, lfns: tuple[str, ...]) -> None:
    """Write files to standard output (a bad one is reported and the rest written, as cat does)."""
    out = sys.stdout.buffer

    def write(lfn: str) -> None:
        with state.grid.open(lfn, "rb", buffering=0) as stream:
            while chunk := stream.read(_CHUNK):
                out.write(chunk)
        out.flush()  # before a later file's error line

    each_argument(lfns, write)


COMMANDS: list[click.Command] = [
    ls,
    stat_,
    mkdir,
    rm,
    rmdir,
    mv,
    ln,
    chmod,
    chown,
    getacl,
    setacl,
    setcomment,
    delcomment,
    xattr,
    cat,
]
