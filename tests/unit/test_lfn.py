import errno

import pytest

from gridfs.catalog import join_lfn, split_lfn
from gridfs.errors import InvalidLFN


@pytest.mark.parametrize(
    ("lfn", "parts"),
    [
        ("/", ()),
        ("/grid", ("grid",)),
        ("/grid/gilda/", ("grid", "gilda")),
        ("/grid/gilda/trailers/amélie.mpg", ("grid", "gilda", "trailers", "amélie.mpg")),
        ("/grid/a b/c", ("grid", "a b", "c")),
        ("/grid/.hidden/..x", ("grid", ".hidden", "..x")),
    ],
)
def test_valid_lfns_split(lfn: str, parts: tuple[str, ...]) -> None:
    assert split_lfn(lfn) == parts
    assert split_lfn(join_lfn(parts)) == parts


@pytest.mark.parametrize(
    ("lfn", "reason"),
    [
        ("", "absolute"),
        ("grid/gilda", "absolute"),
        ("//grid", "normalised"),
        ("/grid//gilda", "normalised"),
        ("/grid/./gilda", "normalised"),
        ("/grid/../etc", "normalised"),
        ("/grid/gilda//", "normalised"),
        ("/grid/\0x", "NUL"),
        ("/grid/\udcff", "UTF-8"),
        ("/" + "x" * 256, "255 bytes"),
        ("/" + "/".join(["abcdefgh"] * 1000), "8191 bytes"),
    ],
)
def test_invalid_lfns_say_why(lfn: str, reason: str) -> None:
    with pytest.raises(InvalidLFN, match=reason) as info:
        split_lfn(lfn)
    # Too long is the kernel's ENAMETOOLONG; the rest EINVAL.
    assert info.value.errno == (errno.ENAMETOOLONG if "bytes" in reason else errno.EINVAL)
    assert isinstance(info.value, ValueError)


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidLFN, match="string"):
        split_lfn(b"/grid")  # type: ignore[arg-type]
