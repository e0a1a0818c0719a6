"""Training checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint `ckpt-<step>` in the output folder is one TF checkpoint bundle holding the
model weights under Google's names (so `--init_checkpoint` and Google-era tools read it),
the model's other state (dropout seed generators) as `keras_state/<i>`, every optimizer
variable (moments, update count, loss scale) as `optimizer/<i>`, and the run's counters
as `training/<name>` (the step, which also fixes the input position, and the number of
skipped fp16 overflow steps). The bundle is written atomically (see
`checkpoints.save_tensors`); the `checkpoint` pointer file is replaced atomically after
it, and only the newest `keep` checkpoints are kept.

Example:
    >>> state = TrainState(output_dir, model, optimizer, {"step": step, "skipped_steps": skipped})
    >>> state.restore_latest()      # the step restored from, or None for a fresh run
    >>> state.save()
"""

import glob
import os
import re

import tensorflow as tf

from bert import checkpoints
from bert import files
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
        self._slots = model.google_weights()
        named = {id(slot.variable) for slot in self._slots.values()}
        self._other_model_variables = [v for v in model.variables if id(v) not in named]

    def _tensors(self):
        tensors = checkpoints.google_named_tensors(self.model)
        tensors.update({f"keras_state/{i}": v.value for i, v in enumerate(self._other_model_variables)})
        tensors.update({f"optimizer/{i}": v.value for i, v in enumerate(self.optimizer.variables)})
        tensors.update({f"training/{name}": v.value() for name, v in self.counters.items()})
        return {name: tf.convert_to_tensor(value) for name, value in tensors.items()}

    def save(self):
        """Writes `ckpt-<step>`, points `checkpoint` at it, prunes old ones; returns its prefix."""
        step = int(self.counters["step"].numpy())
        prefix = os.path.join(self.output_dir, f"ckpt-{step}")
        checkpoints.save_tensors(prefix, self._tensors())
        files.write_text_atomically(os.path.join(self.output_dir, checkpoints.POINTER_FILE), f"ckpt-{step}\n")
        for old in self.saved_steps()[:-self.keep]:
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
        groups = [("keras_state", self._other_model_variables), ("optimizer", self.optimizer.variables)]
        for group, variables in groups:
            for i, variable in enumerate(variables):
                _assign_checked(reader, prefix, f"{group}/{i}", variable)
        for name, variable in self.counters.items():
            _assign_checked(reader, prefix, f"training/{name}", variable)
        return int(self.counters["step"].numpy())


def _assign_checked(reader, prefix, name, variable):
    if not reader.has_tensor(name):
        raise InputError(f"{prefix}: lacks '{name}' (written by another model or optimizer?)")
    value = reader.get_tensor(name)
    if tuple(value.shape) != tuple(variable.shape):
        raise InputError(f"{prefix}: '{name}' has shape {tuple(value.shape)} but the run has {tuple(variable.shape)}")
    variable.assign(value)
