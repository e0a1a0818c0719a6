"""bert/train/state.py: optimizer state keyed by variable path, old positional checkpoints, TF's pointer file."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert import checkpoints
from bert import modeling
from bert.errors import InputError
from bert.train import optimization
from bert.train import state as train_state
from conftest import TINY_CONFIG


def build(trainable=slice(None)):
    """A tiny pretraining model and its built AdamW, named as a fresh process names them.

    Keras numbers auto-named objects per process (`adam_w`, `adam_w_1`, ...), and those
    names are part of the variable paths, so each build starts a new Keras session.
    `trainable` picks the model variables the optimizer updates.
    """
    keras.backend.clear_session()
    model = modeling.build_model(modeling.BertForPreTraining(modeling.BertConfig.from_dict(TINY_CONFIG)))
    optimizer = optimization.create_optimizer("adam", 1e-3, num_train_steps=10, num_warmup_steps=2)
    optimizer.build(model.trainable_variables[trainable])
    return model, optimizer


def train_a_little(model, optimizer, steps=3):
    """Moves every variable TrainState saves away from its initial value: dropout seeds, weights, m, v."""
    model(modeling.dummy_inputs(2, 8), training=True)
    rng = np.random.default_rng(0)
    variables = model.trainable_variables
    for _ in range(steps):
        optimizer.apply([rng.standard_normal(v.shape).astype(np.float32) for v in variables], variables)


def same_shape_reversed(variables):
    """`variables` with those of each shape in reverse order: a positional restore would swap m and v unnoticed."""
    by_shape = {}
    for variable in variables:
        by_shape.setdefault(tuple(variable.shape), []).append(variable)
    return [by_shape[tuple(variable.shape)].pop() for variable in variables]


def make_state(output_dir, model, optimizer, step=0, keep=3):
    counters = {"step": tf.Variable(step, dtype=tf.int64), "skipped_steps": tf.Variable(0, dtype=tf.int64)}
    return train_state.TrainState(str(output_dir), model, optimizer, counters, keep=keep)


def values_by_path(model, optimizer):
    return {v.path: v.numpy() for v in model.variables + optimizer.variables}


def assert_same_values(actual, expected):
    assert actual.keys() == expected.keys()
    for path, value in expected.items():
        np.testing.assert_array_equal(actual[path], value, err_msg=path)


def test_optimizer_variables_restore_by_path_when_keras_reorders_them(tmp_path, monkeypatch):
    model, optimizer = build()
    train_a_little(model, optimizer)
    saved = values_by_path(model, optimizer)
    written_order = [v.path for v in optimizer.variables]
    make_state(tmp_path, model, optimizer, step=3).save()
    momentum, velocity = (f"adam_w/bert_for_pre_training_bert_embeddings_word_embeddings_embeddings_{slot}"
                          for slot in ("momentum", "velocity"))
    assert not np.array_equal(saved[momentum], saved[velocity])  # so a swap would show

    fresh_model, fresh_optimizer = build()
    keras_order = type(fresh_optimizer).variables
    monkeypatch.setattr(type(fresh_optimizer), "variables",
                        property(lambda self: same_shape_reversed(keras_order.fget(self))))
    reordered = [v.path for v in fresh_optimizer.variables]
    assert reordered != written_order
    assert [saved[path].shape for path in reordered] == [saved[path].shape for path in written_order]
    assert make_state(tmp_path, fresh_model, fresh_optimizer).restore_latest() == 3
    assert_same_values(values_by_path(fresh_model, fresh_optimizer), saved)


def test_checkpoint_keys_are_variable_paths(tmp_path):
    model, optimizer = build()
    make_state(tmp_path, model, optimizer, step=1).save()
    keys = set(tf.train.load_checkpoint(str(tmp_path / "ckpt-1")).get_variable_to_shape_map())
    assert {f"optimizer/{v.path}" for v in optimizer.variables} <= keys
    assert "keras_state/seed_generator/seed_generator_state" in keys
    assert not any(key.split("/", 1)[1].isdigit() for key in keys)


def test_checkpoint_with_positional_keys_still_restores(tmp_path):
    """The form written before keys were paths: `keras_state/<i>`, `optimizer/<i>`, a one-line pointer."""
    model, optimizer = build()
    train_a_little(model, optimizer)
    saved = values_by_path(model, optimizer)
    named = {id(slot.variable) for slot in model.google_weights().values()}
    tensors = checkpoints.google_named_tensors(model)
    tensors.update({f"keras_state/{i}": v.value for i, v in enumerate(v for v in model.variables
                                                                         if id(v) not in named)})
    tensors.update({f"optimizer/{i}": v.value for i, v in enumerate(optimizer.variables)})
    tensors.update({"training/step": tf.constant(5, tf.int64), "training/skipped_steps": tf.constant(1, tf.int64)})
    checkpoints.save_tensors(str(tmp_path / "ckpt-5"), tensors)
    (tmp_path / "checkpoint").write_text("ckpt-5\n")

    fresh_model, fresh_optimizer = build()
    state = make_state(tmp_path, fresh_model, fresh_optimizer)
    assert state.restore_latest() == 5 and int(state.counters["skipped_steps"].numpy()) == 1
    assert_same_values(values_by_path(fresh_model, fresh_optimizer), saved)


@pytest.mark.parametrize("saved_with, restored_with", [(slice(None), slice(1, None)), (slice(1, None), slice(None))],
                         ids=["checkpoint_has_more", "run_has_more"])
def test_optimizer_variable_on_one_side_only_is_a_one_line_error(tmp_path, saved_with, restored_with):
    model, optimizer = build(saved_with)
    make_state(tmp_path, model, optimizer, step=2).save()
    saved_paths = {v.path for v in optimizer.variables}
    fresh_model, fresh_optimizer = build(restored_with)
    differing = saved_paths ^ {v.path for v in fresh_optimizer.variables}
    with pytest.raises(InputError) as error:
        make_state(tmp_path, fresh_model, fresh_optimizer).restore_latest()
    message = str(error.value)
    assert "\n" not in message and "ckpt-2" in message
    assert any(f"'optimizer/{path}'" in message for path in differing), message


def test_repeated_variable_path_fails_at_once(tmp_path, monkeypatch):
    model, optimizer = build()
    keras_order = type(optimizer).variables
    monkeypatch.setattr(type(optimizer), "variables", property(lambda self: keras_order.fget(self)[:1] * 2))
    with pytest.raises(ValueError, match="two variables have the Keras path 'adam_w/iteration'"):
        make_state(tmp_path, model, optimizer)


def test_pointer_is_tf_checkpoint_state_listing_the_kept_checkpoints(tmp_path):
    model, optimizer = build()
    state = make_state(tmp_path, model, optimizer, keep=2)
    for step in (1, 2, 3):
        state.counters["step"].assign(step)
        state.save()
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-3")
    kept = [str(tmp_path / name) for name in ("ckpt-2", "ckpt-3")]
    assert list(tf.train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths) == kept
    assert state.saved_steps() == [2, 3]
    assert 'model_checkpoint_path: "ckpt-3"' in (tmp_path / "checkpoint").read_text()  # relative, as TF writes it
    assert checkpoints.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-3")


def test_save_never_prunes_the_checkpoint_it_wrote(tmp_path):
    """A resumed run can save below a newer leftover (e.g. `ckpt-40` written before its pointer)."""
    model, optimizer = build()
    state = make_state(tmp_path, model, optimizer, step=40, keep=1)
    state.save()
    state.counters["step"].assign(35)
    state.save()
    assert state.saved_steps() == [35]
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-35")


def test_old_one_line_pointer_still_resumes(tmp_path):
    model, optimizer = build()
    train_a_little(model, optimizer)
    saved = values_by_path(model, optimizer)
    make_state(tmp_path, model, optimizer, step=7).save()
    (tmp_path / "checkpoint").write_text("ckpt-7\n")
    fresh_model, fresh_optimizer = build()
    assert make_state(tmp_path, fresh_model, fresh_optimizer).restore_latest() == 7
    assert_same_values(values_by_path(fresh_model, fresh_optimizer), saved)


@pytest.mark.parametrize("old_pointer", [False, True], ids=["tf_pointer", "one_line_pointer"])
def test_pointer_naming_a_missing_checkpoint_is_a_one_line_error(tmp_path, old_pointer):
    model, optimizer = build()
    state = make_state(tmp_path, model, optimizer, step=4)
    state.save()
    if old_pointer:
        (tmp_path / "checkpoint").write_text("ckpt-4\n")
    for name in os.listdir(tmp_path):
        if name.startswith("ckpt-4."):
            os.remove(tmp_path / name)
    with pytest.raises(InputError, match=r"checkpoint: names .*ckpt-4, which is incomplete or gone$"):
        state.restore_latest()
