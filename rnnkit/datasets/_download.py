"""Private helpers of the data-set loaders: find a file offline or download it into the cache.

Where a file is looked for, in order:

1. the ``data_dir`` argument of the loader, if given;
2. the directory named by the environment variable ``RNNKIT_DATASETS_DIR``, if set;
3. the cache, ``$RNNKIT_HOME/datasets`` (default ``~/.rnnkit/datasets``).

If none has it, it is downloaded into the cache: streamed to a temporary file beside
its final place, its checksum verified, then renamed into place in one step, so an
interrupted or corrupt download never leaves a file that looks complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
import urllib.error
import urllib.request
import zipfile

import numpy as np

from rnnkit.config import rnnkit_home

__all__ = [
    "ChecksumError",
    "DatasetUnavailableError",
    "hash_file",
    "get_file",
    "resolve_cache_dir",
    "load_npz",
]

DATASETS_DIR_ENV = "RNNKIT_DATASETS_DIR"
_CHUNK = 1 << 16
_TIMEOUT_S = 60


class ChecksumError(ValueError):
    """A file's checksum differs from the one published for it.

    >>> issubclass(ChecksumError, ValueError)
    True
    """


class DatasetUnavailableError(OSError):
    """A data file is neither on disk nor downloadable (e.g. there is no network).

    >>> issubclass(DatasetUnavailableError, OSError)
    True
    """


def resolve_cache_dir(cache_subdir: str = "datasets", root: str | os.PathLike | None = None) -> str:
    """The cache directory: ``root`` or ``$RNNKIT_HOME`` or ``~/.rnnkit``, plus ``cache_subdir``.

    >>> import os
    >>> resolve_cache_dir(root="/tmp/x") == os.path.join("/tmp/x", "datasets")
    True
    """
    if root is None:
        root = rnnkit_home()
    return os.path.join(os.path.expanduser(os.fspath(root)), cache_subdir)


def _resolve_algorithm(expected: str, hash_algorithm: str) -> str:
    if hash_algorithm == "auto":
        if len(expected) == 64:
            return "sha256"
        if len(expected) == 32:
            return "md5"
        raise ValueError(
            "hash_algorithm='auto' expects a 64-character sha256 or 32-character md5 hex "
            f"digest, received {expected!r} ({len(expected)} characters)"
        )
    if hash_algorithm not in ("sha256", "md5"):
        raise ValueError(
            f"hash_algorithm must be 'auto', 'sha256' or 'md5', received {hash_algorithm!r}"
        )
    return hash_algorithm


def hash_file(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (``algorithm`` is ``"sha256"`` or ``"md5"``).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "f")
    >>> _ = open(p, "wb").write(b"abc")
    >>> hash_file(p, "md5")
    '900150983cd24fb0d6963f7d28e17f72'
    """
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _search_dirs(data_dir, cache_subdir, cache_root) -> list[tuple[str, str]]:
    dirs = []
    if data_dir is not None:
        dirs.append((os.path.expanduser(os.fspath(data_dir)), "data_dir argument"))
    env = os.environ.get(DATASETS_DIR_ENV)
    if env:
        dirs.append((os.path.expanduser(env), f"${DATASETS_DIR_ENV}"))
    dirs.append((resolve_cache_dir(cache_subdir, cache_root), "cache"))
    return dirs


def _mismatch_message(path, origin, algorithm, expected, received) -> str:
    return (
        f"{algorithm} checksum mismatch for {path} (from {origin}): expected {expected}, "
        f"received {received}. The file is corrupt, incomplete or not the published one."
    )


def get_file(
    fname: str,
    origin: str,
    file_hash: str | None = None,
    hash_algorithm: str = "auto",
    cache_subdir: str = "datasets",
    cache_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    verify: bool = True,
    progress: bool = True,
) -> str:
    """Return a local path to ``fname``, downloading it from ``origin`` if no copy exists.

    Looks in ``data_dir``, then ``$RNNKIT_DATASETS_DIR``, then the cache
    (``cache_dir`` or ``$RNNKIT_HOME`` or ``~/.rnnkit``, plus ``cache_subdir``). A copy
    whose checksum does not match ``file_hash`` is refused (:class:`ChecksumError`), except
    a cached one, which is downloaded again. ``verify=False`` skips the checksum of files
    already on disk. ``fname`` may be an absolute path, which is then used as is.

    Raises:
        DatasetUnavailableError: no copy on disk and the download failed.
        ChecksumError: a found or downloaded file has the wrong checksum.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = open(os.path.join(d, "f.txt"), "w").write("abc")
    >>> get_file("f.txt", "https://example.invalid/f.txt", data_dir=d) == os.path.join(d, "f.txt")
    True
    """
    if not isinstance(fname, str) or not fname:
        raise ValueError(f"fname must be a non-empty file name, received {fname!r}")
    algorithm = None
    if file_hash is not None:
        file_hash = file_hash.lower()
        algorithm = _resolve_algorithm(file_hash, hash_algorithm)

    dirs = _search_dirs(data_dir, cache_subdir, cache_dir)
    stale = None
    cache_path = os.path.join(dirs[-1][0], fname)
    for directory, source in dirs:
        candidate = os.path.join(directory, fname)
        if not os.path.isfile(candidate):
            continue
        if not verify or file_hash is None:
            return candidate
        received = hash_file(candidate, algorithm)
        if received == file_hash:
            return candidate
        if source != "cache":
            raise ChecksumError(
                _mismatch_message(candidate, origin, algorithm, file_hash, received)
                + f" (found via the {source}; replace or remove it)"
            )
        # A stale or damaged cached copy: fetch a fresh one below.
        stale = f"{candidate} has the wrong {algorithm} checksum ({received}, expected {file_hash})"

    _download(origin, cache_path, file_hash, algorithm, progress, dirs, stale)
    return cache_path


