"""The README's Python snippets run as written on the backend in use and do what they say."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_training_script_learns():
    block = next(b for b in python_blocks() if "model.fit" in b)
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    losses = namespace["history"].history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    accuracy = namespace["model"].evaluate(namespace["x"], namespace["y"], verbose=0, return_dict=True)["accuracy"]
    assert accuracy > 0.85


def test_ops_snippet_gradient_matches_numpy():
    block = next(b for b in python_blocks() if "value_and_grad" in b)
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    x = np.ones((8, 4), np.float32)
    w0 = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    logits = x @ w0
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(8), namespace["labels"]] -= 1
    expected_grad = x.T @ p / 8
    np.testing.assert_allclose(namespace["w"].numpy(), w0 - 0.1 * expected_grad, rtol=1e-5, atol=1e-6)
