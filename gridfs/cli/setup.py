"""``gridfs init``: a new grid of one's own, or the same one made again.

It writes the configuration file (``DIR/config.toml``, or the ``--config``
file), creates the catalog (the one place, with the API's ``create=True``,
where a catalog is made) and the local SE's area, and leaves the namespace
ready: ``/grid`` and ``/grid/<VO>``, made by the superuser and handed to the
user. ``$GRIDFS_CONFIG`` is not read: it may name another grid.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gridfs.cli.state import State, pass_state
from gridfs.config import config_path, load_config, write_config
from gridfs.gfal import SUPERUSER, Grid, make_private_dirs

__all__ = ["COMMANDS"]


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--vo", default="gilda", show_default=True, help="Creates /grid/<VO>.")
@click.option("--site", default="local", show_default=True, help="This machine's site.")
@click.option("--se", "se_name", default="local", show_default=True, help="Name of the local SE.")
@click.option(
    "--catalog",
    "catalog_url",
    metavar="URL",
    help="The catalog database, e.g. postgresql+psycopg://user@host/db, an existing "
    "database whose catalog schema is made here (default: DIRECTORY/catalog.db, SQLite).",
)
@click.option(
    "--force", is_flag=True, help="Rewrite this grid's configuration file (never another grid's)."
)
@pass_state
def init(
    state: State,
    directory: Path,
    vo: str,
    site: str,
    se_name: str,
    catalog_url: str | None,
    force: bool,
) -> None:
    """Create a grid in DIRECTORY: configuration, catalog and one local SE.

    The configuration goes to DIRECTORY/config.toml unless --config names the file.
    """
    directory = directory.absolute()
    path = Path(state.config_file).absolute() if state.config_file else directory / "config.toml"
    se_root = directory / "se" / se_name
    document = {
        "catalog": {"url": catalog_url or f"sqlite:///{directory / 'catalog.db'}"},
        "site": {"name": site},
        "storage": {"default_se": se_name},
        "se": {
            se_name: {
                "site": site,
                "surl_prefix": f"srm://{se_name}.{site}/grid",
                "root": str(se_root),
            }
        },
        "mount": {"root": "/grid"},
    }
    existed = path.exists()
    write_config(path, document, overwrite=force)
    try:
        config = load_config(path)
        make_private_dirs(se_root)
        with Grid.from_config(config, create=True) as grid:
            # The creator of a new catalog administers it: the VO directory is
            # made by the superuser and handed to the user, as an LFC manager would.
            admin = grid.as_identity(SUPERUSER)
            admin.makedirs("/grid", 0o755, exist_ok=True)
            admin.makedirs(f"/grid/{vo}", 0o775, exist_ok=True)
            admin.chown(f"/grid/{vo}", config.identity.user, config.identity.group)
    except BaseException:
        if not existed:  # a grid that could not be made leaves no configuration behind
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise
    click.echo(f"configuration: {path}")
    click.echo(f"catalog:       {_shown(config.catalog_url)}")
    click.echo(f"local SE:      {se_name} at {se_root}")
    click.echo(f"namespace:     /grid/{vo}")
    if config_path() != path:
        click.echo(f"use it with:   export GRIDFS_CONFIG={path}   (or gridfs --config {path} ...)")


def _shown(url: str) -> str:
    """The catalog URL without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


COMMANDS: list[click.Command] = [init]
