"""`training.make_train_step` on a one-weight model: the update it applies and its `finite` flag."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert.train import losses, optimization, training

# loss = mean over rows of w * x: its gradient is mean(x), so an input of inf overflows it.
MEAN_OF_W_TIMES_X = losses.Task(
    normalizers=lambda batch: {"rows": tf.cast(tf.shape(batch["x"])[0], tf.float32)},
    losses=lambda batch, outputs, totals: {"loss": tf.reduce_sum(outputs) / totals["rows"]},
    loss_names=("loss",))


class OneWeight(keras.Model):
    def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=(), initializer="ones")

    def call(self, batch, training=False):
        return self.w * batch["x"]


def one_weight_step(optimizer, num_accumulation_steps, jit_compile=False):
    """(a built `OneWeight` model, `make_train_step`'s step for it with this optimizer)."""
    model = OneWeight()
    model.build({"x": (None,)})
    return model, training.make_train_step(tf.distribute.get_strategy(), model, optimizer, MEAN_OF_W_TIMES_X,
                                           num_accumulation_steps, jit_compile=jit_compile)


@pytest.mark.parametrize("num_accumulation_steps", [1, 2])
def test_finite_flag_and_skipped_update(num_accumulation_steps):
    model, step = one_weight_step(keras.optimizers.SGD(learning_rate=0.1), num_accumulation_steps)
    metrics, finite = step({"x": tf.constant([0.2, 0.4, 0.6, 0.8])})
    assert bool(finite) and float(metrics["loss"]) == pytest.approx(0.5)
    # gradient 0.5, under the clipping norm: w = 1 - 0.1 * 0.5
    assert float(model.w.numpy()) == pytest.approx(0.95)

    _, finite = step({"x": tf.constant([1.0, np.inf, 1.0, 1.0])})
    assert not bool(finite)


def test_clipping_norm_is_the_optimizer_constant():
    model, step = one_weight_step(keras.optimizers.SGD(learning_rate=1.0), 1)
    _, finite = step({"x": tf.constant([30.0, 50.0])})  # gradient 40, clipped to CLIP_NORM
    assert bool(finite) and float(model.w.numpy()) == pytest.approx(1.0 - optimization.CLIP_NORM)


@pytest.mark.parametrize("num_accumulation_steps", [1, 2])
def test_an_optimizer_with_slots_not_yet_built_trains_under_xla(num_accumulation_steps):
    """XLA cannot create variables inside the step: Adam's moments must exist before it is traced."""
    model, step = one_weight_step(keras.optimizers.Adam(learning_rate=0.1), num_accumulation_steps, jit_compile=True)
    metrics, finite = step({"x": tf.constant([0.2, 0.4, 0.6, 0.8])})
    assert bool(finite) and float(metrics["loss"]) == pytest.approx(0.5)
    assert float(model.w.numpy()) == pytest.approx(0.9, abs=1e-5)  # Adam's first step: lr * sign(gradient)
