"""rnnkit.runners.vec_isa: Inductor's check of the CPU's instruction sets, recorded once per machine.

Most tests stand in for Inductor's instruction sets (fake ISAs that say which value of
``cpp.vec_isa_ok`` they were asked under, on which thread) so they run in milliseconds; the slow
ones compare the list made from a record, and the list made after probing only the widest set,
with the list Inductor makes by probing every set, for real.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import sys
import threading

import pytest

from rnnkit.runners import machine_record, vec_isa

pytestmark = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and platform.machine() == "x86_64"),
    reason="Inductor probes instruction sets by compiling only on x86-64 (rnnkit records them there)",
)


class FakeISA:
    """An instruction set whose probe answers ``ok`` and logs (vec_isa_ok, thread) per call."""

    def __init__(self, name, ok, log):
        self.name, self.ok, self.log = name, ok, log

    def __str__(self):
        return self.name

    def build_arch_flags(self):
        return f"-m{self.name.replace(' ', ' -m')}"

    def __bool__(self):
        from torch._inductor import config

        self.log.append((self.name, config.cpp.vec_isa_ok, threading.current_thread().name))
        return self.ok if config.cpp.vec_isa_ok is None else True


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Fake ISAs ``avx2`` and ``avx512`` (both valid unless changed), a fresh list cache, a
    fresh RNNKIT_HOME; ``fake.relist()`` starts a new process, as far as these caches go."""
    from torch._inductor import config
    from torch._inductor import cpu_vec_isa as v

    monkeypatch.setenv("RNNKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(vec_isa.DISABLE_ENV, raising=False)
    log, listed = [], []
    isas = [FakeISA("avx512", True, log), FakeISA("avx2", True, log)]
    monkeypatch.setattr(v, "supported_vec_isa_list", isas)
    monkeypatch.setattr(v, "x86_isa_checker", lambda: ["avx2", "avx512"])

    class Fake:
        pass

    f = Fake()
    f.isas, f.log, f.listed, f.v = isas, log, listed, v

    def relist():
        @functools.cache
        def valid_vec_isa_list():
            listed.append(config.cpp.vec_isa_ok)
            return [i for i in isas if i]

        monkeypatch.setattr(v, "valid_vec_isa_list", valid_vec_isa_list)
        vec_isa._reset_for_tests()
        log.clear()
        listed.clear()

    f.relist = relist
    relist()
    with config.patch({"cpp.vec_isa_ok": None}):  # (as without TORCHINDUCTOR_VEC_ISA_OK)
        yield f
    vec_isa._reset_for_tests()


def _record():
    with open(vec_isa.record_path()) as fh:
        return json.load(fh)


def test_first_process_probes_the_widest_set_off_thread_and_records(fake):
    vec_isa.start()
    vec_isa.wait()
    assert vec_isa.state() == {"source": "probed", "valid": {"avx512": True, "avx2": True}, "probed": ["avx512"]}
    probes = [e for e in fake.log if e[1] is None]
    assert [e[0] for e in probes] == ["avx512"]  # one probe library: the narrower set is implied
    assert all(e[2].startswith("rnnkit-vec-isa") for e in fake.log)  # off the caller's thread
    assert ("avx2", True) in [e[:2] for e in fake.log]  # told valid, as with a record
    assert fake.listed == [True]  # Inductor's list made once
    assert [str(i) for i in fake.v.valid_vec_isa_list()] == ["avx512", "avx2"]
    (entry,) = _record()["entries"].values()
    assert entry == {"avx512": True, "avx2": True}


def test_later_process_reads_the_record_and_tells_inductor(fake):
    vec_isa.wait()
    fake.relist()  # a new process
    vec_isa.wait()
    assert vec_isa.state()["source"] == "record"
    # each probe thread and the list saw Inductor's switch set (its overrides are thread-local)
    assert fake.log and all(e[1] is True for e in fake.log)
    assert fake.listed == [True]
    assert [str(i) for i in fake.v.valid_vec_isa_list()] == ["avx512", "avx2"]
    from torch._inductor import config

    assert config.cpp.vec_isa_ok is None  # and left as it was


def test_a_failed_isa_is_probed_again_and_kept_out(fake):
    fake.isas[0].ok = False  # e.g. a compiler without AVX-512
    vec_isa.wait()
    assert vec_isa.state()["valid"] == {"avx512": False, "avx2": True}
    assert vec_isa.state()["probed"] == ["avx512", "avx2"]  # the widest failed: each one probed
    assert ("avx2", None) in [e[:2] for e in fake.log] and fake.listed == [None]
    fake.relist()
    vec_isa.wait()
    assert vec_isa.state()["source"] == "probed"  # not every ISA valid: the switch is not used
    assert all(e[1] is None for e in fake.log)
    assert [str(i) for i in fake.v.valid_vec_isa_list()] == ["avx2"]


def test_a_new_compiler_or_torch_is_a_new_key(fake, monkeypatch):
    vec_isa.wait()
    fake.relist()
    fake.isas[1].build_arch_flags = lambda: "-mavx2 -mfma -mnew"  # flags changed: another key
    vec_isa.wait()
    assert vec_isa.state()["source"] == "probed"
    assert len(_record()["entries"]) == 2


@pytest.mark.parametrize("setting", ["user_switch", "disabled", "already_listed"])
def test_left_alone(fake, monkeypatch, setting):
    from torch._inductor import config

    switch = None
    if setting == "user_switch":  # as TORCHINDUCTOR_VEC_ISA_OK=0 sets it
        switch = False
        expected = "skipped: TORCHINDUCTOR_VEC_ISA_OK is set"
    elif setting == "disabled":
        monkeypatch.setenv(vec_isa.DISABLE_ENV, "0")
        expected = f"skipped: {vec_isa.DISABLE_ENV}=0"
    else:
        fake.v.valid_vec_isa_list()
        fake.log.clear()
        expected = "already listed"
    with config.patch({"cpp.vec_isa_ok": switch}):
        vec_isa.wait()
    assert vec_isa.state()["source"] == expected
    assert fake.log == [] and not os.path.exists(vec_isa.record_path())


@pytest.mark.parametrize("content", [
    b"\x00\xff not json", b"[1, 2]", b'{"format": "other", "entries": {}}',
    b'{"format": "rnnkit-inductor-vec-isa-1", "entries": []}', b" " * (machine_record.MAX_BYTES + 1),
    b"[" * 100_000,  # nested past Python's recursion limit
])
def test_a_damaged_record_counts_as_none_and_is_replaced(fake, content):
    os.makedirs(os.path.dirname(vec_isa.record_path()))
    with open(vec_isa.record_path(), "wb") as fh:
        fh.write(content)
    vec_isa.wait()
    assert vec_isa.state()["source"] == "probed"
    assert _record()["format"] == "rnnkit-inductor-vec-isa-1"


def test_wrongly_typed_entries_are_dropped(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"format": "rnnkit-inductor-vec-isa-1",
                                "entries": {"a": {"avx2": True}, "b": {"avx2": "yes"}, "c": 3}}))
    assert vec_isa._read(str(path)) == {"a": {"avx2": True}}


