"""The state every command shares: the configuration and the grid, opened on first use.

Its own module so that the families of verbs and :mod:`gridfs.cli.app` both
depend on it and never on each other (no import circle).
"""

from __future__ import annotations

import click

from gridfs.config import Config, load_config
from gridfs.gfal import Grid

__all__ = ["State", "pass_state"]


class State:
    """The configuration and grid of one command, opened on first use."""

    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file
        self._config: Config | None = None
        self._grid: Grid | None = None

    @property
    def config(self) -> Config:
        """The configuration (``--config``, else the usual search), loaded once."""
        if self._config is None:
            self._config = load_config(self.config_file)
        return self._config

    @property
    def grid(self) -> Grid:
        """The grid the configuration describes, opened once."""
        if self._grid is None:
            self._grid = Grid.from_config(self.config)
        return self._grid

    def close(self) -> None:
        """Release the grid, if one was opened."""
        if self._grid is not None:
            self._grid.close()


pass_state = click.make_pass_decorator(State)
"""Hands the command its :class:`State` as the first argument."""
