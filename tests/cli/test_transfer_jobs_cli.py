"""gridfs transfer submit, status, list, agent, links, watch, cancel, retry, as users run them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import fails, home, run

__all__ = ["home"]  # the fixture: a grid made by `gridfs init`, with a second SE

FAST = "\n[transfer]\npoll = 0.1\nlease = 5\ninterval = 0.3\nbackoff = 0.1\n"


def test_submit_run_an_agent_and_follow_the_job(home: Path, make_file) -> None:
    config = home / "config.toml"
    config.write_text(config.read_text() + FAST)
    cfg = ("--config", config)
    run(*cfg, "mkdir", "/grid/gilda/run")
    for index in range(3):
        run(*cfg, "cr", make_file(f"f{index}.dat", 20_000 + index), f"/grid/gilda/run/f{index}")
    job = run(*cfg, "transfer", "submit", "-r", "/grid/gilda/run", "-d", "ral-se").stdout.strip()
    assert job.isdigit()
    status = run(*cfg, "transfer", "status", job).stdout
    assert f"job {job}: submitted (3 submitted)" in status
    assert "cern-se->ral-se" in status
    listed = json.loads(run(*cfg, "transfer", "list", "--json").stdout)
    assert [(j["job"], j["state"]) for j in listed] == [(int(job), "submitted")]
    agent = run(*cfg, "transfer", "agent", "--until-idle", "--slots", "2")
    assert "3 finished" in agent.stderr
    (record,) = json.loads(run(*cfg, "transfer", "status", "--json", job).stdout)
    assert record["state"] == "finished"
    assert [f["state"] for f in record["file_states"]] == ["finished"] * 3
    for index in range(3):
        surls = run(*cfg, "lr", f"/grid/gilda/run/f{index}").stdout.split()
        assert any(s.startswith("srm://ral-se") for s in surls)
    watched = run(*cfg, "transfer", "watch", job)
    assert f"job {job}: finished (3 finished)" in watched.stdout
    assert run(*cfg, "transfer", "list", "--state", "finished").stdout.count("\n") == 2
    links = json.loads(run(*cfg, "transfer", "links", "--json").stdout)
    assert [(link["source"], link["destination"]) for link in links] == [("cern-se", "ral-se")]
    # Again to the same SE: nothing to do, every file not_used; --wait exits 0.
    again = run(*cfg, "transfer", "submit", "--wait", "-r", "/grid/gilda/run", "-d", "ral-se")
    (record,) = json.loads(run(*cfg, "transfer", "status", "--json", again.stdout).stdout)
    assert record["files"] == {"not_used": 3}


def test_cancel_retry_and_bad_arguments(home: Path, make_file) -> None:
    config = home / "config.toml"
    config.write_text(config.read_text() + FAST)
    cfg = ("--config", config)
    run(*cfg, "cr", make_file("a.dat", 1000), "/grid/gilda/a.dat")
    job = run(*cfg, "transfer", "submit", "/grid/gilda/a.dat", "-d", "ral-se").stdout.strip()
    assert run(*cfg, "transfer", "cancel", job).stdout == f"job {job}: 1 files canceled\n"
    assert "canceled by the user" in run(*cfg, "transfer", "status", job).stdout
    watched = run(*cfg, "transfer", "watch", job, check=False)
    assert watched.returncode == 1
    assert "a.dat -> ral-se: canceled: canceled by the user" in watched.stderr
    assert run(*cfg, "transfer", "retry", job).stdout == f"job {job}: 1 files submitted again\n"
    run(*cfg, "transfer", "agent", "--until-idle")
    assert f"job {job}: finished" in run(*cfg, "transfer", "status", job).stdout
    fails(*cfg, "transfer", "status", "999", message="no transfer job 999")
    fails(*cfg, "transfer", "submit", "/grid/gilda/a.dat", "-d", "moon-se", message="moon-se")
    fails(*cfg, "transfer", "submit", "/grid/gilda", "-d", "ral-se", message="with -r")
    fails(*cfg, "transfer", "submit", "/grid/gilda/nope", "-d", "ral-se", message="nope")
