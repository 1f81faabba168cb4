"""setacl and getacl as setfacl and getfacl users type them."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_cli import fails, home, run

__all__ = ["home"]  # the fixture, shared with test_cli


def as_user(home: Path, user: str) -> tuple[str, Path]:
    """``--config`` of the same grid acting as grid user ``user`` (group ``users``)."""
    config = home / f"{user}.toml"
    text = (home / "config.toml").read_text()
    config.write_text(f'{text}\n[identity]\nuser = "{user}"\ngroups = ["users"]\n')
    return "--config", config


def test_modify_recomputes_the_mask_and_getacl_shows_what_it_cuts(home: Path) -> None:
    cfg = ("--config", home / "config.toml")
    dave = as_user(home, "dave")
    run(*cfg, "mkdir", "/grid/gilda/run")
    run(*cfg, "chmod", "751", "/grid/gilda/run")
    (home / "f.txt").write_text("for dave\n")
    run(*cfg, "cr", home / "f.txt", "/grid/gilda/run/f")
    run(*cfg, "chmod", "640", "/grid/gilda/run/f")
    run(*cfg, "setacl", "-m", "user:bob:r-x", "/grid/gilda/run/f")  # mask::r-x
    run(*cfg, "setacl", "-m", "user:dave:rw", "/grid/gilda/run/f")  # "rw": missing letters are -
    acl = run(*cfg, "getacl", "/grid/gilda/run/f").stdout
    assert "user:dave:rw-\nmask::rwx\n" in acl.replace("group::r--\n", "")
    assert run(*dave, "cat", "/grid/gilda/run/f").stdout == "for dave\n"
    run(*cfg, "setacl", "-m", "u:dave:7,m::r", "/grid/gilda/run/f")  # a mask given is kept
    acl = run(*cfg, "getacl", "/grid/gilda/run/f").stdout
    assert "user:bob:r-x\t#effective:r--\n" in acl
    assert "user:dave:rwx\t#effective:r--\n" in acl
    assert "group::r--\nmask::r--\n" in acl
    assert run(*cfg, "ls", "-l", "/grid/gilda/run").stdout.startswith("-rw-r----- ")
    run(*cfg, "setacl", "-x", "user:bob,u:dave", "/grid/gilda/run/f")
    acl = run(*cfg, "getacl", "/grid/gilda/run/f").stdout
    assert "bob" not in acl
    assert "dave" not in acl
    fails(*dave, "cat", "/grid/gilda/run/f", message="permission denied")
    run(*cfg, "setacl", "-b", "/grid/gilda/run/f")
    assert run(*cfg, "getacl", "/grid/gilda/run/f").stdout.endswith(
        "user::rw-\ngroup::r--\nother::---\n"
    )


def test_default_entries_take_their_base_from_the_access_acl(home: Path) -> None:
    cfg = ("--config", home / "config.toml")
    run(*cfg, "mkdir", "/grid/gilda/shared")
    run(*cfg, "chmod", "750", "/grid/gilda/shared")
    # The README's own example: named entries only, for the access and the default ACL.
    run(*cfg, "setacl", "-m", "user:bob:r-x,default:user:bob:r-x", "/grid/gilda/shared")
    acl = run(*cfg, "getacl", "/grid/gilda/shared").stdout.split("\n", 3)[3]
    assert acl == (
        "user::rwx\nuser:bob:r-x\ngroup::r-x\nmask::r-x\nother::---\n"
        "default:user::rwx\ndefault:user:bob:r-x\ndefault:group::r-x\n"
        "default:mask::r-x\ndefault:other::---\n"
    )
    run(*cfg, "setacl", "-m", "d:u:carol:rwx,d:g:atlas:5", "/grid/gilda/shared")
    acl = run(*cfg, "getacl", "/grid/gilda/shared").stdout
    assert "default:user:carol:rwx\n" in acl
    assert "default:group:atlas:r-x\n" in acl
    assert "default:mask::rwx\n" in acl
    run(*cfg, "setacl", "-x", "d:user:carol,default:group:atlas", "/grid/gilda/shared")
    assert "default:mask::r-x\n" in run(*cfg, "getacl", "/grid/gilda/shared").stdout
    run(*cfg, "setacl", "-k", "/grid/gilda/shared")
    acl = run(*cfg, "getacl", "/grid/gilda/shared").stdout
    assert "default" not in acl
    assert "user:bob:r-x\n" in acl
    fails(*cfg, "setacl", "-x", "user::", "/grid/gilda/shared", message="cannot be removed")
    fails(*cfg, "setacl", "-m", "user:bob:rwz", "/grid/gilda/shared", message="rwz")
