"""The catalog on SQLite in a temp dir."""

from __future__ import annotations

import inspect
import os
import stat
import subprocess
import sys
import threading
import tracemalloc
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, func, select

from gridfs.catalog import SUPERUSER, Catalog, CatalogAPI, EntryKind, FileStatus, ReplicaStatus
from gridfs.catalog.engine import SCHEMA_REVISION, alembic_config, create_catalog_engine
from gridfs.catalog.models import Base, EntryModel
from gridfs.errors import (
    AlreadyExists,
    ConfigError,
    GridError,
    InvalidArgument,
    IsADirectory,
    NotADirectory,
    NotFound,
    NotPermitted,
    PermissionDenied,
    SymlinkLoop,
)
from gridfs.metadata import Metadata, MetadataAPI
from gridfs.metadata import models as _metadata_models  # noqa: F401 - its tables are on Base too
from gridfs.transfer import models as _transfer_models  # noqa: F401 - so are the transfer tables
from tests.conftest import ALICE, BOB, open_catalog


def add(catalog: Catalog, lfn: str, *, size: int = 10, replicas=()) -> str:
    return catalog.add_file(lfn, size=size, checksum="0000abcd", replicas=replicas).guid or ""


def test_schema_revision_is_the_newest_migration() -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head == SCHEMA_REVISION


def test_migrations_create_exactly_the_models(catalog: Catalog) -> None:
    with catalog.store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() is not None


def test_reopening_keeps_data_and_schema(catalog_url: str) -> None:
    url = catalog_url
    first = open_catalog(url)
    first.mkdir("/grid")
    first.close()
    second = Catalog.from_url(url, ALICE)
    assert second.stat("/grid").is_dir()
    second.close()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    with catalog.store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # Checkpoints (two fsyncs each) far apart: not every ~80 small writes.
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
    catalog.close()


def test_root_exists_and_belongs_to_the_superuser(catalog: Catalog) -> None:
    root = catalog.stat("/")
    assert root.is_dir()
    assert root.parent_id is None
    assert root.owner == "root"


def test_mkdir_with_parents_and_ownership(catalog: Catalog) -> None:
    made = catalog.mkdir("/grid/gilda/trailers", parents=True)
    assert made.is_dir()
    assert (made.owner, made.group, made.mode) == ("alice", "gilda", 0o775)
    assert catalog.stat("/grid/gilda").is_dir()
    assert (
        catalog.mkdir("/grid/gilda", parents=True, exist_ok=True).id
        == catalog.stat("/grid/gilda").id
    )


def test_mkdir_errors(catalog: Catalog) -> None:
    with pytest.raises(NotFound):
        catalog.mkdir("/grid/gilda")
    catalog.mkdir("/grid")
    with pytest.raises(AlreadyExists):
        catalog.mkdir("/grid")
    add(catalog, "/grid/file")
    with pytest.raises(NotADirectory):
        catalog.mkdir("/grid/file/sub")
    with pytest.raises(NotADirectory):
        catalog.mkdir("/grid/file/sub/deeper", parents=True)
    with pytest.raises(AlreadyExists):
        catalog.mkdir("/grid/file", parents=True, exist_ok=True)


def test_add_file_registers_file_and_replicas_together(catalog: Catalog) -> None:
    catalog.mkdir("/grid")
    entry = catalog.add_file(
        "/grid/a.mpg",
        size=1234,
        checksum="1a2b3c4d",
        replicas=[("se1", "srm://se1/grid/a"), ("se2", "srm://se2/grid/a")],
    )
    assert entry.kind is EntryKind.FILE
    assert uuid.UUID(entry.guid or "")
    assert (entry.size, entry.checksum_type, entry.checksum) == (1234, "adler32", "1a2b3c4d")
    replicas = catalog.replicas("/grid/a.mpg")
    assert [(r.se, r.surl, r.status) for r in replicas] == [
        ("se1", "srm://se1/grid/a", ReplicaStatus.AVAILABLE),
        ("se2", "srm://se2/grid/a", ReplicaStatus.AVAILABLE),
    ]
    assert all(r.guid == entry.guid for r in replicas)
    assert catalog.lfns_of(entry.guid or "") == ["/grid/a.mpg"]
    assert catalog.lfn_of(entry.id) == "/grid/a.mpg"


