"""Atomic file writes: a failed or interrupted write never replaces the user's previous file."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile

__all__ = ["atomic_write"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _final_mode(path: str) -> int:
    """The mode the written file gets: the replaced file's, else what ``open`` would give."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _naming(err: OSError, path: str) -> OSError:
    """The same error, naming the target instead of the temporary file."""
    out = type(err)(err.errno, err.strerror or str(err), path)
    out.__cause__ = err
    return out


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one step.

    If the body raises (or the process dies), ``path`` keeps its previous content and the
    temporary file is removed. The file gets the mode a plain ``open(path, "w")`` would give
    (the umask's, typically 0644) or, when it replaces a file, that file's mode. Errors name
    ``path``, not the temporary file.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with atomic_write(os.path.join(d, "a.txt"), "w") as f:
    ...     _ = f.write("hello")
    >>> open(os.path.join(d, "a.txt")).read()
    'hello'
    """
    path = os.fspath(path)
    if not path or path.endswith(os.sep):
        raise ValueError(f"expected a file name to write to, received the path {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(21, "Is a directory (expected a file name)", path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=".tmp-", suffix="-" + os.path.basename(path), dir=directory
        )
    except OSError as e:
        raise _naming(e, path) from None
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _final_mode(path))
        try:
            os.replace(tmp, path)
        except OSError as e:
            raise _naming(e, path) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
