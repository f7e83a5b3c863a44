"""The LSTM row of ``train_throughput.py``: LSTM(64) over (50 steps, 32 features), Dense(10), batch 64.

Contenders (each trains one epoch per call, Adam 1e-3, sparse softmax cross-entropy on logits):

* ``hl fit``   — ``hl.layers.LSTM`` in ``model.fit`` (torch: the fused ``_VF.lstm`` through
  ``hl.ops.lstm``; NumPy: its native kernel with a hand-written backward pass through time;
  TensorFlow: the protocol's step-by-step composite);
* ``raw loop`` — torch: ``torch.nn.LSTM`` + ``torch.optim.Adam``; TensorFlow: a ``tf.function``
  step with the LSTM unrolled by hand in TF ops (input projection of all steps in one
  matmul), a ``GradientTape`` and Adam in TF ops (no Keras);
* ``keras 3``  — ``keras.layers.LSTM`` on the same engine;
* ``raw torch``— (NumPy engine) the torch loop, for reference.
"""

from __future__ import annotations

import numpy as np

from harness import TFAdam, torch_adam_epoch  # the benchmarks folder is on sys.path: the scripts put it there

ROW = "lstm 50x32->64"
STEPS, FEATURES, UNITS, CLASSES, BATCH, SAMPLES = 50, 32, 64, 10, 64, 2048


def make_data(quick: bool, seed=0):
    samples = SAMPLES // 4 if quick else SAMPLES
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, STEPS, FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, size=samples).astype(np.int64)
    return x, y


def hl_contender(x, y, jit_compile=False):
    import highlevel as hl

    model = hl.Sequential([hl.Input((STEPS, FEATURES)), hl.layers.LSTM(UNITS), hl.layers.Dense(CLASSES)])
    model.compile(optimizer=hl.optimizers.Adam(learning_rate=1e-3),
                  loss=hl.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit_compile)

    def epoch():
        model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=True, verbose=0)
    return epoch


def keras_contender(x, y):
    import keras

    model = keras.Sequential([keras.Input((STEPS, FEATURES)), keras.layers.LSTM(UNITS), keras.layers.Dense(CLASSES)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def epoch():
        model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=True, verbose=0)
    return epoch


def torch_contender(x, y):
    import torch

    torch.set_num_threads(1)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(FEATURES, UNITS, batch_first=True)
            self.head = torch.nn.Linear(UNITS, CLASSES)

        def forward(self, inputs):
            _, (h, _) = self.lstm(inputs)
            return self.head(h[0])

    model = Net()
    return torch_adam_epoch(model, x, y, BATCH)


def tf_contender(x, y):
    import tensorflow as tf

    rng = np.random.default_rng(1)

    def glorot(fan_in, fan_out):
        limit = np.sqrt(6 / (fan_in + fan_out))
        return tf.Variable(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))

    params = [glorot(FEATURES, 4 * UNITS), glorot(UNITS, 4 * UNITS),
              tf.Variable(np.r_[np.zeros(UNITS), np.ones(UNITS), np.zeros(2 * UNITS)].astype(np.float32)),
              glorot(UNITS, CLASSES), tf.Variable(np.zeros(CLASSES, np.float32))]
    adam = TFAdam(params)

    @tf.function
    def train_step(xb, yb):
        kernel, recurrent, bias, dense, dense_bias = params
        with tf.GradientTape() as tape:
            projected = tf.matmul(xb, kernel) + bias          # every step's input projection at once
            h = tf.zeros((tf.shape(xb)[0], UNITS))
            c = h
            for x_t in tf.unstack(projected, axis=1):   # (slicing [:, t] would make backward O(steps^2))
                z = x_t + tf.matmul(h, recurrent)
                i, f, g, o = tf.split(z, 4, axis=1)
                c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
                h = tf.sigmoid(o) * tf.tanh(c)
            logits = tf.matmul(h, dense) + dense_bias
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits))
        grads = tape.gradient(loss, params)
        adam.apply(grads)
        return loss

    samples = len(x)

    def epoch():
        order = np.random.permutation(samples)
        for start in range(0, samples, BATCH):
            index = order[start:start + BATCH]
            train_step(tf.convert_to_tensor(x[index]), tf.convert_to_tensor(y[index]))
    return epoch


RAW = {"torch": torch_contender, "tensorflow": tf_contender}


def contenders(engine: str, quick: bool) -> tuple[dict, int]:
    """``({name: epoch function}, samples per epoch)`` for ``engine``."""
    import importlib.util

    x, y = make_data(quick)
    out = {"hl fit": hl_contender(x, y)}
    if engine in RAW:
        out["raw loop"] = RAW[engine](x, y)
    if engine == "numpy" and importlib.util.find_spec("torch"):
        out["raw torch"] = torch_contender(x, y)
    if engine != "numpy" and importlib.util.find_spec("keras"):
        out["keras 3"] = keras_contender(x, y)
    return out, len(x)
