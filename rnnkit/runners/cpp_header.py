"""Inductor's precompiled C++ header, built in the background instead of on the compiling thread.

Inductor compiles its CPU kernels (and, with its C++ wrapper, each program's wrapper) against a
prelude header it precompiles once per machine, torch build, compiler and set of flags: kept
under ``tempfile.gettempdir()/torchinductor_<user>/precompiled_headers`` whatever
``TORCHINDUCTOR_CACHE_DIR`` says. The first program compiled on a machine builds it on the
compiling thread, one gcc process, while the other core waits: measured on this 2-core machine,
7.4 s for the kernels' ``cpp_prefix.h`` at (64, 100, 128, 256) and 6.2 s for the C++ wrapper's
``cpp_wrapper/cpu.h`` at (64, 28, 28, 64), of a 25 s first compile.

:func:`prebuild` starts that build as soon as rnnkit knows which header its programs need (a
:class:`~rnnkit.runners.partitioned.ChunkProgram` decides on the C++ wrapper before it traces its
programs), on a background thread, once Inductor's instruction sets are known (the header is
built with their flags; :mod:`rnnkit.runners.vec_isa`). It calls Inductor's own
``_precompile_header`` with the arguments Inductor's code cache gives it for a CPU kernel
(``CppPythonBindingsCodeCache``) or a C++-wrapper program (``CppWrapperCodeCache``), so when
Inductor asks for the header it finds it built, or waits on the file lock Inductor holds around
the build and then finds it. On a machine that has the header the job only checks it (0.3 s,
off the compiling thread).

Nothing is built when Inductor would not precompile (``TORCHINDUCTOR_CPP_CACHE_PRECOMPILE_HEADERS=0``,
Windows), when the instruction-set check was left to Inductor (``RNNKIT_VEC_ISA_CACHE=0``, the
user's ``TORCHINDUCTOR_VEC_ISA_OK``; it would then run on this thread), or with
``RNNKIT_PREBUILD_HEADER=0``. Any error leaves the build to Inductor, as without this module.
A process exits only after a build it started has finished (the thread is joined at exit), so
no half-written header is left behind by rnnkit.

Private PyTorch APIs used: ``torch._inductor.codecache._precompile_header`` and the code caches'
``cpp_compile_command_flags`` / ``_get_uncompiled_header``, ``torch._inductor.cpp_builder``'s
``CppBuilder`` and ``CppTorchDeviceOptions``.

>>> state().get("kernels", "not started") == "not started" or isinstance(state()["kernels"], str)
True
"""

from __future__ import annotations

import os
import sys
import threading

from rnnkit.runners import vec_isa

__all__ = ["DISABLE_ENV", "prebuild", "state", "wait"]

#: set to ``0`` to leave the precompiled header to Inductor
DISABLE_ENV = "RNNKIT_PREBUILD_HEADER"

_lock = threading.Lock()
_jobs: dict = {}  # kind -> Future, or None when skipped
_state: dict = {}  # kind -> "building", the header's path, "skipped: ..." or "failed: ..."
_guess_missed: dict = {}  # kind -> True when a header was built for a wrong guess of the ISA
_pool = None


def state() -> dict:
    """Per kind (``"kernels"``, ``"cpp_wrapper"``): ``"building"``, the precompiled header's path,
    ``"skipped: <why>"`` or ``"failed: <error>"``; kinds never asked for are absent."""
    return dict(_state)


def _skip_reason():
    if os.environ.get(DISABLE_ENV, "1") == "0":
        return f"{DISABLE_ENV}=0"
    if sys.platform.startswith("win"):
        return "Windows (Inductor precompiles no header there)"
    from torch._inductor import config

    if not config.cpp_cache_precompile_headers:
        return "TORCHINDUCTOR_CPP_CACHE_PRECOMPILE_HEADERS=0"
    return None


def prebuild(cpp_wrapper: bool) -> None:
    """Start building the header CPU programs compiled with (``cpp_wrapper``) or without Inductor's
    C++ wrapper need, in the background (once per process and kind); returns at once."""
    global _pool
    kind = "cpp_wrapper" if cpp_wrapper else "kernels"
    if kind in _jobs:  # (every later call: no lock)
        return
    with _lock:
        if kind in _jobs:
            return
        why = _skip_reason()
        if why is not None:
            _jobs[kind] = None
            _state[kind] = f"skipped: {why}"
            return
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _pool = ThreadPoolExecutor(1, thread_name_prefix="rnnkit-cpp-header")
        _state[kind] = "building"
        _jobs[kind] = _pool.submit(_job, kind)


def wait() -> None:
    """Wait for every build :func:`prebuild` started (tests, benchmarks)."""
    for job in list(_jobs.values()):
        if job is not None:
            job.result()


def _same(a, b) -> bool:
    return (str(a), a.build_arch_flags(), a.build_macro()) == (str(b), b.build_arch_flags(), b.build_macro())


def _job(kind):
    # Built with vec_isa's guess of Inductor's instruction set while its probe still runs (the
    # probe takes ~6 s here, the header ~7 s: one after the other they were 13 s of a 22 s
    # compile); checked against Inductor's pick once that is known, built again if it differs.
    guess = vec_isa.guess()
    early = None
    if guess is not None:
        try:
            early = _precompile(kind, guess)
        except Exception:  # noqa: BLE001  (tried again below with Inductor's pick)
            early = None
    vec_isa.wait()
    source = vec_isa.state()["source"]
    if source.startswith("skipped") or source == "not started":
        _state[kind] = f"skipped: the instruction sets are Inductor's to find ({source})"
        return
    try:
        from torch._inductor.cpu_vec_isa import pick_vec_isa

        picked = pick_vec_isa()
        if early is not None and _same(guess, picked):
            _state[kind] = early
        else:
            _state[kind] = _precompile(kind, picked)
            if early is not None:
                _guess_missed[kind] = True
    except Exception as e:  # noqa: BLE001  (Inductor builds the header itself when it needs it)
        _state[kind] = f"failed: {type(e).__name__}: {e}"


def _precompile(kind, isa) -> str:
    """What Inductor's ``CppCodeCache.load_async`` does for the header of a CPU kernel (Python
    bindings, no separate kernel code) or a C++-wrapper program, before it compiles one."""
    from torch._inductor import codecache, config
    from torch._inductor.cpp_builder import CppBuilder, CppTorchDeviceOptions

    cache = codecache.CppWrapperCodeCache if kind == "cpp_wrapper" else codecache.CppPythonBindingsCodeCache
    header = cache._get_uncompiled_header("cpu")
    if header is None:
        return "skipped: Inductor names no header to precompile"
    command = {
        **cache.cpp_compile_command_flags,
        "device_type": "cpu",
        "extra_flags": (),
        "use_relative_path": config.is_fbcode(),
        "vec_isa": isa,
    }
    option = CppTorchDeviceOptions(compile_only=False, min_optimize=False, **command)
    line = CppBuilder(name="o", sources="i", BuildOption=option).get_command_line()
    return codecache._precompile_header(header, line, min_optimize=False, **command)


def _reset_for_tests():
    """Forget this process's builds (tests only; Inductor's caches are the caller's)."""
    wait()
    with _lock:
        _jobs.clear()
        _state.clear()
        _guess_missed.clear()
