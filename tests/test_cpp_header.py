"""rnnkit.runners.cpp_header: Inductor's precompiled C++ header, built in the background.

The fast tests stand in for the build and for the instruction-set check (they record what would
have been built, with which instruction set); the slow one builds the headers for real in a
fresh process with an empty cache and checks that Inductor then compiles against them, building
no header of its own.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest

from rnnkit.runners import cpp_header, vec_isa


class ISA:
    def __init__(self, name, flags):
        self.name, self.flags = name, flags

    def __str__(self):
        return self.name

    def build_arch_flags(self):
        return self.flags

    def build_macro(self):
        return ["CPU_CAPABILITY_X"]


@pytest.fixture
def fake(monkeypatch):
    """``fake.guess`` / ``fake.picked``: vec_isa's guess and Inductor's pick; ``fake.built``:
    the (kind, isa name, flags) of each header build; ``fake.fail``: make builds raise."""
    from torch._inductor import cpu_vec_isa

    class F:
        guess = ISA("avx512", "-mavx512f")
        picked = ISA("avx512", "-mavx512f")
        source = "probed"
        fail = False
        built: list = []
        waited = 0

    f = F()
    f.built = []

    def precompile(kind, isa):
        f.built.append((kind, str(isa), isa.build_arch_flags(), f.waited))
        if f.fail:
            raise OSError("no space left on device")
        return f"/headers/{kind}-{isa.build_arch_flags()}.h"

    def wait():
        f.waited += 1

    monkeypatch.delenv(cpp_header.DISABLE_ENV, raising=False)
    monkeypatch.setattr(cpp_header, "_precompile", precompile)
    monkeypatch.setattr(vec_isa, "guess", lambda: f.guess)
    monkeypatch.setattr(vec_isa, "wait", wait)
    monkeypatch.setattr(vec_isa, "state", lambda: {"source": f.source})
    monkeypatch.setattr(cpu_vec_isa, "pick_vec_isa", lambda: f.picked)
    cpp_header._reset_for_tests()
    yield f
    cpp_header._reset_for_tests()


def test_built_with_the_guess_before_the_check_finishes(fake):
    cpp_header.prebuild(cpp_wrapper=True)
    cpp_header.prebuild(cpp_wrapper=True)  # (once per kind)
    cpp_header.wait()
    # one build, started before the instruction-set check was waited for
    assert fake.built == [("cpp_wrapper", "avx512", "-mavx512f", 0)]
    assert cpp_header.state() == {"cpp_wrapper": "/headers/cpp_wrapper--mavx512f.h"}
    assert cpp_header._guess_missed == {}


def test_a_wrong_guess_is_built_again_with_inductors_pick(fake):
    fake.picked = ISA("avx512", "-mavx512f -mavx512bf16")  # (e.g. the compiler took BF16)
    cpp_header.prebuild(cpp_wrapper=False)
    cpp_header.wait()
    assert fake.built == [("kernels", "avx512", "-mavx512f", 0), ("kernels", "avx512", "-mavx512f -mavx512bf16", 1)]
    assert cpp_header.state()["kernels"] == "/headers/kernels--mavx512f -mavx512bf16.h"
    assert cpp_header._guess_missed == {"kernels": True}


def test_no_guess_waits_for_the_check(fake):
    fake.guess = None  # (vec_isa's answer already known, or the width chosen by the user)
    cpp_header.prebuild(cpp_wrapper=False)
    cpp_header.prebuild(cpp_wrapper=True)  # each kind its own header
    cpp_header.wait()
    assert [b[0] for b in fake.built] == ["kernels", "cpp_wrapper"]
    assert all(b[3] >= 1 for b in fake.built)
    assert cpp_header._guess_missed == {}


def test_a_failed_build_is_left_to_inductor(fake):
    fake.fail = True
    cpp_header.prebuild(cpp_wrapper=False)
    cpp_header.wait()  # (no error: Inductor builds the header itself)
    assert cpp_header.state()["kernels"] == "failed: OSError: no space left on device"


def test_nothing_built_when_inductor_finds_the_instruction_sets(fake):
    fake.guess, fake.source = None, "skipped: RNNKIT_VEC_ISA_CACHE=0"
    cpp_header.prebuild(cpp_wrapper=False)
    cpp_header.wait()
    assert fake.built == []
    assert cpp_header.state()["kernels"].startswith("skipped: the instruction sets are Inductor's")


@pytest.mark.parametrize("setting", ["disabled", "inductor_off"])
def test_left_alone(fake, monkeypatch, setting):
    from torch._inductor import config

    off = setting == "inductor_off"
    if off:
        expected = "skipped: TORCHINDUCTOR_CPP_CACHE_PRECOMPILE_HEADERS=0"
    else:
        monkeypatch.setenv(cpp_header.DISABLE_ENV, "0")
        expected = "skipped: RNNKIT_PREBUILD_HEADER=0"
    with config.patch({"cpp_cache_precompile_headers": not off}):
        cpp_header.prebuild(cpp_wrapper=False)
    cpp_header.wait()
    assert fake.built == [] and fake.waited == 0
    assert cpp_header.state() == {"kernels": expected}


REAL = """
import glob, json, os, sys, tempfile, warnings
import torch
import torch._inductor.codecache as cc
from rnnkit import layers
from rnnkit.runners import cpp_header, vec_isa

