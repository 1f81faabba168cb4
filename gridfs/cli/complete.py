"""Shell completion of LFNs, for the arguments of any family of verbs."""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem

from gridfs.config import load_config
from gridfs.gfal import Grid

__all__ = ["complete_lfn"]


def complete_lfn(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Complete LFNs (under the mount root, or after ``lfn:``); local paths are the shell's."""
    prefix = incomplete.removeprefix("lfn:")
    lead = incomplete[: len(incomplete) - len(prefix)]
    try:
        config = load_config(ctx.find_root().params.get("config_file"))
    except (OSError, ValueError):
        return [CompletionItem(incomplete, type="file")]
    root = config.mount_root
    if not lead and not (prefix.startswith(root + "/") or (prefix and root.startswith(prefix))):
        return [CompletionItem(incomplete, type="file")]
    if root.startswith(prefix) and prefix != root + "/":
        return [CompletionItem(f"{lead}{root}/")]
    directory, _, partial = prefix.rpartition("/")
    try:
        with Grid.from_config(config) as grid:
            return [
                CompletionItem(f"{lead}{directory}/{entry.name}" + ("/" if entry.is_dir() else ""))
                for entry in grid.scandir(directory or "/")
                if entry.name.startswith(partial)
            ]
    except (OSError, ValueError):
        return []
