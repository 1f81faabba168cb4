"""A shared mount over the service: each local caller acts with its own credential file.

Root mounts with ``allow_other``; local users (numeric uids of no account,
run through ``setpriv``) each keep a token file in ``/tmp`` as grid users do.
Each sees and does what its grid identity may, a caller without a usable
credential gets EACCES, never the mounting user's rights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gridfs.catalog import SUPERUSER
from gridfs.config import load_config
from gridfs.gfal import Grid, Identity
from tests.conftest import write_grid_config
from tests.mount.mounting import mounted, needs_fuse
from tests.service_pki import GridPKI
from tests.service_server import ServiceProcess, write_service_config

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="acting as other uids needs root")
pytestmark = [pytest.mark.mount, needs_fuse, needs_root]

ALICE = Identity("alice", ("alice",))
BOB = Identity("bob", ("bob",))
# Uids of no account, apart per test process so that parallel runs do not share /tmp files.
FIRST_UID = 40000 + (os.getpid() % 5000) * 5


@dataclass
class Shared:
    root: Path  # the mount point, reachable by every uid
    pki: GridPKI
    bob_proxy: Path
    alice_uid: int = FIRST_UID
    bob_uid: int = FIRST_UID + 1

    def give(self, uid: int, content: str, *, mode: int = 0o600, owner: int | None = None) -> Path:
        """Put ``content`` at ``/tmp/bt_u<uid>`` as a new file, as a token tool would."""
        path = Path(f"/tmp/bt_u{uid}")
        fresh = path.with_name(f"{path.name}.new")
        fresh.write_text(content)
        os.chown(fresh, uid if owner is None else owner, uid)
        fresh.chmod(mode)
        fresh.replace(path)
        return path

    def token(self, user: str) -> str:
        return self.pki.token(user, **{"wlcg.groups": [f"/{user}"]})


def as_uid(uid: int, *steps: tuple[str, str]) -> list[object]:
    """Each ``(call, path)`` done by local ``uid``: its result, or the errno name it raised."""
    script = """
import errno, json, os, sys
out = []
for call, path in json.loads(sys.argv[1]):
    try:
        if call == "listdir":
            out.append(sorted(os.listdir(path)))
        elif call == "read":
            with open(path, "rb") as f:
                out.append(f.read().decode())
        elif call == "write":
            with open(path, "wb") as f:
                f.write(b"by " + str(os.getuid()).encode())
            out.append("written")
        elif call == "owner":
            out.append(os.stat(path).st_uid)
    except OSError as exc:
        out.append(errno.errorcode[exc.errno])
