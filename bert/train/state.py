"""Training checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint `ckpt-<step>` in the output folder is one TF checkpoint bundle holding the
model weights under Google's names (so `--init_checkpoint` and Google-era tools read it),
the model's other state (dropout seed generators) as `keras_state/<variable path>`, every
optimizer variable (moments, update count, loss scale) as `optimizer/<variable path>`, and
the run's counters as `training/<name>` (the step, which also fixes the input position, and
the number of skipped fp16 overflow steps). Keying by Keras's variable path rather than by
position means a change in Keras's variable order cannot swap two same-shaped variables
(Adam's m and v) unnoticed. Paths include the names Keras numbers per process
(`adam_w`, `seed_generator_3`), which match because each script builds one model and one
optimizer, in the same order, in a fresh process. Checkpoints written before these keys
(`keras_state/<i>`, `optimizer/<i>`) restore by position.

The bundle is written atomically (see `checkpoints.save_tensors`); then the `checkpoint`
pointer file, TF's CheckpointState (so `tf.train.latest_checkpoint` reads it), is replaced
atomically to name it and the newest `keep` checkpoints; then the older ones are deleted.

Example:
    >>> state = TrainState(output_dir, model, optimizer, {"step": step, "skipped_steps": skipped})
    >>> state.restore_latest()      # the step restored from, or None for a fresh run
    >>> state.save()
"""

import glob
import os
import re

import tensorflow as tf
from tensorflow.python.util import deprecation  # pylint: disable=no-name-in-module

from bert import checkpoints
from bert.errors import InputError

_CHECKPOINT_NAME = re.compile(r"^ckpt-(\d+)$")


class TrainState:
    """Saves and restores `model`, `optimizer` and the int64 counter variables `counters`.

    `optimizer` must be built (`optimizer.build(model.trainable_variables)`) first.
    """

    def __init__(self, output_dir, model, optimizer, counters, keep=3):
        self.output_dir = output_dir
        self.model = model
        self.optimizer = optimizer
        self.counters = counters
        self.keep = keep
        named = {id(slot.variable) for slot in model.google_weights().values()}
        self._groups = {
            "keras_state": _keyed_by_path("keras_state", [v for v in model.variables if id(v) not in named]),
            "optimizer": _keyed_by_path("optimizer", optimizer.variables),
            "training": {f"training/{name}": variable for name, variable in counters.items()},
        }

    def _tensors(self):
        tensors = checkpoints.google_named_tensors(self.model)
        for variables in self._groups.values():
            tensors.update({key: tf.convert_to_tensor(variable) for key, variable in variables.items()})
        return tensors

    def save(self):
        """Writes `ckpt-<step>`, points `checkpoint` at it, prunes old ones; returns its prefix.

        The checkpoint just written counts as the newest, even below a leftover of a higher
        step, so it is never pruned. The pointer is written before the pruning, so a crash in
        between leaves it naming checkpoints that exist; the next save deletes the leftovers.
        """
        step = int(self.counters["step"].numpy())
        prefix = os.path.join(self.output_dir, f"ckpt-{step}")
        checkpoints.save_tensors(prefix, self._tensors())
        steps = [saved for saved in self.saved_steps() if saved != step] + [step]
        kept, pruned = steps[-self.keep:], steps[:-self.keep]
        with deprecation.silence():  # TF's own writer of the pointer, kept in TF 2 but flagged as TF1-era
            tf.compat.v1.train.update_checkpoint_state(os.path.abspath(self.output_dir), f"ckpt-{step}",
                                                       all_model_checkpoint_paths=[f"ckpt-{s}" for s in kept])
        for old in pruned:
            for path in glob.glob(os.path.join(self.output_dir, f"ckpt-{old}.*")):
                os.remove(path)
        return prefix

    def saved_steps(self):
        """Steps of the complete checkpoints in the output folder, oldest first."""
        steps = []
        for index in glob.glob(os.path.join(self.output_dir, "ckpt-*.index")):
            match = _CHECKPOINT_NAME.match(os.path.basename(index)[: -len(".index")])
            if match:
                steps.append(int(match.group(1)))
        return sorted(steps)

    def restore_latest(self):
        """Restores the newest checkpoint in the output folder; returns its step, or None."""
        prefix = checkpoints.latest_checkpoint(self.output_dir)
        if prefix is None:
            return None
        if not tf.io.gfile.exists(prefix + ".index"):
            raise InputError(f"{self.output_dir}/{checkpoints.POINTER_FILE}: names {prefix}, which is incomplete or gone")
        report = checkpoints.load_weights(self.model, prefix)
        if report.missing:
            raise InputError(f"{prefix}: lacks model weight '{report.missing[0]}' (a checkpoint of another model?)")
        reader = tf.train.load_checkpoint(prefix)
        for group, variables in self._groups.items():
            _restore_group(reader, prefix, group, variables)
        return int(self.counters["step"].numpy())


def _keyed_by_path(group, variables):
    """{'<group>/<variable.path>': variable}, in the order given; raises ValueError on a repeated path."""
    keyed = {}
    for variable in variables:
        key = f"{group}/{variable.path}"
        if key in keyed:
            raise ValueError(f"two variables have the Keras path '{variable.path}', so checkpoint keys would clash")
        keyed[key] = variable
    return keyed


def _restore_group(reader, prefix, group, variables):
    """Assigns `variables` {key: variable} from the checkpoint's tensors under `<group>/`.

    A checkpoint whose keys in the group are all positions (`<group>/0`, `<group>/1`, ...)
    was written before keys were paths: it is read in the run's variable order. A key on
    one side only is an InputError naming it.
    """
    saved = {name for name in reader.get_variable_to_shape_map() if name.startswith(group + "/")}
    if saved and all(name[len(group) + 1:].isdigit() for name in saved):
        variables = {f"{group}/{i}": variable for i, variable in enumerate(variables.values())}
    unknown = sorted(saved - variables.keys())
    if unknown:
        raise InputError(f"{prefix}: has '{unknown[0]}', which this run lacks (written by another model or optimizer?)")
    for name, variable in variables.items():
        _assign_checked(reader, prefix, name, variable)


def _assign_checked(reader, prefix, name, variable):
    if not reader.has_tensor(name):
        raise InputError(f"{prefix}: lacks '{name}' (written by another model or optimizer?)")
    value = reader.get_tensor(name)
    if tuple(value.shape) != tuple(variable.shape):
        raise InputError(f"{prefix}: '{name}' has shape {tuple(value.shape)} but the run has {tuple(variable.shape)}")
    variable.assign(value)
