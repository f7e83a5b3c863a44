"""A backend installed by a third-party distribution registers through entry points and passes
the same conformance suite as the built-in ones."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import highlevel as hl

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(hl.backend.name() != "numpy",
                    reason="the plugin wraps the NumPy backend; its suite runs once, in the numpy pass")
def test_plugin_backend_registers_and_passes_conformance(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT / "tests" / "plugin_backend")],
        check=True, capture_output=True, text=True, timeout=300)
    env = dict(os.environ, HIGHLEVEL_BACKEND="numpy_plugin",
               PYTHONPATH=os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]))

    probe = subprocess.run(
        [sys.executable, "-c", "import highlevel as hl; print(hl.backend.name()); "
         "print(sorted(hl.backend.available()))"],
        env=env, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    name_line, available_line = probe.stdout.strip().splitlines()[-2:]
    assert name_line == "numpy_plugin"
    assert "numpy_plugin" in available_line

    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", str(ROOT / "tests" / "backends")],
        env=env, capture_output=True, text=True, timeout=1200, cwd=str(tmp_path))
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    assert " passed" in suite.stdout.strip().splitlines()[-1]