print(json.dumps(out))
"""
    command = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    done = subprocess.run(
        [*command, sys.executable, "-c", script, json.dumps(steps)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
        cwd="/",
    )
    result: list[object] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """Alice's and bob's private directories, served over TLS, mounted by root for all."""
    base = tmp_path_factory.mktemp("shared")
    config_path = write_grid_config(base)
    with Grid.from_config(load_config(config_path)) as grid:
        admin = grid.catalog.as_identity(SUPERUSER)
        for who in (ALICE, BOB):
            home = f"/grid/{who.user}"
            admin.mkdir(home, 0o700, parents=True)
            admin.chown(home, who.user, who.group)
            local = base / f"{who.user}.txt"
            local.write_text(f"{who.user}'s data")
            grid.as_identity(who).cr(local, f"{home}/data.txt", se="infn-se")
    pki = GridPKI(base / "pki")
    bob = pki.user("Bob")
    catalog_url = load_config(config_path).catalog_url
    gridmap = {bob.dn: "bob bob"}
    server_config = write_service_config(
        base / "serve", pki, catalog_url, gridmap, workers=1, threads=8
    )
    server = ServiceProcess(server_config, pki)
    point = Path(tempfile.mkdtemp(prefix="gridfs-shared-"))  # not under root's private tmp
    point.chmod(0o755)
    shared = Shared(point, pki, pki.proxy(bob))
    saved = {name: os.environ.get(name) for name in ("BEARER_TOKEN", "X509_CERT_DIR")}
    server.start()
    try:
        client = base / "client.toml"
        lines = config_path.read_text().splitlines()
        lines = [f'url = "{server.url}/"' if x.startswith("url =") else x for x in lines]
        # No kernel caching: every walk reaches the daemon, which asks as the caller.
        lines += ["[mount]", "entry_timeout = 0", "attr_timeout = 0", "[mount.users]"]
        lines += [f"alice = {shared.alice_uid}", f"bob = {shared.bob_uid}"]
        client.write_text("\n".join(lines) + "\n")
        # The mounting user (root) is a grid user of no rights in alice's or bob's homes.
        os.environ["BEARER_TOKEN"] = pki.token("operator")
        os.environ["X509_CERT_DIR"] = str(pki.ca_dir)
        with mounted(client, point, base / "mount.log", "-o", "allow_other") as root:
            shared.root = root
            yield shared
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for uid in range(FIRST_UID, FIRST_UID + 5):
            Path(f"/tmp/bt_u{uid}").unlink(missing_ok=True)
            Path(f"/tmp/x509up_u{uid}").unlink(missing_ok=True)
        point.rmdir()


def test_each_caller_acts_as_its_own_grid_identity(shared: Shared) -> None:
    shared.give(shared.alice_uid, shared.token("alice"))
    shared.give(shared.bob_uid, shared.token("bob"))
    alice, bob = shared.root / "alice", shared.root / "bob"
    assert as_uid(
        shared.alice_uid,
        ("listdir", str(alice)),
        ("read", str(alice / "data.txt")),
        ("write", str(alice / "new.txt")),
        ("owner", str(alice / "new.txt")),
        ("listdir", str(bob)),
        ("read", str(bob / "data.txt")),
        ("write", str(bob / "intruder.txt")),
    ) == [
        ["data.txt"],
        "alice's data",
        "written",
        shared.alice_uid,
        "EACCES",
        "EACCES",
        "EACCES",
    ]
    assert as_uid(
        shared.bob_uid,
        ("listdir", str(bob)),
        ("read", str(bob / "data.txt")),
        ("listdir", str(alice)),
        ("read", str(alice / "new.txt")),
    ) == [["data.txt"], "bob's data", "EACCES", "EACCES"]
    # The mounting user itself is its own grid user, not alice: refused there too.
    with pytest.raises(PermissionError):
        os.listdir(alice)


def test_a_caller_without_a_usable_credential_gets_eacces(shared: Shared) -> None:
    stranger = FIRST_UID + 2
    alice_data = str(shared.root / "alice" / "data.txt")
    steps = [("listdir", str(shared.root)), ("read", alice_data)]
    assert as_uid(stranger, *steps) == ["EACCES", "EACCES"]
    token = shared.give(stranger, shared.token("alice"), mode=0o644)  # others may read it
    assert as_uid(stranger, *steps) == ["EACCES", "EACCES"]
    token.chmod(0o600)
    assert as_uid(stranger, ("read", alice_data)) == ["alice's data"]
    shared.give(stranger, shared.token("alice"), owner=shared.bob_uid)  # another user's file
    assert as_uid(stranger, ("read", alice_data)) == ["EACCES"]


def test_a_token_replaced_on_disk_is_picked_up(shared: Shared) -> None:
    caller = FIRST_UID + 3
    alice, bob = shared.root / "alice", shared.root / "bob"
    steps = [("read", str(alice / "data.txt")), ("read", str(bob / "data.txt"))]
    shared.give(caller, shared.token("alice"))
    assert as_uid(caller, *steps) == ["alice's data", "EACCES"]
    shared.give(caller, shared.token("bob"))
    assert as_uid(caller, *steps) == ["EACCES", "bob's data"]


def test_a_callers_proxy_is_its_credential(shared: Shared) -> None:
    caller = FIRST_UID + 4
    proxy = Path(f"/tmp/x509up_u{caller}")
    proxy.write_bytes(shared.bob_proxy.read_bytes())
    os.chown(proxy, caller, caller)
    proxy.chmod(0o600)
    bob_data, alice_data = shared.root / "bob" / "data.txt", shared.root / "alice" / "data.txt"
    assert as_uid(caller, ("read", str(bob_data)), ("read", str(alice_data))) == [
        "bob's data",
        "EACCES",
    ]