def test_a_failed_registration_leaves_nothing(catalog: Catalog) -> None:
    catalog.mkdir("/grid")
    add(catalog, "/grid/a", replicas=[("se1", "srm://se1/x")])
    # The second file's replica clashes: neither the file nor any replica stays.
    with pytest.raises(AlreadyExists):
        add(catalog, "/grid/b", replicas=[("se1", "srm://se1/y"), ("se1", "srm://se1/x")])
    with pytest.raises(NotFound):
        catalog.stat("/grid/b")
    with catalog.store.session() as session:
        assert session.scalar(select(func.count()).select_from(EntryModel)) == 3


def test_add_file_errors(catalog: Catalog) -> None:
    with pytest.raises(NotFound):
        add(catalog, "/grid/nodir/a")
    catalog.mkdir("/grid")
    guid = add(catalog, "/grid/a")
    with pytest.raises(AlreadyExists):
        add(catalog, "/grid/a")
    with pytest.raises(AlreadyExists):
        catalog.add_file("/grid/b", size=1, checksum="00000001", guid=guid)
    with pytest.raises(InvalidArgument):
        catalog.add_file("/grid/c", size=-1, checksum="00000001")
    with pytest.raises(InvalidArgument, match="not a GUID"):
        catalog.add_file("/grid/c", size=1, checksum="00000001", guid="g-1")
    with pytest.raises(NotADirectory):
        add(catalog, "/grid/a/b")


def test_add_replica(catalog: Catalog) -> None:
    catalog.mkdir("/grid")
    guid = add(catalog, "/grid/a")
    replica = catalog.add_replica(guid, "se2", "srm://se2/a")
    assert replica.guid == guid
    assert [r.se for r in catalog.replicas("/grid/a")] == ["se2"]
    with pytest.raises(AlreadyExists):
        catalog.add_replica(guid, "se2", "srm://se2/a")
    with pytest.raises(NotFound):
        catalog.add_replica(str(uuid.uuid4()), "se2", "srm://se2/b")


def test_replicas_of_a_directory_is_an_error(catalog: Catalog) -> None:
    catalog.mkdir("/grid")
    with pytest.raises(IsADirectory):
        catalog.replicas("/grid")


def test_symlinks_resolve_like_aliases(catalog: Catalog) -> None:
    catalog.mkdir("/grid/gilda/trailers", parents=True)
    guid = add(catalog, "/grid/gilda/trailers/matrix.mpg")
    catalog.symlink("/grid/gilda/trailers/matrix.mpg", "/grid/gilda/neo.mpg")
    catalog.symlink("trailers", "/grid/gilda/t")
    catalog.symlink("../t/matrix.mpg", "/grid/gilda/trailers/again.mpg")
    assert catalog.stat("/grid/gilda/neo.mpg").guid == guid
    assert catalog.stat("/grid/gilda/neo.mpg", follow_symlinks=False).is_symlink()
    assert catalog.stat("/grid/gilda/t/matrix.mpg").guid == guid
    assert catalog.stat("/grid/gilda/trailers/again.mpg").guid == guid
    assert catalog.readlink("/grid/gilda/neo.mpg") == "/grid/gilda/trailers/matrix.mpg"
    assert [r.guid for r in catalog.replicas("/grid/gilda/neo.mpg")] == []
    with pytest.raises(InvalidArgument):
        catalog.readlink("/grid/gilda/trailers/matrix.mpg")
    with pytest.raises(AlreadyExists):
        catalog.symlink("/x", "/grid/gilda/neo.mpg")


