"""optimization.py: AdamW against torch.optim.AdamW, the learning-rate schedule, and weight-decay exclusions."""

import json

import keras
import numpy as np
import pytest

from bert.train import optimization
from conftest import golden


def keras_variables(arrays):
    return [keras.Variable(value, name=name) for name, value in arrays.items()]


def test_adamw_matches_torch_adamw_on_small_gradients():
    """Same updates as torch.optim.AdamW (epsilon after the bias correction), weight decay included (golden file).

    Gradients of ~1e-5 make epsilon matter: Keras's own AdamW, which adds epsilon before
    the bias correction, moves these weights visibly less.
    """
    reference = golden("torch_adamw.npz")
    hyper = json.loads(str(reference["hyper_json"]))
    names = ["kernel", "bias"]
    initial = {name: reference[f"initial_{name}"] for name in names}
    ours = keras_variables(initial)
    optimizer = optimization.AdamW(learning_rate=hyper["learning_rate"], weight_decay=hyper["weight_decay"],
                                   beta_1=hyper["beta_1"], beta_2=hyper["beta_2"], epsilon=hyper["epsilon"])
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    keras_own = keras_variables(initial)
    keras_optimizer = keras.optimizers.AdamW(learning_rate=hyper["learning_rate"], weight_decay=hyper["weight_decay"],
                                             beta_1=hyper["beta_1"], beta_2=hyper["beta_2"], epsilon=hyper["epsilon"])
    keras_optimizer.exclude_from_weight_decay(var_names=["bias"])

    for step in range(len(reference["gradients_kernel"])):
        step_gradients = [reference[f"gradients_{name}"][step] for name in names]
        optimizer.apply(step_gradients, ours)
        keras_optimizer.apply(step_gradients, keras_own)

    for variable, keras_variable, name in zip(ours, keras_own, names):
        expected = reference[f"final_{name}"]
        moved = np.abs(expected - initial[name]).max()
        np.testing.assert_allclose(variable.numpy(), expected, rtol=0, atol=1e-3 * moved, err_msg=name)
        assert np.abs(keras_variable.numpy() - expected).max() > 0.1 * moved, name


def test_schedule_warms_up_linearly_then_decays_to_zero():
    schedule = optimization.WarmupPolynomialDecay(learning_rate=1e-3, num_train_steps=100, num_warmup_steps=10)
    rates = {step: float(schedule(step)) for step in (0, 5, 9, 10, 55, 100)}
    assert rates == pytest.approx({0: 0.0, 5: 5e-4, 9: 9e-4, 10: 9e-4, 55: 4.5e-4, 100: 0.0}, abs=1e-9)
    root = optimization.WarmupPolynomialDecay(learning_rate=1e-3, num_train_steps=100, num_warmup_steps=0, power=0.5)
    assert float(root(75)) == pytest.approx(1e-3 * 0.5, rel=1e-6)


def test_schedule_decaying_after_warmup_starts_from_the_peak():
    """transformers' get_linear_schedule_with_warmup (golden file): peak at the end of warmup, then linear to 0."""
    schedule = optimization.WarmupPolynomialDecay(learning_rate=1e-3, num_train_steps=100, num_warmup_steps=10,
                                                  decay_after_warmup=True)
    rates = {step: float(schedule(step)) for step in (0, 5, 10, 55, 99, 100)}
    assert rates == pytest.approx({0: 0.0, 5: 5e-4, 10: 1e-3, 55: 5e-4, 99: 1e-3 / 90, 100: 0.0}, abs=1e-9)
    reference = golden("linear_schedule.npz")
    assert (float(reference["peak"]), int(reference["warmup"]), int(reference["total"])) == (1e-3, 10, 100)
    expected = reference["learning_rates"]
    np.testing.assert_allclose([float(schedule(step)) for step in range(100)], expected, rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("optimizer_type", ["adam", "lamb"])
def test_layer_norm_and_bias_weights_are_not_decayed(optimizer_type):
    """With zero gradients only weight decay moves a weight: kernels shrink, gamma/beta/bias do not."""
    names = ["kernel", "gamma", "beta", "bias", "output_bias"]
    variables = keras_variables({name: np.ones(3, np.float32) for name in names})
    optimizer = optimization.create_optimizer(optimizer_type, learning_rate=0.1, num_train_steps=10,
                                              num_warmup_steps=0)
    optimizer.apply([np.zeros(3, np.float32) for _ in names], variables)
    values = {name: variable.numpy() for name, variable in zip(names, variables)}
    np.testing.assert_allclose(values["kernel"], 1.0 - 0.1 * optimization.WEIGHT_DECAY, rtol=1e-6)
    for name in names[1:]:
        np.testing.assert_array_equal(values[name], 1.0, err_msg=name)


def test_bad_learning_rate_and_optimizer_type_are_rejected():
    with pytest.raises(optimization.InputError, match="--learning_rate"):
        optimization.create_optimizer("adam", learning_rate=0.0, num_train_steps=10, num_warmup_steps=1)
    with pytest.raises(optimization.InputError, match="--optimizer_type"):
        optimization.create_optimizer("sgd", learning_rate=1e-3, num_train_steps=10, num_warmup_steps=1)
