"""Backend selection at import: environment variable, config file, auto-detection, errors."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

import highlevel as hl
from highlevel import backends


def run_python(code, env_updates, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("HIGHLEVEL_BACKEND", "HIGHLEVEL_HOME")}
    env["HIGHLEVEL_HOME"] = str(tmp_path / "home")
    env.update(env_updates)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=180, cwd=str(tmp_path))


def test_name_matches_environment():
    assert hl.backend.name() == os.environ.get("HIGHLEVEL_BACKEND", hl.backend.name())
    assert hl.backend.name() in backends.available()


def test_unknown_backend_lists_available_and_install_command(tmp_path):
    result = run_python("import highlevel", {"HIGHLEVEL_BACKEND": "bogus"}, tmp_path)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "BackendNotAvailableError" in message and "'bogus'" in message
    for name in ("numpy", "torch", "tensorflow"):
        assert name in message
    assert "HIGHLEVEL_BACKEND" in message


def test_missing_engine_names_the_install_command(tmp_path):
    # sys.modules[name] = None makes importlib treat the package as not installed.
    code = "import sys; sys.modules['torch'] = None; import highlevel"
    result = run_python(code, {"HIGHLEVEL_BACKEND": "torch"}, tmp_path)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "needs the 'torch' package" in message
    assert 'pip install "highlevel[torch]"' in message


def test_config_file_chooses_backend_when_variable_unset(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "highlevel.json").write_text(json.dumps({"backend": "numpy"}))
    result = run_python("import highlevel as hl; print(hl.backend.name())", {}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "numpy"


def test_environment_variable_overrides_config_file(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "highlevel.json").write_text(json.dumps({"backend": "bogus"}))
    result = run_python("import highlevel as hl; print(hl.backend.name())", {"HIGHLEVEL_BACKEND": "numpy"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "numpy"


def test_auto_detection_takes_first_installed_engine(tmp_path):
    expected = next(n for n in ("torch", "tensorflow", "numpy")
                    if n == "numpy" or importlib.util.find_spec(n) is not None)
    result = run_python("import highlevel as hl; print(hl.backend.name())", {}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


@pytest.mark.parametrize("name, others", [("numpy", ("torch", "tensorflow")),
                                          ("torch", ("tensorflow",)),
                                          ("tensorflow", ("torch",))])
def test_import_has_no_side_effects(tmp_path, name, others):
    if not backends.available()[name]:
        pytest.skip(f"{name} is not installed")
    code = ("import sys, highlevel as hl; print(hl.backend.name()); "
            f"print(sorted(m for m in {list(others)!r} if m in sys.modules))")
    result = run_python(code, {"HIGHLEVEL_BACKEND": name}, tmp_path)
    assert result.returncode == 0, result.stderr
    printed_name, imported_others = result.stdout.strip().splitlines()[-2:]
    assert printed_name == name
    assert imported_others == "[]"
    assert not (tmp_path / "home").exists(), "import must not write a config folder"


def test_load_unknown_in_process_raises_import_error():
    with pytest.raises(backends.BackendNotAvailableError, match="bogus"):
        backends.load("bogus")
    assert issubclass(backends.BackendNotAvailableError, ImportError)


def test_broken_config_file_is_reported(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "highlevel.json").write_text("{not json")
    result = run_python("import highlevel", {}, tmp_path)
    assert result.returncode != 0
    assert "highlevel.json" in result.stderr


@pytest.mark.parametrize("request_text", ["bogus", "cuda:7"])
def test_an_unusable_device_request_is_the_same_error_on_every_backend(request_text, tmp_path):
    # No GPU here: cuda:7 cannot exist; "bogus" is no device anywhere. The current backend is asked.
    code = ("import highlevel\nprint(highlevel.backend.name())")
    result = run_python(code, {"HIGHLEVEL_BACKEND": hl.backend.name(), "HIGHLEVEL_DEVICE": request_text}, tmp_path)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("highlevel.backends.protocol.InvalidArgumentError")
    assert f"HIGHLEVEL_DEVICE={request_text!r}" in message


def test_the_cpu_device_request_works_on_every_backend(tmp_path):
    code = "import highlevel as hl\nprint(hl.backend.name(), hl.ops.convert_to_numpy(hl.ops.ones((2,))).sum())"
    result = run_python(code, {"HIGHLEVEL_BACKEND": hl.backend.name(), "HIGHLEVEL_DEVICE": "cpu"}, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [hl.backend.name(), "2.0"]