def test_special_files_are_entries_without_replicas(catalog: Catalog) -> None:
    admin = catalog.as_identity(SUPERUSER)
    admin.mkdir("/grid/gilda", parents=True)
    admin.chown("/grid/gilda", "alice", "gilda")
    fifo = catalog.mknod("/grid/gilda/pipe", EntryKind.FIFO, 0o640)
    socket = catalog.mknod("/grid/gilda/socket", EntryKind.SOCKET, 0o755)
    device = admin.mknod("/grid/gilda/tty", EntryKind.CHAR_DEVICE, 0o620, rdev=os.makedev(4, 1))
    disk = admin.mknod("/grid/gilda/disk", EntryKind.BLOCK_DEVICE, 0o660, rdev=os.makedev(8, 0))
    assert stat.S_IFMT(fifo.st_mode) | fifo.mode == stat.S_IFIFO | 0o640
    assert stat.S_ISSOCK(socket.st_mode)
    assert (stat.S_IFMT(device.st_mode), os.major(device.rdev)) == (stat.S_IFCHR, 4)
    assert (stat.S_IFMT(disk.st_mode), os.minor(disk.rdev)) == (stat.S_IFBLK, 0)
    assert (fifo.owner, fifo.group, fifo.guid, fifo.rdev, fifo.size) == (
        "alice",
        "gilda",
        None,
        0,
        0,
    )
    assert catalog.stat("/grid/gilda/tty").rdev == os.makedev(4, 1)
    with pytest.raises(InvalidArgument):  # it has none: not a file
        catalog.replicas("/grid/gilda/pipe")
    listed = {entry.name: entry.kind for entry in catalog.iterdir("/grid/gilda")}
    assert listed == {
        "pipe": EntryKind.FIFO,
        "socket": EntryKind.SOCKET,
        "tty": EntryKind.CHAR_DEVICE,
        "disk": EntryKind.BLOCK_DEVICE,
    }
    catalog.rename("/grid/gilda/pipe", "/grid/gilda/pipe2")
    catalog.rename("/grid/gilda/socket", "/grid/gilda/pipe2")  # replaces it, as rename(2)
    catalog.chmod("/grid/gilda/pipe2", 0o700)
    assert catalog.stat("/grid/gilda/pipe2").kind is EntryKind.SOCKET
    assert catalog.unlink("/grid/gilda/pipe2") == []
    admin.unlink("/grid/gilda/tty")
    assert [entry.name for entry in catalog.iterdir("/grid/gilda")] == ["disk"]


def test_mknod_refuses_what_linux_refuses(catalog: Catalog) -> None:
    catalog.as_identity(SUPERUSER).mkdir("/grid", 0o777)
    with pytest.raises(NotPermitted):  # devices: the superuser's (CAP_MKNOD)
        catalog.mknod("/grid/tty", EntryKind.CHAR_DEVICE, 0o600, rdev=os.makedev(4, 1))
    with pytest.raises(InvalidArgument):  # files, directories and links have their own calls
        catalog.mknod("/grid/file", EntryKind.FILE)
    with pytest.raises(InvalidArgument):  # only a device has a number
        catalog.mknod("/grid/pipe", EntryKind.FIFO, rdev=5)
    catalog.mknod("/grid/pipe", EntryKind.FIFO)
    with pytest.raises(AlreadyExists):
        catalog.mknod("/grid/pipe", EntryKind.SOCKET)
    with pytest.raises(NotADirectory):
        catalog.mknod("/grid/pipe/below", EntryKind.FIFO)
    catalog.mkdir("/grid/alice", 0o755)
    with pytest.raises(PermissionDenied):  # the directory's write permission, as for any entry
        catalog.as_identity(BOB).mknod("/grid/alice/pipe", EntryKind.FIFO)