def test_the_record_keeps_a_bounded_number_of_machines(tmp_path):
    path = str(tmp_path / "r.json")
    for k in range(machine_record.MAX_ENTRIES + 5):
        vec_isa._write(path, f"key{k}", {"avx2": True})
    entries = vec_isa._read(path)
    assert len(entries) == machine_record.MAX_ENTRIES and "key0" not in entries and f"key{k}" in entries
    assert [n for n in os.listdir(tmp_path) if n != "r.json"] == []  # no temporary file left


def test_an_unwritable_home_changes_nothing(fake, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("RNNKIT_HOME", str(blocker / "home"))  # a directory under a file
    vec_isa.wait()
    assert vec_isa.state()["source"] == "probed"  # (and no error)


@pytest.mark.slow
def test_the_list_from_a_record_equals_inductors_own():
    """For real: Inductor's list after its own probes, then (its list forgotten) from a record,
    and from probing the widest set only; and vec_isa's guess of the pick is the pick."""
    from torch._inductor import cpu_vec_isa as v

    vec_isa._reset_for_tests()
    probed = [str(i) for i in v.valid_vec_isa_list()]  # (probes once per test process)
    picked = str(v.pick_vec_isa()), v.pick_vec_isa().build_arch_flags()
    candidates = [i for i in v.supported_vec_isa_list if all(f in v.x86_isa_checker() for f in str(i).split())]
    vec_isa._write(vec_isa.record_path(), vec_isa._key(v, candidates), {str(i): True for i in candidates})
    v.valid_vec_isa_list.cache_clear()
    try:
        vec_isa.wait()
        if len(probed) == len(candidates):
            assert vec_isa.state()["source"] == "record"
        assert [str(i) for i in v.valid_vec_isa_list()] == probed
        assert (str(v.pick_vec_isa()), v.pick_vec_isa().build_arch_flags()) == picked
        # no record: the widest set probed (its answer cached by Inductor now), the others told
        os.remove(vec_isa.record_path())
        vec_isa._reset_for_tests()
        v.valid_vec_isa_list.cache_clear()
        vec_isa.start()
        guess = vec_isa.guess()  # (before the answer: what cpp_header builds the header with)
        vec_isa.wait()
        if len(probed) == len(candidates):
            assert vec_isa.state()["probed"] == [str(candidates[0])]
        assert [str(i) for i in v.valid_vec_isa_list()] == probed
        assert (str(v.pick_vec_isa()), v.pick_vec_isa().build_arch_flags()) == picked
        assert (str(guess), guess.build_arch_flags(), guess.build_macro()) == (*picked, v.pick_vec_isa().build_macro())
    finally:
        vec_isa._reset_for_tests()


def test_the_guess_is_the_first_candidate_unless_the_user_picks_the_width(fake, monkeypatch):
    from torch._inductor import config

    assert vec_isa.guess() is None  # not started: nothing known
    vec_isa.start()
    g = vec_isa.guess()
    assert str(g) == "avx512" and g is not fake.isas[0]  # a copy: Inductor's own object untouched
    with config.patch({"cpp.simdlen": 256}):
        assert vec_isa.guess() is None
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    assert vec_isa.guess() is None
    vec_isa.wait()