class Cell(layers.Layer):  # a user-written cell
    state_size = [8]
    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 8), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(8, 8), name="recurrent_kernel")
    def call(self, x, states):
        h = torch.tanh(x @ self.kernel + states[0] @ self.recurrent_kernel)
        return h, [h]

asked = []  # what Inductor's own calls for a header returned
real = cc._precompile_header
def spy(*a, **k):
    path = real(*a, **k)
    asked.append(path)
    return path
cc._precompile_header = spy

torch.manual_seed(0)
m = layers.RNN(Cell(), jit_compile=True)  # a small step: the C++ wrapper's header
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m(torch.randn(4, 8, 3)).sum().backward()
assert m._compiled_loop().program_calls >= 1, "the compiled programs did not run"
wrapper_asked, asked[:] = list(asked), []
cpp_header.prebuild(cpp_wrapper=False)  # the kernels' header, then a kernel compiled against it
cpp_header.wait()
torch.compile(lambda x: torch.tanh(x) * 2 + 1)(torch.randn(64, 64))
print(json.dumps({
    "state": cpp_header.state(), "missed": cpp_header._guess_missed,
    "wrapper_asked": wrapper_asked, "kernels_asked": asked,
    "headers": sorted(glob.glob(os.path.join(tempfile.gettempdir(), "torchinductor_*",
                                             "precompiled_headers", "*.gch"))),
    "vec_isa": vec_isa.state(),
}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not (sys.platform.startswith("linux") and platform.machine() == "x86_64"),
                    reason="the guess of the instruction set is made on x86-64 Linux")
def test_inductor_compiles_against_the_headers_built_in_the_background(tmp_path):
    """For real, in a fresh process, nothing on disk: the guess was Inductor's pick, each header
    was built once (by rnnkit, in the background) and every call of Inductor's asked for it."""
    env = dict(os.environ, TMPDIR=str(tmp_path), RNNKIT_HOME=str(tmp_path / "home"),
               TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "inductor"))
    for k in (cpp_header.DISABLE_ENV, vec_isa.DISABLE_ENV, "TORCHINDUCTOR_VEC_ISA_OK"):
        env.pop(k, None)
    code = textwrap.dedent(REAL)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["vec_isa"]["source"] == "probed" and len(r["vec_isa"]["probed"]) == 1  # the widest set only
    assert r["missed"] == {}  # the guess was right: built once, while the probe ran
    state = r["state"]
    assert set(state) == {"cpp_wrapper", "kernels"} and state["cpp_wrapper"] != state["kernels"]
    assert r["wrapper_asked"] and set(r["wrapper_asked"]) == {state["cpp_wrapper"]}
    assert r["kernels_asked"] and set(r["kernels_asked"]) == {state["kernels"]}
    assert r["headers"] == sorted(p + ".gch" for p in state.values())  # no other header built
