"""Bounded reading of model archives (rnnkit ``.rnnkit`` and Keras ``.keras`` zips).

Both readers go through these helpers so that a hostile or damaged file is refused early, in
bounded time and memory, with a :class:`FileFormatError` naming the file:

- a large member that would inflate more than 100x (:data:`MAX_EXPANSION`) is refused as a
  zip bomb before anything is inflated;
- every member is read in chunks and never past the size its zip header declares (a member
  that inflates further fails its CRC check), and the declared sizes of all members together
  must fit in this machine's memory (:func:`memory_limit`);
- JSON members are capped in size and in *nesting depth* (checked before ``json.loads``,
  which itself recurses), so a config nested 100,000 deep is a clear error, not a
  ``RecursionError``;
- a safetensors member's header is read and checked on its own (shapes, dtypes, offsets,
  and that the member's declared size is exactly what the header describes) before its data
  is read, so a weight member can be compared with the model *before* anything is inflated.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import struct
import zipfile

import numpy as np

__all__ = [
    "BOMB_FLOOR_BYTES",
    "FileFormatError",
    "MAX_EXPANSION",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_MEMBERS",
    "check_json_depth",
    "loads_json",
    "memory_limit",
    "open_zip",
    "read_json_member",
    "read_member",
    "safetensors_header",
]

MAX_MEMBERS = 10_000
# Model weights barely compress; a large member inflating 100x is a zip bomb (Keras's own
# reader uses the same ratio, from 4 GiB up).
BOMB_FLOOR_BYTES = 64 * 1024 * 1024
MAX_EXPANSION = 100
MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 100  # a deeply nested real model config is ~30 levels deep
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024  # the limit of the safetensors library itself
_CHUNK = 1 << 20
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_ST_ITEMSIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}


class FileFormatError(ValueError):
    """A model or weight file that cannot be read: not a zip, damaged, or not fitting the model.

    >>> issubclass(FileFormatError, ValueError)
    True
    """


def memory_limit() -> int:
    """The most bytes a loaded file may need: this machine's physical memory.

    ``$RNNKIT_MAX_LOAD_BYTES`` lowers (or raises) it.

    >>> memory_limit() > 0
    True
    """
    env = os.environ.get("RNNKIT_MAX_LOAD_BYTES")
    if env:
        with contextlib.suppress(ValueError):
            return max(0, int(env))
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 16 << 30


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.3g} GiB" if n >= 1 << 28 else f"{n} bytes"


# --------------------------------------------------------------------------- opening
@contextlib.contextmanager
def open_zip(path, where: str):
    """Open ``path`` as a zip archive; every problem is a :class:`FileFormatError`.

    Refuses HDF5 and empty files with a hint, more than :data:`MAX_MEMBERS` members, and
    archives whose members declare more bytes in all than :func:`memory_limit`.

    >>> import io, os, tempfile, zipfile
    >>> p = os.path.join(tempfile.mkdtemp(), "a.zip")
    >>> with zipfile.ZipFile(p, "w") as zf:
    ...     zf.writestr("x.json", '{"a": [1]}')
    >>> with open_zip(p, "file") as zf:
    ...     read_json_member(zf, "x.json", "file")
    {'a': [1]}
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise FileFormatError(f"{where}: is a directory, expected a model file")
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: no such file") from None
    except OSError as e:
        raise FileFormatError(f"{where}: cannot be read ({e})") from e
    with f:
        head = f.read(8)
        if head == _HDF5_MAGIC:
            raise FileFormatError(
                f"{where}: is an HDF5 file (a legacy Keras .h5 model?); rnnkit loads Keras 3 "
                "'.keras' zips and rnnkit model files. Weight-only '.weights.h5' files load with "
                "model.load_weights(path)."
            )
        if not head:
            raise FileFormatError(f"{where}: is empty (0 bytes), expected a zip archive")
        f.seek(0)
        try:
            zf = zipfile.ZipFile(f)
        except zipfile.BadZipFile as e:
            raise FileFormatError(
                f"{where}: is not a valid zip archive ({e}); the file is truncated, damaged or "
                "not a model file"
            ) from e
        except Exception as e:  # noqa: BLE001 - a damaged central directory raises many types
            raise FileFormatError(
                f"{where}: is not a readable zip archive ({type(e).__name__}: {e})"
            ) from e
        with zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise FileFormatError(
                    f"{where}: the archive has {len(infos)} members, more than the "
                    f"{MAX_MEMBERS} a model file may have"
                )
            for info in infos:
                if (
                    info.file_size > BOMB_FLOOR_BYTES
                    and info.file_size > MAX_EXPANSION * max(1, info.compress_size)
                ):
                    raise FileFormatError(
                        f"{where}: member {info.filename!r} would inflate from "
                        f"{info.compress_size} to {_gib(info.file_size)} (more than "
                        f"{MAX_EXPANSION}x): a zip bomb, not model weights; refusing to inflate it"
                    )
            total = sum(max(0, i.file_size) for i in infos)
            limit = memory_limit()
            if total > limit:
                raise FileFormatError(
                    f"{where}: the archive's members declare {_gib(total)} in all, more than "
                    f"this machine's memory ({_gib(limit)}); refusing to inflate it"
                )
            yield zf


