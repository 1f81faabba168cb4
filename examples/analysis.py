"""An analysis over grid:// in the style of a notebook: run it with `python examples/analysis.py`.

It makes a throwaway grid in a temporary directory (one catalog, one SE), writes a
ROOT file (a TTree) with uproot, registers it, reads it back by LFN with uproot,
then writes a summary table and reads it with pandas and dask, as an analysis on
a real grid would (there, drop the set-up cell and the ``config=`` options: your
configuration is found the usual way).
"""

import shutil
import tempfile
from pathlib import Path

import dask.dataframe as dd
import fsspec
import numpy as np
import pandas as pd
import uproot

from gridfs import Grid
from gridfs.config import load_config

# %% Set-up: a grid of one catalog and one SE in a temporary directory.
home = Path(tempfile.mkdtemp(prefix="gridfs-analysis-"))
config = home / "grid.toml"
config.write_text(
    '[catalog]\nurl = "sqlite:///catalog.db"\n[identity]\nsuperuser = true\n'
    '[storage]\ndefault_se = "disk"\n'
    '[se.disk]\nsurl_prefix = "srm://disk.example/grid"\nroot = "se/disk"\n'
)
Grid.from_config(load_config(config), create=True).close()  # a new catalog, as gridfs init makes
options = {"config": str(config)}
fs = fsspec.filesystem("grid", **options)

# %% Write a TTree with uproot and register it in the grid (put: stored, verified, registered).
rng = np.random.default_rng(42)
px, py = rng.normal(size=100_000), rng.normal(size=100_000)
with uproot.recreate(home / "run1.root") as out:
    out.mktree("events", {"px": "f8", "py": "f8"}).extend({"px": px, "py": py})
fs.put(str(home / "run1.root"), "/grid/demo/mc/run1.root")
print(fs.info("/grid/demo/mc/run1.root")["checksum"], "adler32, registered")

# %% Read it back by LFN: uproot goes through grid://.
with uproot.open("grid:///grid/demo/mc/run1.root:events", **options) as tree:
    pt = np.hypot(*tree.arrays(["px", "py"], library="np").values())
assert np.allclose(pt, np.hypot(px, py))
print(f"mean pt over {len(pt)} events: {pt.mean():.4f}")

# %% A summary table, written to the grid and read back with pandas.
summary = pd.DataFrame({"run": [1], "events": [len(pt)], "mean_pt": [pt.mean()]})
summary.to_parquet("grid:///grid/demo/tables/summary.parquet", storage_options=options)
print(pd.read_parquet("grid:///grid/demo/tables/summary.parquet", storage_options=options))

# %% dask reads the grid directory of tables as one lazy frame.
frame = dd.read_parquet("grid:///grid/demo/tables", storage_options=options)
print("events in all runs:", frame["events"].sum().compute())

# %% Clean up the throwaway grid.
shutil.rmtree(home)
