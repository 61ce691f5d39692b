"""UEA & UCR time-series classification archive: reader for the ``.ts`` format and loader.

The ``.ts`` format (of sktime/aeon) is a header of ``@`` tags (``@problemName``,
``@univariate``, ``@dimensions``, ``@equalLength``, ``@seriesLength``, ``@missing``,
``@classLabel true a b c`` ...), then ``@data`` and one line per case: the dimensions
separated by ``:``, the values of a dimension by ``,``, the label last; ``?`` is a missing
value. Lines starting with ``#`` are comments.

``JapaneseVowels`` ships inside rnnkit (gzipped, see ``data/README.md`` for its
provenance and citation) and loads without a network. Other data sets are looked for in
``path``, ``$RNNKIT_DATASETS_DIR`` and the cache (``$RNNKIT_HOME/datasets/uea``), as
``<Name>_TRAIN.ts``/``<Name>_TEST.ts`` (optionally ``.gz``, optionally in a ``<Name>/``
folder) or ``<Name>.zip``; failing that, ``<Name>.zip`` is downloaded from
timeseriesclassification.com.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import shutil
import warnings
import zipfile
from dataclasses import dataclass

import numpy as np

from rnnkit.datasets._download import (
    DATASETS_DIR_ENV,
    DatasetUnavailableError,
    get_file,
    resolve_cache_dir,
)
from rnnkit.saving.atomic import atomic_write

__all__ = ["BUNDLED", "UEASplit", "load_data", "read_ts"]

ORIGIN_TEMPLATE = "https://www.timeseriesclassification.com/aeon-toolkit/{name}.zip"
BUNDLED = (
    "JapaneseVowels",
    "ArrowHead",
    "BasicMotions",
    "GunPoint",
    "ItalyPowerDemand",
    "OSULeaf",
    "PickupGestureWiimoteZ",
)
_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
# Zip members: the largest .ts file of the archive is well under 2 GiB, and numbers written as
# text compress about 3-10x; a member inflating more than 100x is a zip bomb.
_MAX_MEMBER_BYTES = 2 << 30
_BOMB_FLOOR_BYTES = 16 << 20
_MAX_EXPANSION = 100
_F32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True, eq=False, repr=False)
class UEASplit:
    """One split (train or test) of a time-series data set, zero-padded to a common length.

    Attributes:
        x: float32 array ``(N, T, D)``: N cases, T steps (the longest case), D dimensions.
            Steps past a case's length are 0; missing values (``?`` in the file) are NaN.
        y: ``(N,)`` int64 class ids ``0..C-1`` in the order of ``@classLabel``
            (float32 targets for a regression file with ``@targetLabel true``).
        lengths: ``(N,)`` int64 number of real steps of each case.
        classes: the class names from the file's ``@classLabel``; ``classes[y[i]]`` is
            the label of case ``i``. Empty for regression data.
        name: the ``@problemName`` (or the file name).

    Iterating gives ``(x, y)``, so ``(x_train, y_train), (x_test, y_test) = load_data(...)``
    works as for the Keras data sets.

    >>> import io
    >>> s = read_ts(io.StringIO("@classLabel true a b\\n@data\\n1,2,3:4,5,6:b\\n7:8:a\\n"))
    >>> s
    UEASplit(name='', x=float32(2, 3, 2), y=int64(2,), classes=('a', 'b'))
    >>> s.lengths.tolist(), s.mask.tolist(), s.y.tolist()
    ([3, 1], [[True, True, True], [True, False, False]], [1, 0])
    >>> x, y = s
    """

    x: np.ndarray
    y: np.ndarray
    lengths: np.ndarray
    classes: tuple[str, ...]
    name: str = ""

    @property
    def mask(self) -> np.ndarray:
        """Boolean ``(N, T)`` array, True at the real (not padded) steps."""
        return np.arange(self.x.shape[1])[None, :] < self.lengths[:, None]

    @property
    def num_classes(self) -> int:
        """Number of classes ``C`` (0 for regression data)."""
        return len(self.classes)

    def __iter__(self):
        return iter((self.x, self.y))

    def __repr__(self) -> str:
        return (
            f"UEASplit(name={self.name!r}, x={self.x.dtype}{self.x.shape}, "
            f"y={self.y.dtype}{self.y.shape}, classes={self.classes})"
        )


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass
class _Parsed:
    name: str
    cases: list  # per case: list of D float64 arrays
    labels: list  # per case: label string (or None)
    classes: tuple
    regression: bool
    source: str


def _parse_bool(value, tag, where):
    v = value.lower()
    if v not in ("true", "false"):
        raise ValueError(f"{where}: {tag} must be 'true' or 'false', received {value!r}")
    return v == "true"


def _parse(text_lines, source: str) -> _Parsed:
    header: dict = {}
    classes: tuple = ()
    has_class, regression, in_data = False, False, False
    cases, labels = [], []
    n_dims = None
    for lineno, raw in enumerate(text_lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {lineno}"
        if not in_data:
            if not line.startswith("@"):
                raise ValueError(f"{where}: expected an @tag or @data before the data, got "
                                 f"{line[:60]!r}")
            parts = line.split()
            tag = parts[0].lower()
            if tag == "@data":
                in_data = True
                if header.get("@timestamps") == "true":
                    raise ValueError(f"{source}: files with @timeStamps true are not supported")
                continue
            if tag == "@classlabel":
                if len(parts) < 2:
                    raise ValueError(f"{where}: @classLabel needs 'true <labels...>' or 'false'")
                has_class = _parse_bool(parts[1], "@classLabel", where)
                if has_class:
                    classes = tuple(parts[2:])
                    if not classes:
                        raise ValueError(f"{where}: @classLabel true lists no class labels")
                    if len(set(classes)) != len(classes):
                        raise ValueError(f"{where}: @classLabel repeats a label: {classes}")
                continue
            if tag == "@targetlabel":
                regression = len(parts) > 1 and _parse_bool(parts[1], "@targetLabel", where)
                continue
            value = " ".join(parts[1:])
            header[tag] = value if tag == "@problemname" else value.lower()
            continue
        # a data line
        labelled = has_class or regression
        fields = line.split(":")
        if labelled:
            if len(fields) < 2:
                raise ValueError(f"{where}: expected '<dim>:...:<label>', got {line[:60]!r}")
            label = fields[-1].strip()
            fields = fields[:-1]
            if has_class and label not in classes:
                raise ValueError(
                    f"{where}: label {label!r} is not one of the @classLabel labels {classes}"
                )
        else:
            label = None
        if n_dims is None:
            n_dims = len(fields)
        elif len(fields) != n_dims:
            raise ValueError(
                f"{where}: expected {n_dims} dimensions (as in the first case), got {len(fields)}"
            )
        dims = []
        for field in fields:
            field = field.strip()
            try:
                values = [math.nan if v.strip() == "?" else float(v) for v in field.split(",")] \
                    if field else []
            except ValueError as e:
                raise ValueError(f"{where}: a value is not a number ({e})") from e
            arr = np.asarray(values, dtype=np.float64)
            with np.errstate(invalid="ignore"):
                bad = np.abs(arr) > _F32_MAX  # NaN ('?') compares False
            if bad.any():
                raise ValueError(
                    f"{where}: value {float(arr[bad][0])!r} is outside the float32 range (|x| <= "
                    f"{_F32_MAX:.4g}); expected finite numbers or '?' for a missing value"
                )
            dims.append(arr)
        cases.append(dims)
        labels.append(label)
    if not in_data:
        raise ValueError(f"{source}: no @data line; is this a .ts file?")
    if not cases:
        raise ValueError(f"{source}: no cases after @data")
    _check_header(header, n_dims, cases, source)
    return _Parsed(header.get("@problemname", ""), cases, labels, classes, regression, source)


def _check_header(header, n_dims, cases, source) -> None:
    if "@dimensions" in header:
        try:
            declared = int(header["@dimensions"])
        except ValueError as e:
            raise ValueError(f"{source}: @dimensions must be an int, got "
                             f"{header['@dimensions']!r}") from e
        if declared != n_dims:
            raise ValueError(f"{source}: @dimensions says {declared} but the cases have {n_dims}")
    if header.get("@univariate") == "true" and n_dims != 1:
        raise ValueError(f"{source}: @univariate true but the cases have {n_dims} dimensions")
    if header.get("@equallength") == "true" and "@serieslength" in header:
        try:
            length = int(header["@serieslength"])
        except ValueError as e:
            raise ValueError(f"{source}: @seriesLength must be an int, got "
                             f"{header['@serieslength']!r}") from e
        for i, dims in enumerate(cases):
            if any(len(d) != length for d in dims):
                raise ValueError(
                    f"{source}: @equalLength true with @seriesLength {length}, but case {i} "
                    f"has lengths {[len(d) for d in dims]}"
                )


def _to_split(parsed: _Parsed, classes, steps=None) -> UEASplit:
    lengths = np.array([max(len(d) for d in dims) for dims in parsed.cases], dtype=np.int64)
    n_dims = len(parsed.cases[0])
    steps = int(lengths.max()) if steps is None else steps
    x = np.zeros((len(parsed.cases), steps, n_dims), dtype=np.float32)
    for i, dims in enumerate(parsed.cases):
        for j, values in enumerate(dims):
            x[i, : len(values), j] = values
    real = x[np.arange(steps)[None, :] < lengths[:, None]]  # (real steps, D)
    if real.size and np.isnan(real).all():
        raise ValueError(
            f"{parsed.source}: every value is missing ('?'): there is nothing to learn from"
        )
    empty = [j for j in range(n_dims) if real.size and np.isnan(real[:, j]).all()]
    if empty:
        warnings.warn(
            f"{parsed.source}: dimension(s) {empty} hold only missing values ('?'); they carry "
            "no information",
            stacklevel=3,
        )
    if parsed.regression:
        try:
            y = np.array([float(v) for v in parsed.labels], dtype=np.float32)
        except ValueError as e:
            raise ValueError(f"{parsed.source}: a regression target is not a number ({e})") from e
    elif classes:
        lookup = {c: i for i, c in enumerate(classes)}
        try:
            y = np.array([lookup[v] for v in parsed.labels], dtype=np.int64)
        except KeyError as e:
            raise ValueError(
                f"{parsed.source}: label {e.args[0]!r} is not one of the classes {classes}"
            ) from None
    else:
        raise ValueError(f"{parsed.source}: the file has no labels (@classLabel false)")
    return UEASplit(x=x, y=y, lengths=lengths, classes=tuple(classes), name=parsed.name)


def _open_text(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _parse_source(source) -> _Parsed:
    if hasattr(source, "read"):
        return _parse(source, getattr(source, "name", "<stream>"))
    path = os.fspath(source)
    with _open_text(path) as f:
        return _parse(f, path)


def read_ts(source, classes=None) -> UEASplit:
    """Read one ``.ts`` file (a path, a ``.ts.gz`` path or an open text file) into a split.

    Args:
        source: path or text stream.
        classes: class names defining the ids ``0..C-1``; default: the file's
            ``@classLabel`` list.

    Returns:
        A :class:`UEASplit`, padded to the file's longest case.

    >>> import io
    >>> split = read_ts(io.StringIO(
    ...     "@problemName Toy\\n@univariate true\\n@classLabel true x y\\n@data\\n"
    ...     "1,?,3:y\\n4,5:x\\n"))
    >>> split.x[:, :, 0].tolist(), split.y.tolist(), split.classes
    ([[1.0, nan, 3.0], [4.0, 5.0, 0.0]], [1, 0], ('x', 'y'))
    """
    parsed = _parse_source(source)
    return _to_split(parsed, tuple(classes) if classes is not None else parsed.classes)


# ---------------------------------------------------------------------------------------------
# Locating the files


def _candidates(directory: str, name: str):
    for sub in ("", name, os.path.join("uea", name)):
        for ext in (".ts", ".ts.gz"):
            train = os.path.join(directory, sub, f"{name}_TRAIN{ext}")
            test = os.path.join(directory, sub, f"{name}_TEST{ext}")
            yield train, test


def _find_in(directory: str, name: str):
    for train, test in _candidates(directory, name):
        if os.path.isfile(train) and os.path.isfile(test):
            return train, test
    return None


def _extract(zip_path: str, name: str, target_dir: str):
    """Copy ``<name>_TRAIN.ts`` and ``<name>_TEST.ts`` out of a zip into ``target_dir``.

    Only these two members are read, and they are written under names chosen here, so
    member paths such as ``../../x`` cannot place files anywhere else.
    """
    wanted = {f"{name}_TRAIN.ts": None, f"{name}_TEST.ts": None}
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
                if base in wanted and (
                    wanted[base] is None or len(info.filename) < len(wanted[base].filename)
                ):
                    wanted[base] = info
            missing = [k for k, v in wanted.items() if v is None]
            if missing:
                raise ValueError(
                    f"{zip_path} does not contain {missing}; it holds "
                    f"{[i.filename for i in zf.infolist()][:20]}"
                )
            out = {}
            for base, info in wanted.items():
                if info.file_size > _MAX_MEMBER_BYTES:
                    raise ValueError(f"{zip_path}: member {info.filename} is implausibly large "
                                     f"({info.file_size} bytes, more than {_MAX_MEMBER_BYTES})")
                if (info.file_size > _BOMB_FLOOR_BYTES
                        and info.file_size > _MAX_EXPANSION * max(1, info.compress_size)):
                    raise ValueError(
                        f"{zip_path}: member {info.filename} would inflate from "
                        f"{info.compress_size} to {info.file_size} bytes (more than "
                        f"{_MAX_EXPANSION}x): a zip bomb, not a data set; refusing to extract it"
                    )
                dest = os.path.join(target_dir, base)
                with zf.open(info) as src, atomic_write(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst)  # the CRC is checked at the end of the member
                out[base] = dest
    except zipfile.BadZipFile as e:
        raise ValueError(f"{zip_path} is not a valid zip archive: {e}") from e
    return out[f"{name}_TRAIN.ts"], out[f"{name}_TEST.ts"]


def _locate(name: str, path, progress: bool):
    looked = []
    if path is not None:
        directory = os.path.expanduser(os.fspath(path))
        found = _find_in(directory, name)
        if found:
            return found
        looked.append(f"{directory} (path argument)")
    if name in BUNDLED:
        found = _find_in(_DATA_DIR, name)
        if found:
            return found
    env = os.environ.get(DATASETS_DIR_ENV)
    if env:
        found = _find_in(os.path.expanduser(env), name)
        if found:
            return found
        looked.append(f"{env} (${DATASETS_DIR_ENV})")
    cache = os.path.join(resolve_cache_dir("datasets"), "uea", name)
    found = _find_in(cache, name)
    if found:
        return found
    looked.append(f"{cache} (cache)")

    origin = ORIGIN_TEMPLATE.format(name=name)
    try:
        zip_path = get_file(
            f"{name}.zip",
            origin,
            cache_subdir=os.path.join("datasets", "uea"),
            data_dir=path,
            progress=progress,
        )
    except DatasetUnavailableError as e:
        raise DatasetUnavailableError(
            f"UEA/UCR data set {name!r} is not available offline (looked for "
            f"{name}_TRAIN.ts and {name}_TEST.ts, plain or .gz, in: {'; '.join(looked)}) and "
            f"could not be downloaded. Names are case-sensitive, e.g. 'JapaneseVowels'. "
            f"To use it offline, put {name}_TRAIN.ts and {name}_TEST.ts (or {name}.zip from "
            f"{origin}) in a directory and pass it as path= or set {DATASETS_DIR_ENV}. "
            f"Details: {e}"
        ) from e
    try:
        return _extract(zip_path, name, cache)
    except ValueError:
        if os.path.dirname(os.path.abspath(zip_path)) == os.path.dirname(cache):
            os.remove(zip_path)  # a bad download in our own cache: do not keep it
        raise


def load_data(name: str, path=None, *, progress: bool = True):
    """Load a UEA/UCR data set as ``(train, test)``, two :class:`UEASplit`.

    Both splits are zero-padded at the end to the same number of steps (the longest
    case of either), so ``x_train`` and ``x_test`` share their ``(T, D)``. Class ids
    follow the order of the training file's ``@classLabel``.

    Args:
        name: the data set's name in the archive, e.g. ``"JapaneseVowels"`` (bundled),
            ``"GunPoint"``, ``"BasicMotions"``.
        path: optional directory holding ``<name>_TRAIN.ts`` and ``<name>_TEST.ts``
            (plain or ``.gz``, directly or in ``<name>/``) or ``<name>.zip``.
        progress: show a progress bar while downloading.

    Returns:
        ``(train, test)``; each also unpacks as ``(x, y)``, and has ``lengths``,
        ``mask``, ``classes``.

    Raises:
        DatasetUnavailableError: not bundled, not found on disk and not downloadable.
        ValueError: a malformed file or an invalid name.

    >>> train, test = load_data("JapaneseVowels")
    >>> train.x.shape, test.x.shape, train.num_classes
    ((270, 29, 12), (370, 29, 12), 9)
    >>> (x_train, y_train), (x_test, y_test) = load_data("JapaneseVowels")
    >>> int(test.lengths.min()), int(test.lengths.max()), y_train[:3].tolist()
    (7, 29, [0, 0, 0])
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            "name must be a data set name of letters, digits, '_' or '-' (e.g. "
            f"'JapaneseVowels'), received {name!r}"
        )
    train_path, test_path = _locate(name, path, progress)
    train, test = _parse_source(train_path), _parse_source(test_path)
    n_train, n_test = len(train.cases[0]), len(test.cases[0])
    if n_train != n_test:
        raise ValueError(
            f"{train_path} has {n_train} dimensions but {test_path} has {n_test}"
        )
    if train.regression != test.regression:
        raise ValueError(f"{train_path} and {test_path} disagree on classification/regression")
    classes = train.classes
    steps = max(max(len(d) for d in dims) for dims in train.cases + test.cases)
    return _to_split(train, classes, steps), _to_split(test, classes, steps)
