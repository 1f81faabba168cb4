"""grid:// read and written by the analysis tools: uproot, pandas, pyarrow and dask.

They reach grid:// through fsspec's registry (the package's entry point) and
pass the configuration as a storage option, as a user would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import awkward as ak
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
import uproot

from gridfs.catalog import FileStatus
from gridfs.fsspec import GridFileSystem
from tests.conftest import make_vo
from tests.fsspec.conftest import VO, grid_config
from tests.mount.mounting import mounted, needs_fuse

ENTRIES = 100_000
BRANCHES = ("px", "py", "nhits")


def events(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "px": rng.normal(size=ENTRIES),
        "py": rng.normal(size=ENTRIES).astype(np.float32),
        "nhits": rng.integers(0, 50, size=ENTRIES, dtype=np.int32),
    }


def write_tree(path: Path, data: dict[str, np.ndarray]) -> None:
    """A TTree ``events`` of ``data``'s branches (from a plain dict uproot writes an RNTuple)."""
    with uproot.recreate(path) as out:
        out.mktree("events", {name: values.dtype for name, values in data.items()}).extend(data)


@pytest.fixture(scope="module", params=["file-se", "xrootd-se"])
def analysis(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[GridFileSystem, str, list[str]]]:
    """A grid with two ROOT files written by uproot and registered: (fs, config, LFNs)."""
    server = request.getfixturevalue("xrootd_server") if request.param == "xrootd-se" else None
    directory = tmp_path_factory.mktemp(f"analysis-{request.param}")
    config = str(grid_config(directory, server))
    fs = GridFileSystem(config)
    make_vo(fs.grid, VO)
    lfns = []
    for seed in (1, 2):
        local = directory / f"run{seed}.root"
        write_tree(local, events(seed))
        lfn = f"{VO}/mc/run{seed}.root"
        fs.put(str(local), lfn)
        lfns.append(lfn)
    yield fs, config, lfns
    fs.grid.close()
    GridFileSystem.clear_instance_cache()


def test_uproot_opens_a_grid_file_by_lfn(analysis: tuple[GridFileSystem, str, list[str]]) -> None:
    fs, config, (first, _) = analysis
    assert fs.info(first)["status"] == FileStatus.READY.value
    with uproot.open(f"grid://{first}:events", config=config) as tree:
        assert isinstance(tree, uproot.TTree)
        assert tree.num_entries == ENTRIES
        arrays = tree.arrays(list(BRANCHES), library="np")
    for name, expected in events(1).items():
        np.testing.assert_array_equal(arrays[name], expected)


def test_uproot_iterates_and_concatenates_over_lfns(
    analysis: tuple[GridFileSystem, str, list[str]],
) -> None:
    _, config, lfns = analysis
    files = [f"grid://{lfn}:events" for lfn in lfns]
    expected = {k: np.concatenate([events(1)[k], events(2)[k]]) for k in BRANCHES}
    joined = uproot.concatenate(files, list(BRANCHES), config=config)
    for name in BRANCHES:
        np.testing.assert_array_equal(ak.to_numpy(joined[name]), expected[name])
    seen = [
        batch["px"]
        for batch in uproot.iterate(files, ["px"], step_size=30_000, library="np", config=config)
    ]
    assert len(seen) > 2
    np.testing.assert_array_equal(np.concatenate(seen), expected["px"])


@pytest.mark.mount
@needs_fuse
def test_uproot_reads_the_same_files_through_the_mount(
    analysis: tuple[GridFileSystem, str, list[str]], tmp_path: Path
) -> None:
    """The files uproot wrote, read through a real mount of the grid: plain local paths."""
    _, config, lfns = analysis
    with mounted(Path(config), tmp_path / "mnt", tmp_path / "mount.log") as mountpoint:
        files = [str(mountpoint / Path(lfn).relative_to("/grid")) for lfn in lfns]
        with uproot.open(f"{files[0]}:events") as tree:
            first = tree.arrays(list(BRANCHES), library="np")
        for name, expected in events(1).items():
            np.testing.assert_array_equal(first[name], expected)
        trees = [f"{path}:events" for path in files]
        joined = uproot.concatenate(trees, list(BRANCHES), library="np")
        seen = [
            b["nhits"] for b in uproot.iterate(trees, ["nhits"], step_size=30_000, library="np")
        ]
    for name in BRANCHES:
        np.testing.assert_array_equal(
            joined[name], np.concatenate([events(1)[name], events(2)[name]])
        )
    assert len(seen) > 2
    np.testing.assert_array_equal(np.concatenate(seen), joined["nhits"])


def test_the_usual_configuration_search_applies_without_options(
    analysis: tuple[GridFileSystem, str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, config, (first, _) = analysis
    monkeypatch.setenv("GRIDFS_CONFIG", config)
    GridFileSystem.clear_instance_cache()
    try:
        with uproot.open(f"grid://{first}") as file:
            np.testing.assert_array_equal(
                file["events"]["nhits"].array(library="np"), events(1)["nhits"]
            )
    finally:
        GridFileSystem.clear_instance_cache()


def test_pandas_pyarrow_and_dask_read_and_write_grid_urls(
    analysis: tuple[GridFileSystem, str, list[str]], tmp_path: Path
) -> None:
    fs, config, _ = analysis
    options = {"config": config}
    frame = pd.DataFrame({"run": np.arange(1000), "lumi": np.linspace(0, 1, 1000)})
    fs.pipe(f"{VO}/tables/runs.csv", frame.to_csv(index=False).encode())
    pd.testing.assert_frame_equal(
        pd.read_csv(f"grid://{VO}/tables/runs.csv", storage_options=options), frame
    )
    for part in range(3):
        frame[frame.run % 3 == part].reset_index(drop=True).to_parquet(
            f"grid://{VO}/tables/pq/part{part}.parquet", storage_options=options
        )
    written = fs.grid.stat(f"{VO}/tables/pq/part0.parquet")
    assert written.status is FileStatus.READY
    assert fs.grid.lr(f"{VO}/tables/pq/part0.parquet")  # stored and registered
    back = pd.read_parquet(f"grid://{VO}/tables/pq/part1.parquet", storage_options=options)
    assert back["run"].tolist() == list(range(1, 1000, 3))
    table = pads.dataset(f"{VO}/tables/pq", filesystem=fs, format="parquet").to_table()
    assert sorted(table.column("run").to_pylist()) == list(range(1000))
    assert pq.read_table(f"{VO}/tables/pq/part2.parquet", filesystem=fs).num_rows == 333
    lazy = dd.read_parquet(f"grid://{VO}/tables/pq", storage_options=options)
    assert lazy.npartitions == 3
    assert sorted(lazy["run"].compute().tolist()) == list(range(1000))
