"""The ``gridfs`` command line: the group, the registration of every verb, and ``main()``.

Each family of verbs is a module exporting ``COMMANDS`` (a group such as
``se`` or ``meta`` is one entry); this module adds them all in one loop. The
families depend only on :mod:`gridfs.cli.state`, never on this module, so
there is no import circle.

An expected failure is one line on stderr and exit status 1; a usage error
exits with 2; no traceback reaches the user unless ``--debug`` asks for it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

import click

from gridfs.cli import (
    meta,
    mount,
    namespace,
    replicas,
    request,
    se,
    service,
    setup,
    tape,
    transfer,
    transfer_jobs,
)
from gridfs.cli.output import error_message
from gridfs.cli.state import State

__all__ = ["FAMILIES", "cli", "main"]

FAMILIES = (
    setup,
    namespace,
    replicas,
    tape,
    se,
    mount,
    transfer,
    transfer_jobs,
    request,
    meta,
    service,
)
"""The modules of verbs, each registering its ``COMMANDS`` on :func:`cli`."""

_SIGPIPE_STATUS = 128 + signal.SIGPIPE
"""What a shell sees of coreutils killed by a closed pipe (``seq 9999 | head -1``)."""


class _ReaderGone(Exception):
    """Standard output's reader went away: the command ends quietly (see :func:`main`)."""


class _Group(click.Group):
    """The ``gridfs`` group: a closed pipe passes click by, which would exit 1 on it."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise _ReaderGone from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
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
    state = State(config_file)
    ctx.obj = state
    ctx.call_on_close(state.close)


for _family in FAMILIES:
    for _command in _family.COMMANDS:
        cli.add_command(_command)


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
    except _ReaderGone:
        # `gridfs ls -R | head`: not an error of ours. What is still buffered for the
        # closed pipe goes to /dev/null, so that the flush at exit does not fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _SIGPIPE_STATUS
    except OSError as exc:
        if debug:
            raise
        click.echo(f"gridfs: {error_message(exc)}", err=True)
        return 1
    except ImportError as exc:
        if exc.name not in ("pyfuse3", "trio"):
            raise
        click.echo(f"gridfs: mounting needs {exc.name}: pip install 'gridfs[fuse]'", err=True)
        return 1
    return result if isinstance(result, int) else 0
