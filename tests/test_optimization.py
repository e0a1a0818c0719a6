"""optimization.py: AdamW against torch.optim.AdamW, the learning-rate schedule, and weight-decay exclusions."""

import keras
import numpy as np
import pytest

import optimization


def keras_variables(arrays):
    return [keras.Variable(value, name=name) for name, value in arrays.items()]


def test_adamw_matches_torch_adamw_on_small_gradients():
    """Same updates as torch.optim.AdamW (epsilon after the bias correction), weight decay included.

    Gradients of ~1e-5 make epsilon matter: Keras's own AdamW, which adds epsilon before
    the bias correction, moves these weights visibly less.
    """
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    initial = {"kernel": rng.normal(size=(4, 3)).astype(np.float32), "bias": rng.normal(size=(3,)).astype(np.float32)}
    gradients = [{name: (1e-5 * rng.normal(size=value.shape)).astype(np.float32) for name, value in initial.items()}
                 for _ in range(20)]
    learning_rate, epsilon = 1e-3, 1e-6

    ours = keras_variables(initial)
    optimizer = optimization.AdamW(learning_rate=learning_rate, weight_decay=0.01, beta_1=0.9, beta_2=0.999,
                                   epsilon=epsilon)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    keras_own = keras_variables(initial)
    keras_optimizer = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=0.01, beta_1=0.9,
                                             beta_2=0.999, epsilon=epsilon)
    keras_optimizer.exclude_from_weight_decay(var_names=["bias"])
    reference = {name: torch.nn.Parameter(torch.from_numpy(value.copy())) for name, value in initial.items()}
    torch_optimizer = torch.optim.AdamW(
        [{"params": [reference["kernel"]], "weight_decay": 0.01}, {"params": [reference["bias"]], "weight_decay": 0.0}],
        lr=learning_rate, betas=(0.9, 0.999), eps=epsilon)

    for step_gradients in gradients:
        optimizer.apply([step_gradients[name] for name in initial], ours)
        keras_optimizer.apply([step_gradients[name] for name in initial], keras_own)
        for name, parameter in reference.items():
            parameter.grad = torch.from_numpy(step_gradients[name])
        torch_optimizer.step()

    for variable, keras_variable, name in zip(ours, keras_own, initial):
        expected = reference[name].detach().numpy()
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
    """transformers' get_linear_schedule_with_warmup: peak at the end of warmup, then linear to 0."""
    schedule = optimization.WarmupPolynomialDecay(learning_rate=1e-3, num_train_steps=100, num_warmup_steps=10,
                                                  decay_after_warmup=True)
    rates = {step: float(schedule(step)) for step in (0, 5, 10, 55, 99, 100)}
    assert rates == pytest.approx({0: 0.0, 5: 5e-4, 10: 1e-3, 55: 5e-4, 99: 1e-3 / 90, 100: 0.0}, abs=1e-9)
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    reference = transformers.get_linear_schedule_with_warmup(
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3), num_warmup_steps=10, num_training_steps=100)
    expected = []
    for _ in range(100):
        expected.append(reference.get_last_lr()[0])
        reference.optimizer.step()
        reference.step()
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
