"""``gridfs serve`` (the catalog service) and ``gridfs whoami`` (who a catalog takes us for)."""

from __future__ import annotations

import click

from gridfs.cli.jsonout import echo_json
from gridfs.cli.state import State, pass_state

__all__ = ["COMMANDS"]


@click.command()
@pass_state
def serve(state: State) -> None:
    """Serve the catalog and metadata over HTTPS (the [server] table of the configuration)."""
    try:
        from gridfs.service.server import serve as run  # noqa: PLC0415 - needs uvicorn
        from gridfs.service.settings import load_server_settings  # noqa: PLC0415
    except ImportError as exc:
        raise click.ClickException(f"serving needs pip install 'gridfs[server]' ({exc})") from exc
    run(load_server_settings(state.config_file))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_state
def whoami(state: State, as_json: bool) -> None:
    """The identity, groups and token scopes the catalog grants this user."""
    found = state.grid.whoami()
    if as_json:
        echo_json(found)
        return
    click.echo(f"user:     {found['user']}{' (superuser)' if found['superuser'] else ''}")
    click.echo(f"groups:   {' '.join(found['groups'])}")
    click.echo(f"by:       {found['method']} {found['subject']}")
    scopes = found["scopes"]
    click.echo(f"scopes:   {' '.join(scopes) if scopes is not None else '(none: the ACLs decide)'}")


COMMANDS = [serve, whoami]