# --------------------------------------------------------------------------- members
def _info(zf: zipfile.ZipFile, name: str, where: str) -> zipfile.ZipInfo:
    try:
        return zf.getinfo(name)
    except KeyError:
        raise FileFormatError(
            f"{where}: the archive has no member {name!r} (members: {sorted(zf.namelist())[:20]})"
        ) from None


def member_size(zf: zipfile.ZipFile, name: str, where: str) -> int:
    """The size member ``name`` declares in its zip header (uncompressed bytes)."""
    return _info(zf, name, where).file_size


def read_member(
    zf: zipfile.ZipFile, name: str, where: str, limit: int | None = None, start: int = 0,
    size: int | None = None,
) -> bytes:
    """The bytes of member ``name`` (or ``size`` bytes from ``start``), read in chunks.

    Refused before inflating when the header declares more than ``limit`` (default: the
    machine's memory); never more than the declared size is inflated.
    """
    info = _info(zf, name, where)
    cap = memory_limit() if limit is None else min(limit, memory_limit())
    if info.file_size > cap:
        raise FileFormatError(
            f"{where}: member {name!r} declares {_gib(info.file_size)}, more than the "
            f"{_gib(cap)} allowed for it"
        )
    want = info.file_size - start if size is None else size
    if start < 0 or want < 0 or start + want > info.file_size:
        raise FileFormatError(
            f"{where}: member {name!r} has {info.file_size} bytes, cannot read {want} from "
            f"offset {start}"
        )
    try:
        with zf.open(info) as src:
            skip = start
            while skip:
                got = src.read(min(_CHUNK, skip))
                if not got:
                    break
                skip -= len(got)
            chunks, left = [], want
            while left:
                got = src.read(min(_CHUNK, left))
                if not got:
                    break
                chunks.append(got)
                left -= len(got)
            if size is None:
                src.read(1)  # reach the end of the member: the CRC is checked there
    except Exception as e:  # noqa: BLE001 - zlib.error, BadZipFile (CRC), EOFError, ...
        raise FileFormatError(
            f"{where}: member {name!r} is damaged ({type(e).__name__}: {e})"
        ) from e
    data = b"".join(chunks)
    if len(data) != want:
        raise FileFormatError(
            f"{where}: member {name!r} is truncated: {len(data)} of {want} bytes"
        )
    return data


# --------------------------------------------------------------------------- JSON
def check_json_depth(raw: bytes, where: str, max_depth: int = MAX_JSON_DEPTH) -> int:
    """The nesting depth of the JSON text ``raw``; refused above ``max_depth``.

    Counted without parsing (strings removed first), so no recursion is involved.

    >>> check_json_depth(b'{"a": [[1], "]]]"]}', "x")
    3
    """
    stripped = _STRING.sub(b'""', raw)
    arr = np.frombuffer(stripped, dtype=np.uint8)
    step = np.zeros(arr.shape, dtype=np.int64)
    step[(arr == 0x5B) | (arr == 0x7B)] = 1  # [ {
    step[(arr == 0x5D) | (arr == 0x7D)] = -1  # ] }
    depth = int(np.cumsum(step).max()) if step.size else 0
    if depth > max_depth:
        raise FileFormatError(
            f"{where}: JSON nested {depth} levels deep, more than the {max_depth} a model "
            "config may have"
        )
    return depth