def test_symlink_loops_end_with_eloop(catalog: Catalog) -> None:
    catalog.mkdir("/grid")
    catalog.symlink("/grid/b", "/grid/a")
    catalog.symlink("/grid/a", "/grid/b")
    with pytest.raises(SymlinkLoop):
        catalog.stat("/grid/a")
    catalog.symlink("/nowhere", "/grid/dangling")
    with pytest.raises(NotFound):
        catalog.stat("/grid/dangling")
    assert catalog.stat("/grid/dangling", follow_symlinks=False).target == "/nowhere"


def test_lookup_by_parent_and_name(catalog: Catalog) -> None:
    directory = catalog.mkdir("/grid")
    add(catalog, "/grid/a")
    assert catalog.lookup(directory.id, "a").name == "a"
    with pytest.raises(NotFound):
        catalog.lookup(directory.id, "b")
    with pytest.raises(NotFound):
        catalog.stat_id(999_999)


def test_listing_pages_with_a_stable_resume_key(catalog_url: str) -> None:
    catalog = open_catalog(catalog_url, page_size=7)
    catalog.mkdir("/grid")
    for index in range(50):
        add(catalog, f"/grid/f{index:03}")
    seen = []
    listing = catalog.iterdir("/grid")
    for entry in listing:
        seen.append(entry.name)
        if len(seen) == 20:
            # Changes during the listing neither repeat nor skip what was there.
            add(catalog, "/grid/late")
    assert seen[:50] == [f"f{index:03}" for index in range(50)]
    assert seen[50:] == ["late"]
    resumed = [e.name for e in catalog.iterdir("/grid", after=catalog.stat("/grid/f044").id)]
    assert resumed == ["f045", "f046", "f047", "f048", "f049", "late"]
    with pytest.raises(NotADirectory):
        catalog.iterdir("/grid/f001")
    catalog.close()


