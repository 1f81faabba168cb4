"""The namespace verbs: ls, stat, mkdir, rm, mv, ln, chmod, ACLs, comments, xattr, cat."""

from __future__ import annotations

import contextlib
import stat as _stat
import sys

import click

from gridfs.cli.complete import complete_lfn
from gridfs.cli.jsonout import echo_json, replica_record, stat_record
from gridfs.cli.output import local_time, long_line
from gridfs.cli.state import State, pass_state
from gridfs.gfal import Grid, format_acl, parse_acl

__all__ = ["COMMANDS"]

_CHUNK = 1 << 20


@click.command()
@click.argument("lfn")
@click.option(
    "-p", "--parents", is_flag=True, help="Create missing parents; no error if it exists."
)
@pass_state
def mkdir(state: State, lfn: str, parents: bool) -> None:
    """Create a catalog directory."""
    if parents:
        state.grid.makedirs(lfn, exist_ok=True)
    else:
        state.grid.mkdir(lfn)


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
            try:
                self._directory(sub, recursive=True)
            except OSError as exc:  # an unreadable subdirectory does not stop the rest
                click.echo(f"gridfs: {exc}", err=True)
                self.failed = True


@click.command("stat")
@click.argument("lfn", shell_complete=complete_lfn)
@click.option("--json", "as_json", is_flag=True, help="Print the entry (and replicas) as JSON.")
@pass_state
def stat_(state: State, lfn: str, as_json: bool) -> None:
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
        ("modified", local_time(entry.mtime_ns)),
        ("changed", local_time(entry.ctime_ns)),
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


@click.command()
@click.argument("lfns", nargs=-1, required=True)
@click.option("-r", "recursive", is_flag=True, help="Remove directories and their contents.")
@pass_state
def rm(state: State, lfns: tuple[str, ...], recursive: bool) -> None:
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


@click.command()
@click.argument("lfns", nargs=-1, required=True)
@pass_state
def rmdir(state: State, lfns: tuple[str, ...]) -> None:
    """Remove empty directories."""
    for lfn in lfns:
        state.grid.rmdir(lfn)


@click.command()
@click.argument("source")
@click.argument("destination")
@pass_state
def mv(state: State, source: str, destination: str) -> None:
    """Rename or move an entry (into DESTINATION if it is a directory)."""
    with contextlib.suppress(FileNotFoundError):
        if state.grid.stat(destination).is_dir():
            destination = f"{destination.rstrip('/')}/{source.rstrip('/').rsplit('/', 1)[-1]}"
    state.grid.rename(source, destination)


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
    for lfn in lfns:
        state.grid.chmod(lfn, bits)


@click.command()
@click.argument("owner")
@click.argument("lfns", nargs=-1, required=True)
@pass_state
def chown(state: State, owner: str, lfns: tuple[str, ...]) -> None:
    """Change owner and/or group: OWNER, OWNER:GROUP or :GROUP."""
    user, _, group = owner.partition(":")
    for lfn in lfns:
        state.grid.chown(lfn, user or None, group or None)


@click.command()
@click.argument("lfn")
@pass_state
def getacl(state: State, lfn: str) -> None:
    """Show the ACL of an entry, as getfacl does."""
    entry = state.grid.lstat(lfn)
    click.echo(f"# file: {lfn}\n# owner: {entry.owner}\n# group: {entry.group}")
    click.echo(format_acl(state.grid.getacl(lfn)), nl=False)


@click.command()
@click.option("-m", "modify", is_flag=True, help="Add or change the given entries only.")
@click.argument("acl")
@click.argument("lfn")
@pass_state
def setacl(state: State, modify: bool, acl: str, lfn: str) -> None:
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
    names = [attribute] if attribute is not None else grid.listxattr(lfn)
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
    """Write files to standard output."""
    out = sys.stdout.buffer
    for lfn in lfns:
        with state.grid.open(lfn, "rb", buffering=0) as stream:
            while chunk := stream.read(_CHUNK):
                out.write(chunk)
    out.flush()


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