def _download(origin, target, expected, algorithm, progress, dirs, stale=None) -> None:
    """Stream ``origin`` into a temporary file beside ``target``, verify it, rename it."""
    from tqdm.auto import tqdm

    directory = os.path.dirname(os.path.abspath(target))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise DatasetUnavailableError(
            f"cannot create the cache directory {directory} ({e}). "
            + _manual_hint(origin, target, dirs)
        ) from e
    fd, tmp = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=directory)
    h = hashlib.new(algorithm) if algorithm else None
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                request = urllib.request.Request(origin, headers={"User-Agent": "rnnkit"})
                with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
                    total = response.headers.get("Content-Length") if response.headers else None
                    with tqdm(
                        total=int(total) if total and total.isdigit() else None,
                        unit="B",
                        unit_scale=True,
                        unit_divisor=1024,
                        desc=f"Downloading {os.path.basename(target)}",
                        disable=not progress,
                        leave=False,
                    ) as bar:
                        while True:
                            chunk = response.read(_CHUNK)
                            if not chunk:
                                break
                            out.write(chunk)
                            if h is not None:
                                h.update(chunk)
                            bar.update(len(chunk))
            except (urllib.error.URLError, OSError, ValueError) as e:
                reason = getattr(e, "reason", None) or e
                raise DatasetUnavailableError(
                    f"could not download {origin} ({type(e).__name__}: {reason}). "
                    + _manual_hint(origin, target, dirs, stale)
                ) from e
            out.flush()
            os.fsync(out.fileno())
        if h is not None:
            received = h.hexdigest()
            if received != expected:
                raise ChecksumError(
                    _mismatch_message(f"the download of {target}", origin, algorithm, expected,
                                      received)
                    + " The partial file was deleted; try again."
                )
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _manual_hint(origin, target, dirs, stale=None) -> str:
    looked = "; ".join(f"{d} ({source})" for d, source in dirs)
    name = os.path.basename(target)
    found = f"No usable local copy of {name!r} was found (looked in: {looked}"
    found += f"; the cached copy {stale})." if stale else ")."
    return (
        f"{found} To use it offline, "
        f"download {origin} on a machine with network access and either place it at "
        f"{target} or put it in a directory and set the environment variable "
        f"{DATASETS_DIR_ENV} to that directory."
    )


# ---------------------------------------------------------------------------------------------
# Reading .npz files whose arrays hold Python objects, without arbitrary unpickling.

_NUMPY_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _RefusedGlobal(pickle.UnpicklingError):
    """The restricted unpickler met a global it does not allow."""


_READ_ERRORS = (
    ValueError, EOFError, TypeError, AttributeError, IndexError, KeyError,
    pickle.UnpicklingError, zipfile.BadZipFile,
)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays of plain Python data and nothing else."""

    def find_class(self, module, name):
        if (module, name) not in _NUMPY_GLOBALS:
            raise _RefusedGlobal(
                f"refusing to load {module}.{name}: only numpy arrays of plain Python "
                "values (lists, ints, floats, strings) are allowed"
            )
        if module == "_codecs":
            import codecs

            return codecs.encode
        if module == "numpy":
            return getattr(np, name)
        try:
            from numpy._core import multiarray
        except ImportError:  # numpy < 2
            from numpy.core import multiarray
        return getattr(multiarray, name)


def _read_npy_member(zf: zipfile.ZipFile, member: str, restricted_pickle: bool):
    fmt = np.lib.format
    with zf.open(member) as fp:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            _, _, dtype = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            _, _, dtype = fmt.read_array_header_2_0(fp)
        else:
            dtype = None
        if dtype is not None and dtype.hasobject and restricted_pickle:
            array = _RestrictedUnpickler(fp, encoding="ASCII").load()
            if not isinstance(array, np.ndarray):
                raise ValueError(f"{member} does not hold a numpy array")
            return array
    with zf.open(member) as fp:
        return fmt.read_array(fp, allow_pickle=not restricted_pickle)


def load_npz(path: str | os.PathLike, keys, trusted: bool = False) -> dict:
    """Read the arrays ``keys`` from an ``.npz`` file.

    Arrays of Python objects (e.g. lists of word indices) are unpickled with a restricted
    unpickler that only rebuilds numpy arrays of plain Python values. When ``trusted``
    (the file's checksum matched the published one) and the restricted reader refuses
    something, the file is read with numpy's full unpickler instead.

    >>> import os, tempfile, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> np.savez(p, a=np.arange(3))
    >>> load_npz(p, ["a"])["a"].tolist()
    [0, 1, 2]
    """
    path = os.fspath(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{path} is not a readable .npz (zip) file: {e}") from e
    with zf:
        members = {n[:-4]: n for n in zf.namelist() if n.endswith(".npy")}
        missing = [k for k in keys if k not in members]
        if missing:
            raise ValueError(
                f"{path} must hold the arrays {list(keys)}; missing {missing}, "
                f"found {sorted(members)}"
            )
        out = {}
        for key in keys:
            try:
                out[key] = _read_npy_member(zf, members[key], restricted_pickle=True)
                continue
            except _RefusedGlobal as e:
                refusal = e
            except _READ_ERRORS as e:
                raise ValueError(f"could not read array {key!r} of {path}: {e}") from e
            if not trusted:
                raise ValueError(
                    f"refused to load array {key!r} of {path}: {refusal}. The file's checksum "
                    "was not verified, so it is not unpickled freely."
                ) from refusal
            try:
                out[key] = _read_npy_member(zf, members[key], restricted_pickle=False)
            except _READ_ERRORS as e:
                raise ValueError(f"could not read array {key!r} of {path}: {e}") from e
    return out
