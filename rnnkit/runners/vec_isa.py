"""Inductor's check of the CPU's vector instruction sets, once per machine instead of once per process.

Before Inductor generates its first CPU kernel in a process, it finds out which SIMD instruction
sets (on x86: AMX, AVX-512 VNNI, AVX-512, AVX2) both the CPU and the C++ compiler handle: for
each one the CPU reports, it compiles a small probe library against ATen's vector headers (kept
in ``TORCHINDUCTOR_CACHE_DIR``) and loads it in a child Python process. Measured on this 2-core
machine (gcc, torch 2.13): 23 s, one probe after the other, in a process with an empty kernel
cache; 3.4 s in every later process (the child processes alone), before a single kernel of the
model compiles. PyTorch's issue pytorch/pytorch#100378 is about this cost.

The answer depends on the machine only, so rnnkit keeps it:

- It is recorded in ``$RNNKIT_HOME/inductor_vec_isa.json`` (default ``~/.rnnkit``) under a key
  of everything it depends on: the torch build, the compiler's version output, each instruction
  set's compiler flags, the instruction sets the CPU reports and the operating-system kernel.
- A process that finds its key there, every instruction set valid, lets Inductor list them
  without the probes (Inductor's own switch ``cpp.vec_isa_ok``, set only while it lists them);
  Inductor then picks the instruction set it would pick after probing.
- Otherwise (no record, or an instruction set failed its probe) Inductor probes its preferred
  (widest) instruction set, in the background of the step's tracing when :func:`start` is
  called first; when that passes, the narrower ones are told valid as with a record (why that
  is safe: :func:`_find`), else they are probed too, all at once on threads. The answer is
  recorded for the next process.

Nothing changes when the user decided (``TORCHINDUCTOR_VEC_ISA_OK``), when Inductor already
listed the instruction sets in this process, off x86-64 Linux, or with ``RNNKIT_VEC_ISA_CACHE=0``.
A record that cannot be read (damaged, too large, another format) counts as no record. Only
the compiled runner calls this (``jit_compile`` on CPU); plain ``torch.compile`` is left alone.

>>> state()["source"] in ("not started", "record", "probed", "already listed") or state()["source"].startswith("skipped")
True
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import threading

import torch

from rnnkit.config import rnnkit_home
from rnnkit.runners import machine_record

__all__ = ["DISABLE_ENV", "RECORD_NAME", "guess", "record_path", "start", "state", "wait"]

#: set to ``0`` to leave Inductor's instruction-set check as it is
DISABLE_ENV = "RNNKIT_VEC_ISA_CACHE"
#: the record's file name under ``$RNNKIT_HOME``
RECORD_NAME = "inductor_vec_isa.json"
_FORMAT = "rnnkit-inductor-vec-isa-1"

_lock = threading.Lock()
_state: dict = {"source": "not started"}
_pending = None  # (key, whether the record said all valid, the background future) until wait()
_first: list = []  # the candidate probed first (for guess())


def record_path() -> str:
    """Where the answer is kept: ``$RNNKIT_HOME/inductor_vec_isa.json``."""
    return os.path.join(rnnkit_home(), RECORD_NAME)


def state() -> dict:
    """What happened in this process: ``{"source": ..., "valid": {isa: bool}, "probed": [isa]}``.

    ``source``: ``"record"`` (read from the record, no probes), ``"probed"`` (Inductor's probes
    ran, in the background), ``"already listed"`` (Inductor had its list before rnnkit asked),
    ``"skipped: <why>"`` or ``"not started"``. ``valid`` and ``probed`` (the instruction sets
    whose probe libraries were built) are there once the answer is known.
    """
    return dict(_state)


def _read(path) -> dict:
    """The record's entries, or ``{}`` for a missing, oversized, damaged or foreign file."""
    return machine_record.read(path, _FORMAT)


def _write(path, key, valid):
    """Add ``key -> valid`` to the record (newest last, the oldest dropped past the limit),
    atomically: a failed write leaves the previous record as it was."""
    machine_record.write(path, _FORMAT, key, valid)


def _key(v, candidates) -> str:
    from torch._inductor.cpp_builder import get_compiler_version_info, get_cpp_compiler

    return machine_record.key(
        get_compiler_version_info(get_cpp_compiler()),
        [(str(i), i.build_arch_flags()) for i in candidates],
        sorted(v.x86_isa_checker()),
    )


def _skip_reason(config):
    if os.environ.get(DISABLE_ENV, "1") == "0":
        return f"{DISABLE_ENV}=0"
    if not (sys.platform.startswith("linux") and platform.machine() == "x86_64"):
        return "not x86-64 Linux"
    if config.cpp.vec_isa_ok is not None:
        return "TORCHINDUCTOR_VEC_ISA_OK is set"
    if config.is_fbcode():
        return "fbcode"
    return None


