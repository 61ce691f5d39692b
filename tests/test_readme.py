"""The README's Python snippets run as written, in order, in an empty directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _snippets() -> list[str]:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_has_python_snippets():
    assert len(_snippets()) >= 2


def test_readme_snippets_run(tmp_path):
    # One namespace, as a reader pasting them one after the other into one session would.
    program = "\n\n".join(_snippets())
    (tmp_path / "readme_snippets.py").write_text(program)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "readme_snippets.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
