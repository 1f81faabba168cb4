import errno
import pickle

import pytest

from gridfs import errors


@pytest.mark.parametrize(
    ("cls", "code", "builtin"),
    [
        (errors.NotFound, errno.ENOENT, FileNotFoundError),
        (errors.AlreadyExists, errno.EEXIST, FileExistsError),
        (errors.NotADirectory, errno.ENOTDIR, NotADirectoryError),
        (errors.IsADirectory, errno.EISDIR, IsADirectoryError),
        (errors.PermissionDenied, errno.EACCES, PermissionError),
        (errors.InvalidLFN, errno.EINVAL, ValueError),
        (errors.UnknownSE, errno.EINVAL, ValueError),
        (errors.NoSpace, errno.ENOSPC, OSError),
        (errors.ReadOnly, errno.EROFS, OSError),
        (errors.SymlinkLoop, errno.ELOOP, OSError),
        (errors.NoReplicaAvailable, errno.EIO, OSError),
    ],
)
def test_each_error_has_its_errno_and_builtin(cls: type, code: int, builtin: type) -> None:
    error = cls("something went wrong", "/grid/x")
    assert isinstance(error, errors.GridError)
    assert isinstance(error, builtin)
    assert error.errno == code
    assert str(error) == "something went wrong"
    assert error.filename == "/grid/x"
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert (copy.errno, str(copy), copy.filename) == (code, "something went wrong", "/grid/x")


def test_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.GridError)
    }
    assert set(errors.__all__) == public | {"from_os_error"}


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (errno.ENOENT, errors.NotFound),
        (errno.ENOSPC, errors.NoSpace),
        (errno.EDQUOT, errors.NoSpace),
        (errno.EACCES, errors.PermissionDenied),
        (errno.EIO, errors.GridError),
        (errno.ETIMEDOUT, errors.GridError),
    ],
)
def test_os_errors_map_to_grid_errors(code: int, cls: type) -> None:
    error = errors.from_os_error(OSError(code, "boom"), "/data/se/x")
    assert type(error) is cls
    assert str(error) == "/data/se/x: boom"
    assert error.filename == "/data/se/x"


def test_a_size_beyond_the_filesystems_limit_stays_efbig() -> None:
    error = errors.from_os_error(OSError(errno.EFBIG, "File too large"), "/tmp/x.staging")
    assert (type(error), error.errno) == (errors.GridError, errno.EFBIG)