def test_listing_a_large_directory_uses_bounded_memory(catalog_url: str) -> None:
    catalog = open_catalog(catalog_url, page_size=500)
    directory = catalog.mkdir("/grid")
    rows = [
        {
            "parent_id": directory.id,
            "name": f"file{index:06}",
            "kind": "f",
            "mode": 0o644,
            "owner": "alice",
            "group_name": "gilda",
            "size": 1,
            "atime_ns": 0,
            "mtime_ns": 0,
            "ctime_ns": 0,
            "guid": str(uuid.UUID(int=index + 1)),
        }
        for index in range(20_000)
    ]
    with catalog.store.session(write=True) as session:
        session.execute(EntryModel.__table__.insert(), rows)
    tracemalloc.start()
    count = sum(1 for _ in catalog.iterdir("/grid"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 20_000
    assert peak < 8 * 1024 * 1024  # a page of rows, not 20,000 of them
    catalog.close()


def test_concurrent_writers_lose_no_update(catalog: Catalog) -> None:
    catalog.mkdir("/grid")
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for index in range(25):
                add(catalog, f"/grid/w{worker}-{index}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(list(catalog.iterdir("/grid"))) == 100


def test_mkdir_follows_links_from_where_they_really_are(catalog: Catalog) -> None:
    catalog.mkdir("/x/y", parents=True)
    catalog.mkdir("/x/c")
    catalog.mkdir("/c")  # where a lexical reading of the path would wrongly land
    catalog.symlink("/x/y", "/a")
    catalog.symlink("../c", "/x/y/b")
    assert catalog.stat("/a/b").id == catalog.stat("/x/c").id
    made = catalog.mkdir("/a/b/new", parents=True)
    assert catalog.lfn_of(made.id) == "/x/c/new"
    assert catalog.mkdir("/a/b", exist_ok=True).id == catalog.stat("/x/c").id
    catalog.symlink("/nowhere", "/dangling")
    with pytest.raises(AlreadyExists):
        catalog.mkdir("/dangling", exist_ok=True)


def test_a_double_slash_target_is_the_root(catalog: Catalog) -> None:
    catalog.mkdir("/x")
    catalog.symlink("//x", "/l")
    assert catalog.stat("/l").id == catalog.stat("/x").id


def test_broken_databases_are_clear_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 500)
    with pytest.raises(GridError, match="file is not a database") as info:
        Catalog.from_url(f"sqlite:///{garbage}", ALICE)
    assert not isinstance(info.value, ConfigError)
    with pytest.raises(ConfigError, match=r"driver for sqlite\+pysqlcipher:.* is not installed"):
        Catalog.from_url(f"sqlite+pysqlcipher:///{tmp_path / 'x.db'}", ALICE)
    with pytest.raises(ConfigError, match="not a catalog database URL"):
        Catalog.from_url("nosuchdialect://host/db", ALICE)


def test_a_newer_schema_is_refused(catalog_url: str) -> None:
    url = catalog_url
    Catalog.from_url(url, ALICE, create=True).close()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(ConfigError, match="revision 9999 is unknown"):
        Catalog.from_url(url, ALICE)


def test_many_processes_may_create_a_catalog_at_once(catalog_url: str) -> None:
    url = catalog_url
    code = (
        "import sys; from gridfs.catalog import Catalog, Identity\n"
        "Catalog.from_url(sys.argv[1], Identity('a', ('g',), True), create=True)"
        ".mkdir('/grid', exist_ok=True)\n"
    )
    processes = [subprocess.Popen([sys.executable, "-c", code, url]) for _ in range(4)]
    assert [p.wait(timeout=60) for p in processes] == [0, 0, 0, 0]
    catalog = Catalog.from_url(url, ALICE)
    assert [e.name for e in catalog.iterdir("/")] == ["grid"]
    catalog.close()


def test_ids_are_never_reused(catalog: Catalog) -> None:
    catalog.mkdir("/grid")
    last = catalog.add_file("/grid/a", size=1, checksum="00000001")
    with catalog.store.session(write=True) as session:
        session.delete(session.get(EntryModel, last.id))
    assert catalog.add_file("/grid/b", size=1, checksum="00000001").id > last.id


WORKER = """
import sys
from gridfs.catalog import SUPERUSER, Catalog
catalog = Catalog.from_url(sys.argv[1], SUPERUSER)
worker = int(sys.argv[2])
for index in range(20):
    name = f"w{worker}-{index}"
    guid = catalog.add_file(f"/grid/in/{name}", size=index, checksum="00000001").guid
    catalog.add_replica(guid, "se1", f"srm://se1/{name}")
    catalog.set_comment("/grid/in", f"last writer {worker}")  # one hot row for everybody
    catalog.rename(f"/grid/in/{name}", f"/grid/out/{name}")
    catalog.mkdir(f"/grid/out/d-{name}", parents=True)
    if index % 2:
        catalog.unlink(f"/grid/out/{name}")
        catalog.rmdir(f"/grid/out/d-{name}")
catalog.close()
"""


def test_many_processes_changing_one_catalog_lose_nothing(catalog_url: str) -> None:
    admin = Catalog.from_url(catalog_url, SUPERUSER, create=True)
    admin.mkdir("/grid/in", parents=True)
    admin.mkdir("/grid/out")
    workers = 8
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, catalog_url, str(n)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(workers)
    ]
    errors = [p.communicate(timeout=300)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * workers, errors
    names = {e.name for e in admin.iterdir("/grid/out")}
    assert len(names) == workers * 20  # 10 files and 10 directories from each worker
    assert list(admin.iterdir("/grid/in")) == []
    replicas = admin.replicas_many(
        [f"/grid/out/w{n}-{i}" for n in range(workers) for i in range(0, 20, 2)]
    )
    assert len(replicas) == workers * 10
    assert all(len(found) == 1 for found in replicas.values())
    admin.close()


def test_upgrading_a_catalog_with_data_keeps_it(catalog_url: str) -> None:
    from alembic import command  # noqa: PLC0415

    engine = create_catalog_engine(catalog_url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    columns = "parent_id, name, kind, mode, owner, group_name, size, atime_ns, mtime_ns, ctime_ns"
    with engine.begin() as connection:  # rows as revision 0001 knew them
        connection.exec_driver_sql(
            f"INSERT INTO entries ({columns}) "
            "VALUES (1, 'grid', 'd', 493, 'alice', 'gilda', 0, 1, 1, 1)"
        )
        grid_id = connection.exec_driver_sql("SELECT id FROM entries WHERE name = 'grid'").scalar()
        connection.exec_driver_sql(
            f"INSERT INTO entries ({columns}, guid, checksum_type, checksum, status) VALUES "
            f"({grid_id}, 'f', 'f', 420, 'alice', 'gilda', 5, 1, 1, 1, "
            "'6f1ce7ba-7c17-4e54-8fd2-3a3bd7e1d2a4', 'adler32', '0000abcd', 'ready')"
        )
        file_id = connection.exec_driver_sql("SELECT id FROM entries WHERE name = 'f'").scalar()
        connection.exec_driver_sql(
            "INSERT INTO replicas (entry_id, se, surl, status, ctime_ns, atime_ns) "
            f"VALUES ({file_id}, 'se1', 'srm://se1/f', 'available', 1, 1)"
        )
    engine.dispose()
    catalog = Catalog.from_url(catalog_url, SUPERUSER)  # upgrades to the newest revision
    assert [r.surl for r in catalog.replicas("/grid/f")] == ["srm://se1/f"]
    assert catalog.stat("/grid/f").has_acl is False
    with catalog.store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    catalog.unlink("/grid/f")
    assert catalog.add_file("/grid/g", size=1).id > file_id  # ids still never reused
    catalog.close()


# -- named operations: each one transaction, so a remote catalog can serve it in one request


def test_stat_replicas_is_the_entry_and_all_its_replicas(catalog: Catalog) -> None:
    catalog.mkdir("/grid")
    add(catalog, "/grid/a", replicas=[("se1", "srm://se1/a")])
    entry = catalog.stat("/grid/a")
    catalog.commit_version(
        entry.id, size=3, checksum="00000003", checksum_type="adler32", se="se2", surl="srm://se2/a"
    )
    catalog.symlink("/grid/a", "/grid/link")
    for name in ("/grid/a", "/grid/link", entry.id):
        stat, replicas = catalog.stat_replicas(name)
        assert (stat.id, stat.size) == (entry.id, 3)
        assert [(r.surl, r.status) for r in replicas] == [
            ("srm://se1/a", ReplicaStatus.STALE),
            ("srm://se2/a", ReplicaStatus.AVAILABLE),
        ]
    directory, none = catalog.stat_replicas("/grid")
    assert (directory.kind, none) == (EntryKind.DIRECTORY, [])


def test_stat_replicas_needs_read_permission_and_names_the_lfn(catalog: Catalog) -> None:
    catalog.mkdir("/grid", 0o755)
    entry = catalog.add_file("/grid/secret", size=1, mode=0o600)
    bob = catalog.as_identity(BOB)
    for name in ("/grid/secret", entry.id):
        with pytest.raises(PermissionDenied) as denied:
            bob.stat_replicas(name)
        assert denied.value.filename == "/grid/secret"  # by id too: named on the error path


def test_replicas_by_id_do_not_walk_to_the_root(catalog: Catalog) -> None:
    """The name for an error message is made only for an error: depth costs no query."""
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    counts = []
    for depth in (1, 8):
        lfn = "/" + "/".join(f"d{depth}-{level}" for level in range(depth)) + "/f"
        catalog.mkdir(lfn.rsplit("/", 1)[0], parents=True)
        entry = catalog.add_file(lfn, size=1)
        event.listen(catalog.store.engine, "before_cursor_execute", count)
        try:
            statements.clear()
            catalog.replicas(entry.id)
            catalog.stat_replicas(entry.id)  # its ancestors' search permission: one query
            catalog.stat_walked(entry.id)
            catalog.lookup(entry.parent_id, "f")
            counts.append(len(statements))
        finally:
            event.remove(catalog.store.engine, "before_cursor_execute", count)
    assert counts[0] == counts[1]


def test_replicas_to_replace_needs_write_permission_not_read(catalog: Catalog) -> None:
    catalog.mkdir("/grid", 0o755)
    add(catalog, "/grid/a", replicas=[("se1", "srm://se1/a")])
    entry = catalog.stat("/grid/a")
    catalog.chmod("/grid/a", 0o602)  # others may write, not read
    bob = catalog.as_identity(BOB)
    with pytest.raises(PermissionDenied):
        bob.replicas(entry.id)
    assert [r.surl for r in bob.replicas_to_replace(entry.id)] == ["srm://se1/a"]
    catalog.chmod("/grid/a", 0o604)
    with pytest.raises(PermissionDenied):
        bob.replicas_to_replace(entry.id)
    with pytest.raises(IsADirectory):
        catalog.replicas_to_replace(catalog.stat("/grid").id)


def test_abandon_writing_removes_only_a_file_still_being_written(catalog: Catalog) -> None:
    catalog.mkdir("/grid")
    writing = catalog.add_file("/grid/w", size=0, status=FileStatus.WRITING)
    catalog.add_alias("/grid/w", "/grid/w-alias")
    assert catalog.abandon_writing(writing.id) is True
    for gone in ("/grid/w", "/grid/w-alias"):
        with pytest.raises(NotFound):
            catalog.stat(gone, follow_symlinks=False)
    assert catalog.abandon_writing(writing.id) is False  # gone already
    ready = catalog.add_file("/grid/r", size=1)
    assert catalog.abandon_writing(ready.id) is False
    assert catalog.stat("/grid/r").id == ready.id


def test_abandon_writing_after_another_writer_committed_removes_nothing(catalog: Catalog) -> None:
    catalog.mkdir("/grid")
    writing = catalog.add_file("/grid/w", size=0, status=FileStatus.WRITING)
    catalog.commit_version(
        writing.id, size=2, checksum="00000002", checksum_type="adler32", se="se", surl="srm://s/w"
    )
    assert catalog.abandon_writing(writing.id) is False
    stat, replicas = catalog.stat_replicas("/grid/w")
    assert (stat.status, [r.surl for r in replicas]) == (FileStatus.READY, ["srm://s/w"])


def test_abandon_writing_checks_the_unlink_permissions(catalog: Catalog) -> None:
    catalog.mkdir("/grid", 0o777)
    bob = catalog.as_identity(BOB)
    mine = bob.add_file("/grid/bobs", size=0, status=FileStatus.WRITING)
    catalog.chmod("/grid", 0o755)
    with pytest.raises(PermissionDenied):
        bob.abandon_writing(mine.id)
    catalog.chmod("/grid", 0o1777)
    alices = catalog.add_file("/grid/alices", size=0, status=FileStatus.WRITING)
    with pytest.raises(NotPermitted):
        bob.abandon_writing(alices.id)  # sticky: not bob's to remove
    assert catalog.stat("/grid/bobs").id == mine.id
    assert catalog.stat("/grid/alices").id == alices.id


def test_replica_deletion_begins_and_is_undone(catalog: Catalog) -> None:
    catalog.mkdir("/grid")
    guid = add(catalog, "/grid/a")
    catalog.add_replica(guid, "se1", "srm://se1/a", ReplicaStatus.AVAILABLE, pin_expiry_ns=7)
    before = catalog.begin_replica_deletion("srm://se1/a")
    assert (before.status, before.pin_expiry_ns) == (ReplicaStatus.AVAILABLE, 7)
    [now] = catalog.replicas("/grid/a")
    assert (now.status, now.pin_expiry_ns) == (ReplicaStatus.UNAVAILABLE, None)
    catalog.undo_replica_deletion(before)
    [back] = catalog.replicas("/grid/a")
    assert (back.status, back.pin_expiry_ns) == (ReplicaStatus.AVAILABLE, 7)


def test_undoing_a_deletion_leaves_a_replica_a_new_version_made_stale(catalog: Catalog) -> None:
    catalog.mkdir("/grid")
    add(catalog, "/grid/a", replicas=[("se1", "srm://se1/a")])
    before = catalog.begin_replica_deletion("srm://se1/a")
    entry = catalog.stat("/grid/a")
    catalog.commit_version(
        entry.id, size=1, checksum="00000001", checksum_type="adler32", se="se2", surl="srm://s2/a"
    )
    with pytest.raises(InvalidArgument, match="is stale, not unavailable: left as it is"):
        catalog.undo_replica_deletion(before)
    assert catalog.replicas("/grid/a")[0].status is ReplicaStatus.STALE


def test_replica_deletion_needs_write_permission(catalog: Catalog) -> None:
    catalog.mkdir("/grid", 0o755)
    add(catalog, "/grid/a", replicas=[("se1", "srm://se1/a")])
    before = catalog.begin_replica_deletion("srm://se1/a")
    bob = catalog.as_identity(BOB)
    with pytest.raises(PermissionDenied):
        bob.begin_replica_deletion("srm://se1/a")
    with pytest.raises(PermissionDenied):
        bob.undo_replica_deletion(before)
    assert catalog.replicas("/grid/a")[0].status is ReplicaStatus.UNAVAILABLE
    with pytest.raises(NotFound):
        catalog.begin_replica_deletion("srm://nowhere/x")


# -- the seam


def _parameters(function: object) -> inspect.Signature:
    """The signature without the return type (an implementation returns itself, not the API)."""
    return inspect.signature(function).replace(return_annotation=inspect.Parameter.empty)


def _members(protocol: type) -> list[str]:
    return [
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    ]


@pytest.mark.parametrize(
    ("protocol", "implementation"), [(CatalogAPI, Catalog), (MetadataAPI, Metadata)]
)
def test_the_sql_implementation_has_the_protocols_signatures(
    protocol: type, implementation: type
) -> None:
    for name in _members(protocol):
        declared = getattr(protocol, name)
        offered = getattr(implementation, name)
        if isinstance(declared, property):
            assert isinstance(offered, property), name
            continue
        assert _parameters(offered) == _parameters(declared), name


def test_transaction_is_not_part_of_the_seam() -> None:
    assert hasattr(Catalog, "transaction")
    assert not hasattr(CatalogAPI, "transaction")


def test_a_property_is_inherited_from_the_nearest_readable_ancestor(catalog: Catalog) -> None:
    catalog.mkdir("/grid/a/b/c", parents=True)
    leaf = catalog.stat("/grid/a/b/c").id
    assert catalog.inherited_property(leaf, "default_se") is None
    catalog.set_property("/grid", "default_se", "top-se")
    assert catalog.inherited_property(leaf, "default_se") == "top-se"
    catalog.set_property("/grid/a/b", "default_se", "near-se")
    assert catalog.inherited_property(leaf, "default_se") == "near-se"
    catalog.chmod("/grid/a/b", 0o311)  # searchable, not readable: passed over
    assert catalog.inherited_property(leaf, "default_se") == "top-se"
    assert catalog.inherited_property(catalog.stat("/grid").id, "other") is None


def test_a_catalog_keeps_as_many_connections_as_it_is_told(tmp_path: Path) -> None:
    """A server sizes the pool to its threads: no connection opened and closed per call."""
    url = f"sqlite:///{tmp_path / 'pool.db'}"
    catalog = Catalog.from_url(url, SUPERUSER, create=True, connections=24)
    held = [catalog.store.engine.connect() for _ in range(24)]
    pool = catalog.store.engine.pool
    assert pool.size() == 24  # type: ignore[attr-defined]  # a QueuePool's, not every pool's
    for connection in held:
        connection.close()
    assert pool.checkedin() == 24  # type: ignore[attr-defined]  # all kept, none closed
    catalog.close()
