"""Small JSON records of facts about this machine, kept in ``$RNNKIT_HOME`` between processes.

A record maps a key (a hash of everything the facts depend on: torch build, CPU, ...) to a dict
of named booleans: :mod:`rnnkit.runners.vec_isa` keeps Inductor's instruction-set check there,
:mod:`rnnkit.runners.program_passes` which library multiplies which product faster. A record
that cannot be read (missing, damaged, too large, another format) reads as empty; writes are
atomic, so a failed or concurrent write leaves a whole record (the last writer's).

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "facts.json")
>>> write(path, "demo-1", "machine", {"fast": True})
>>> read(path, "demo-1"), read(path, "demo-2")
({'machine': {'fast': True}}, {})
"""

from __future__ import annotations

import hashlib
import json
import os
import platform

__all__ = ["MAX_BYTES", "MAX_ENTRIES", "key", "read", "write"]

#: larger files are not read (a record is a few hundred bytes per machine)
MAX_BYTES = 1 << 18
#: keys kept per record (the oldest dropped first)
MAX_ENTRIES = 32


def key(*facts) -> str:
    """A record key: a hash of ``facts`` (JSON-able) and of what every fact here depends on,
    torch's build and the operating system (machine type, kernel release).

    >>> key("a") == key("a") != key("b")
    True
    """
    import torch

    parts = [torch.__version__, torch.version.git_version, os.path.dirname(torch.__file__),
             platform.machine(), platform.release(), list(facts)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def read(path, fmt: str) -> dict:
    """The record's entries ``{key: {name: bool}}``, or ``{}`` for a missing, oversized, damaged
    or foreign file (``fmt``: the format name it must carry)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            return {}
        doc = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
        return {}
    if not isinstance(doc, dict) or doc.get("format") != fmt or not isinstance(doc.get("entries"), dict):
        return {}
    return {
        k: v for k, v in doc["entries"].items()
        if isinstance(k, str) and isinstance(v, dict) and all(isinstance(b, bool) for b in v.values())
    }


def write(path, fmt: str, key: str, values: dict):
    """Set ``key -> values`` in the record (newest last, the oldest dropped past
    :data:`MAX_ENTRIES`), atomically; a read-only home leaves things as they were."""
    # (saving's helper is imported here, after rnnkit is loaded: rnnkit.saving sits above the runners)
    from rnnkit.saving.atomic import atomic_write

    entries = read(path, fmt)
    entries.pop(key, None)
    entries[key] = values
    entries = dict(list(entries.items())[-MAX_ENTRIES:])
    try:
        with atomic_write(path, "w") as f:
            json.dump({"format": fmt, "entries": entries}, f, indent=1)
    except OSError:  # the next process measures again, nothing else changes
        pass