def _finite_json_number(text: str):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def loads_json(raw: bytes, where: str, name: str = "JSON"):
    """Parse ``raw`` (UTF-8 JSON) with bounded depth; ``NaN``/``Infinity`` are refused.

    >>> loads_json(b'{"units": 4}', "file", "config.json")
    {'units': 4}
    """
    if len(raw) > MAX_JSON_BYTES:
        raise FileFormatError(
            f"{where}: {name} has {len(raw)} bytes, more than the {MAX_JSON_BYTES} allowed"
        )
    check_json_depth(raw, f"{where}: {name}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileFormatError(f"{where}: {name} is not UTF-8 text ({e})") from e
    try:
        return json.loads(
            text, parse_float=_finite_json_number, parse_constant=_no_constant
        )
    except RecursionError as e:  # pragma: no cover - the depth check comes first
        raise FileFormatError(f"{where}: {name} is nested too deeply") from e
    except ValueError as e:  # JSONDecodeError, out-of-range numbers, huge integers
        raise FileFormatError(f"{where}: {name} is not valid JSON ({e})") from e


def read_json_member(zf: zipfile.ZipFile, name: str, where: str):
    """Member ``name`` parsed as JSON (size and depth bounded)."""
    raw = read_member(zf, name, where, limit=MAX_JSON_BYTES)
    return loads_json(raw, where, f"member {name!r}")


# --------------------------------------------------------------------------- safetensors
def safetensors_header(zf: zipfile.ZipFile, name: str, where: str) -> dict:
    """``{key: (dtype name, shape)}`` from member ``name``'s safetensors header, checked.

    Only the header is inflated. The data offsets must tile the data exactly and the member's
    declared size must be the header's size plus the data's: a member that declares more (or
    less) than its header describes is refused before its data is read.
    """
    size = member_size(zf, name, where)
    what = f"{where}: {name!r}"
    if size < 8:
        raise FileFormatError(f"{what} is not a valid safetensors file (only {size} bytes)")
    (n,) = struct.unpack("<Q", read_member(zf, name, where, start=0, size=8))
    if n > min(MAX_SAFETENSORS_HEADER, size - 8):
        raise FileFormatError(
            f"{what} is not a valid safetensors file: its header claims {n} bytes "
            f"(the member has {size})"
        )
    header = loads_json(read_member(zf, name, where, start=8, size=n), where, f"{name!r} header")
    if not isinstance(header, dict):
        raise FileFormatError(f"{what}: the safetensors header is not a JSON object")
    out, spans = {}, []
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        ok = (
            isinstance(entry, dict)
            and entry.get("dtype") in _ST_ITEMSIZE
            and isinstance(entry.get("shape"), list)
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                    for d in entry["shape"])
            and isinstance(entry.get("data_offsets"), list)
            and len(entry["data_offsets"]) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) and o >= 0
                    for o in entry["data_offsets"])
        )
        if not ok:
            raise FileFormatError(f"{what}: malformed safetensors entry {key!r}: {entry!r:.200}")
        begin, end = entry["data_offsets"]
        nbytes = math.prod(entry["shape"]) * _ST_ITEMSIZE[entry["dtype"]]
        if end - begin != nbytes:
            raise FileFormatError(
                f"{what}: tensor {key!r} of shape {entry['shape']} ({entry['dtype']}) needs "
                f"{nbytes} bytes, its offsets span {end - begin}"
            )
        spans.append((begin, end))
        out[key] = (entry["dtype"], tuple(entry["shape"]))
    spans.sort()
    pos = 0
    for begin, end in spans:
        if begin != pos:
            raise FileFormatError(f"{what}: safetensors data offsets overlap or leave holes")
        pos = end
    if 8 + n + pos != size:
        raise FileFormatError(
            f"{what}: the member declares {_gib(size)} but its safetensors header describes "
            f"{_gib(8 + n + pos)}; refusing to inflate it"
        )
    return out
