"""The examples run on the backend in use (short runs) and print correct numbers.

All the scripts run in ONE subprocess (importing an engine takes seconds), each as
``__main__`` with small ``--epochs``/size arguments; the test then checks each
script's printed results against independent computations.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RUNS = {
    "linear_regression.py": ["--epochs", "1", "--samples", "200", "--verbose", "0"],
    "gradient_descent.py": ["--epochs", "2", "--samples", "64"],
    "mlp_classifier.py": ["--epochs", "2", "--samples-per-class", "60", "--verbose", "0"],
    "gan.py": ["--epochs", "1", "--samples", "2048"],
    "cnn_digits.py": ["--epochs", "4", "--samples-per-class", "100", "--verbose", "0"],
    "autoencoder.py": ["--epochs", "3", "--samples", "1500", "--verbose", "0"],
    "rnn_sequence.py": ["--epochs", "2", "--samples", "400", "--steps", "8", "--verbose", "0"],
    "transformer_classifier.py": ["--epochs", "3", "--samples", "800", "--verbose", "0"],
}
MARK = "=== example "
DRIVER = f"""
import runpy, sys
for script, args in {RUNS!r}.items():
    print({MARK!r} + script, flush=True)
    sys.argv = [script] + args
    runpy.run_path({str(EXAMPLES)!r} + "/" + script, run_name="__main__")
"""


@pytest.fixture(scope="module")
def outputs():
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", DRIVER], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    sections = {}
    for block in done.stdout.split(MARK)[1:]:
        name, _, text = block.partition("\n")
        sections[name.strip()] = text
    assert set(sections) == set(RUNS)
    return sections


def number(text, label):
    match = re.search(re.escape(label) + r"\s*(-?[\d.]+(?:e-?\d+)?)", text)
    assert match, f"{label!r} not found in:\n{text}"
    return float(match.group(1))


def load_example(name):
    spec = importlib.util.spec_from_file_location(name[:-3], EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_linear_regression(outputs):
    text = outputs["linear_regression.py"]
    assert number(text, "final loss:") < number(text, "initial loss:") / 2
    # The printed least-squares column is the closed form of the script's data.
    module = load_example("linear_regression.py")
    x, y = module.make_data(200, np.random.default_rng(0))
    design = np.hstack([x, np.ones((200, 1))])
    solution = np.linalg.lstsq(design, y, rcond=None)[0].ravel()
    printed = [float(m) for m in re.findall(r"^\s+(?:w\[\d\]|b)\s+-?[\d.]+\s+(-?[\d.]+)$", text, re.M)]
    np.testing.assert_allclose(printed, solution, atol=1e-4)


def test_gradient_descent_curves(outputs):
    text = outputs["gradient_descent.py"]
    rows = [list(map(float, line.split()[1:])) for line in text.splitlines() if re.match(r"^\s+\d+\s+[\d.]", line)]
    assert len(rows) == 3   # before training and after each of the 2 epochs
    batch_gd, mini_batch, sgd = zip(*rows)
    assert batch_gd[0] == mini_batch[0] == sgd[0]   # same problem, same initial weights
    for curve in (batch_gd, mini_batch):
        assert curve[0] > curve[1] > curve[2]
    # With the same learning rate, more steps per epoch make more progress per epoch.
    assert sgd[1] < mini_batch[1] < batch_gd[1]


def test_mlp_classifier(outputs):
    text = outputs["mlp_classifier.py"]
    evaluated = number(text, "test accuracy:")
    predicted = number(text, "(from predict:")
    assert evaluated == pytest.approx(predicted, abs=1e-4)   # evaluate() and predict() agree
    assert evaluated > 1 / 3   # better than chance after two epochs
    assert number(text, "epochs run:") == 2


def test_gan_moves_toward_the_target(outputs):
    text = outputs["gan.py"]
    before = number(text, "before training: generated mean")
    after = number(text, "final: generated mean")
    assert abs(after - 4.0) < abs(before - 4.0)
    assert re.search(r"epoch\s+1\s+d_loss [\d.]+\s+g_loss [\d.]+", text)


def test_rnn_sequence_lstm_and_gru_learn(outputs):
    text = outputs["rnn_sequence.py"]
    for kind in ("lstm", "gru"):
        assert number(text, f"{kind}: last epoch loss:") < number(text, f"{kind}: first epoch loss:")
        evaluated = number(text, f"{kind}: test accuracy:")
        assert evaluated == pytest.approx(number(text, f"{kind}: test accuracy: {evaluated:.4f} (from predict:"),
                                          abs=1e-4)
        assert evaluated > 0.5   # better than chance (the classes are about balanced)
    module = load_example("rnn_sequence.py")
    x, y = module.make_data(50, 8, np.random.default_rng(1))
    tokens = x.argmax(axis=-1)
    score = np.isin(tokens, module.POSITIVE).sum(1) - np.isin(tokens, module.NEGATIVE).sum(1)
    np.testing.assert_array_equal(y, score > 0)
    assert np.all(score != 0) and np.allclose(x.sum(-1), 1)


def test_cnn_digits(outputs):
    text = outputs["cnn_digits.py"]
    evaluated = number(text, "test accuracy:")
    assert evaluated == pytest.approx(number(text, "(from predict:"), abs=1e-4)
    assert evaluated > 0.15   # chance is 0.1 after four short epochs
    assert number(text, "last epoch loss:") < number(text, "first epoch loss:")
    assert number(text, "epochs run:") == 4
    # The generated digits: 10 balanced classes of 8x8 images in [0, 1].
    x, y = load_example("cnn_digits.py").digit_images(5, np.random.default_rng(0))
    assert x.shape == (50, 8, 8, 1) and x.min() >= 0 and x.max() <= 1
    assert np.bincount(y).tolist() == [5] * 10


def test_autoencoder_denoises(outputs):
    text = outputs["autoencoder.py"]
    assert number(text, "last epoch loss:") < number(text, "first epoch loss:")
    # The printed noisy-input error is the script's data: recompute it independently.
    module = load_example("autoencoder.py")
    rng = np.random.default_rng(0)
    clean = module.shape_images(1500, rng)
    noisy = np.clip(clean + rng.normal(scale=0.3, size=clean.shape), 0.0, 1.0).astype(np.float32)
    expected = np.mean((noisy[1350:] - clean[1350:]) ** 2)
    assert number(text, "noisy input mse:") == pytest.approx(expected, abs=1e-5)
    assert number(text, "denoised mse:") < expected   # the model removes noise, it does not add it
    assert "code shape: (4, 4, 8)" in text


def test_transformer_classifier_learns_word_order(outputs):
    text = outputs["transformer_classifier.py"]
    assert number(text, "last epoch loss:") < number(text, "first epoch loss:")
    evaluated = number(text, "test accuracy:")
    assert evaluated == pytest.approx(number(text, "(from predict:"), abs=1e-4)
    assert evaluated > 0.6   # chance is about 0.5
    module = load_example("transformer_classifier.py")
    ids, y = module.make_data(40, 10, np.random.default_rng(3))
    for row, label in zip(ids, y):
        length = np.count_nonzero(row)
        assert np.all(row[length:] == 0) and length >= 4 and np.all(row[:length] > 0)
        a, b = np.flatnonzero(row == module.TOKEN_A), np.flatnonzero(row == module.TOKEN_B)
        assert len(a) == 1 and len(b) == 1 and label == (a[0] < b[0])