def _find(candidates, known):
    """Inductor's answer for each candidate, then its list made.

    ``known``: the record says every candidate is valid, so Inductor's probe libraries for the
    instruction sets themselves are skipped (its smaller checks, e.g. AVX-512 BF16, still run).
    Otherwise the first candidate (Inductor's preferred, the widest) is probed first, alone; when
    it passes, the narrower ones are told valid as with a record (their smaller checks still
    run), so one probe library is built instead of one per candidate (the four here: 22 s of
    CPU time, 10.9 s on two cores). Why that is safe: a probe compiles ATen's vector code with
    the set's flags and loads the library, it runs nothing; the AVX-512 sets below AMX compile
    the same code with a subset of AMX's flags, and AVX2's code and Sleef functions are the ones
    every x86-64 libtorch builds its own kernels with (its ``-mf16c`` predates AVX-512 in every
    compiler). When the first fails, every other candidate is probed, all at once on threads.
    Returns ``(valid, probed)``: each candidate's answer, and which ones Inductor probed.
    """
    from concurrent.futures import ThreadPoolExecutor

    from torch._inductor import config
    from torch._inductor import cpu_vec_isa as v

    def told(trust):  # (Inductor's config overrides are thread-local: each thread sets its own)
        return config.patch({"cpp.vec_isa_ok": True}) if trust else contextlib.nullcontext()

    def answer(isa, trust):
        with told(trust):
            return bool(isa)

    first = [] if known else candidates[:1]
    valid = {str(i): answer(i, False) for i in first}
    trust = known or all(valid.values())
    rest = candidates[len(first):]
    if rest:
        with ThreadPoolExecutor(len(rest), thread_name_prefix="rnnkit-vec-isa") as pool:
            valid.update(zip((str(i) for i in rest), pool.map(lambda i: answer(i, trust), rest)))
    with told(trust):
        v.valid_vec_isa_list()  # (every candidate's answer is cached now: nothing runs twice)
    probed = [str(i) for i in (first if trust else candidates)]
    return valid, probed


def start():
    """Begin finding Inductor's instruction sets (once per process, in the background); returns at once."""
    global _pending
    if _state["source"] != "not started":  # (every later call: no lock, no import)
        return
    with _lock:
        if _state["source"] != "not started":
            return
        from torch._inductor import config
        from torch._inductor import cpu_vec_isa as v

        why = _skip_reason(config)
        if why is None and v.valid_vec_isa_list.cache_info().currsize:
            _state.update(source="already listed")
            return
        if why is not None:
            _state.update(source=f"skipped: {why}")
            return
        flags = v.x86_isa_checker()
        candidates = [i for i in v.supported_vec_isa_list if all(f in flags for f in str(i).split())]
        if not candidates:
            _state.update(source="skipped: the CPU reports no vector instruction set Inductor uses")
            return
        key = _key(v, candidates)
        known = _read(record_path()).get(key)
        known = known is not None and all(known.get(str(i)) is True for i in candidates)
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(1, thread_name_prefix="rnnkit-vec-isa")
        _pending = (key, known, pool.submit(_find, candidates, known))
        pool.shutdown(wait=False)
        _state.update(source="finding")
        _first[:] = candidates[:1]


def guess():
    """The instruction set Inductor will pick, before its check is done: a guess, or None.

    The first candidate (the one probed first), with the flags its smaller checks add where the
    CPU has the feature (AVX-512 BF16, AMX FP16), as if the compiler takes them. It is right
    whenever that candidate passes its checks; for work that may be wasted, never for a
    decision (:mod:`rnnkit.runners.cpp_header` builds the C++ header with it while the probe
    runs, and compares it with Inductor's pick afterwards). None when :func:`start` found
    nothing to do, or when the user picks the width (``cpp.simdlen``, ``ATEN_CPU_CAPABILITY``).
    """
    import copy

    from torch._inductor import config

    first = _first[0] if _first else None
    if first is None or config.cpp.simdlen is not None or os.environ.get("ATEN_CPU_CAPABILITY"):
        return None
    isa = copy.copy(first)  # (Inductor's classes keep these answers on the instance)
    if hasattr(isa, "_is_avx512_bf16_supported"):
        isa._is_avx512_bf16_supported = bool(torch.cpu._is_avx512_bf16_supported())
    if hasattr(isa, "_is_amx_fp16_supported"):
        isa._is_amx_fp16_supported = bool(torch.cpu._is_amx_fp16_supported())
    return isa


def wait():
    """Make sure Inductor knows its instruction sets (call before it compiles a CPU kernel)."""
    global _pending
    start()
    with _lock:
        if _pending is None:
            return
        key, known, future = _pending
        _pending = None
        try:
            valid, probed = future.result()
        except Exception as e:  # noqa: BLE001  (Inductor probes again itself when it lists them)
            _state.update(source=f"skipped: the probes failed ({type(e).__name__}: {e})")
            return
        if not known:
            _write(record_path(), key, valid)
        _state.update(source="record" if known else "probed", valid=valid, probed=probed)


def _reset_for_tests():
    """Forget this process's answer (tests only; Inductor's own caches are the caller's)."""
    global _pending
    with _lock:
        if _pending is not None:
            _pending[2].result()
        _pending = None
        _first.clear()
        _state.clear()
        _state.update(source="not started")
