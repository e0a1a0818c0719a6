"""The training step and loop shared by run_pretraining.py and run_squad.py.

One update, read top to bottom in `make_train_step`:
  1. every replica takes its per-replica batch of `micro_batch * accumulation` examples;
  2. the loss normalisers (masked-token and sequence counts) are all-reduced, so every
     micro-batch's loss is its share of the global batch's loss (`bert/train/losses.py`);
  3. forward and backward over the micro-batches in a `tf.while_loop` (no loop for one),
     summing the (loss-scaled, for fp16) gradients;
  4. the summed gradients (and the losses, for logging) are all-reduced over replicas and
     clipped to global norm `optimization.CLIP_NORM` (measured unscaled);
  5. `optimizer.apply` unscales them (fp16), skips the update if they overflowed, applies.
Steps 2-3 (and 4-5 on a single device) are compiled with XLA when asked. The all-reduces
go through `bert/train/distribution.py`'s replicas object: tf.distribute, or Horovod (`--horovod`).

`run_training` drives it: progress bar with ETA, JSON-lines and TensorBoard logs (loss,
learning rate, loss scale, sequences/s, MFU, time waiting for input vs computing),
periodic checkpoints, SIGTERM handling, and a clear stop on a non-finite loss.
"""

import dataclasses
import json
import signal
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging
from tqdm import tqdm

from bert.json_log import JsonLinesLog
from bert.train import distribution
from bert.train import optimization
from bert.errors import InputError


def make_train_step(replicas, model, optimizer, task, num_accumulation_steps, jit_compile):
    """Returns `train_step(distributed_batch) -> (metrics, finite)`.

    `replicas` is `distribution.create_replicas()`'s object (or a bare tf.distribute
    strategy). `metrics` holds the global batch's losses (dict of float32 scalars), the
    same on every replica; `finite` is False when the gradients overflowed (the update
    was then skipped by loss scaling).
    """
    replicas = distribution.as_replicas(replicas)
    strategy = replicas.strategy
    loss_scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    single_device = replicas.num_replicas == 1
    if not optimizer.built:  # its slots must exist before the step is traced: XLA cannot create variables
        with strategy.scope():
            optimizer.build(model.trainable_variables)

    def gradients(batch, totals):
        variables = model.trainable_variables
        micro_batches = {name: tf.reshape(value, [num_accumulation_steps, -1, *value.shape[1:]])
                         for name, value in batch.items()}

        def micro_gradients(index):
            micro_batch = {name: value[index] for name, value in micro_batches.items()}
            with tf.GradientTape() as tape:
                losses = task.losses(micro_batch, model(micro_batch, training=True), totals)
                loss = optimizer.scale_loss(losses["loss"]) if loss_scaled else losses["loss"]
            grads = [tf.convert_to_tensor(grad) for grad in tape.gradient(loss, variables)]
            return grads, {name: losses[name] for name in task.loss_names}

        if num_accumulation_steps == 1:
            # No loop and no zero accumulators: without XLA a while_loop's body is a separate
            # function that grappler's fusions do not reach (a bf16 step on a CPU ran 4-6 % slower).
            return micro_gradients(0)

        def micro_step(index, grads, metrics):
            new_grads, losses = micro_gradients(index)
            grads = [total + grad for total, grad in zip(grads, new_grads)]
            metrics = {name: metrics[name] + losses[name] for name in metrics}
            return index + 1, grads, metrics

        zero_grads = [tf.zeros_like(v.value) for v in variables]
        zero_metrics = {name: tf.constant(0.0) for name in task.loss_names}
        _, grads, metrics = tf.while_loop(
            lambda index, *_: index < num_accumulation_steps, micro_step,
            (tf.constant(0), zero_grads, zero_metrics), parallel_iterations=1)
        return grads, metrics

    def update(batch):
        totals = replicas.all_reduce_sum(task.normalizers(batch))
        grads, metrics = gradients_fn(batch, totals)
        grads, metrics = replicas.all_reduce_sum((grads, metrics))
        scale = optimizer.dynamic_scale if loss_scaled else 1.0
        grads, norm = tf.clip_by_global_norm(grads, optimization.CLIP_NORM * scale)
        # A non-finite gradient makes the norm non-finite, and clipping by a non-finite norm
        # turns every gradient into NaN: the norm alone tells, without another pass over them.
        finite = tf.math.is_finite(norm)
        # Keras's optimizer sums the gradients over the strategy's replicas once more; each
        # passes its share. (Under Horovod the strategy has one replica: the whole sum.) The
        # update waits for the losses: a weight whose gradient does not depend on its own value
        # could otherwise be updated before the forward pass has read it.
        with tf.control_dependencies(tf.nest.flatten(metrics)):
            optimizer.apply([g / strategy.num_replicas_in_sync for g in grads], model.trainable_variables)
        return metrics, finite

    gradients_fn = gradients if single_device else tf.function(gradients, jit_compile=jit_compile)
    replica_step = tf.function(update, jit_compile=jit_compile) if single_device else update

    @tf.function
    def train_step(distributed_batch):
        results = strategy.run(replica_step, args=(distributed_batch,))
        # Every replica holds the same all-reduced losses, and the same `finite` (it is
        # computed from the same all-reduced gradients): take this worker's first.
        return tf.nest.map_structure(lambda value: strategy.experimental_local_results(value)[0], results)

    return train_step


@dataclasses.dataclass
class LoopConfig:
    """What the loop needs besides the step: counts are updates, times are seconds."""

    num_train_steps: int
    save_checkpoints_steps: int
    display_loss_steps: int
    global_batch_size: int
    flops_per_sequence: float = 0.0
    peak_flops: float = 0.0
    dllog_path: str = ""
    tensorboard_dir: str = ""
    profile_steps: tuple = ()
    is_chief: bool = True


class _Preemption:
    """Remembers a SIGTERM so the loop can checkpoint and stop between steps."""

    def __init__(self):
        self.requested = False
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        del signum, frame
        self.requested = True


def run_training(train_step, iterator, optimizer, state, step, skipped_steps, config):
    """Runs updates until `config.num_train_steps`; returns the last logged metrics.

    `state` is a `train_state.TrainState` (checkpoints), `step` and `skipped_steps` its
    int64 counter variables. The step counter also fixes the input position: the caller
    builds `iterator` so that it starts after `step` global batches.
    """
    preemption = _Preemption()
    logger = _MetricsLogger(config) if config.is_chief else None
    start_step = int(step.numpy())
    progress = tqdm(total=config.num_train_steps, initial=start_step, unit="step", desc="training",
                    disable=not config.is_chief, dynamic_ncols=True)
    interval = _Interval()
    last = {}
    try:
        while int(step.numpy()) < config.num_train_steps:
            current = int(step.numpy())
            if current in config.profile_steps[:1] and config.is_chief:
                tf.profiler.experimental.start(config.tensorboard_dir)
            fetch_start = time.perf_counter()
            batch = next(iterator)
            compute_start = time.perf_counter()
            metrics, finite = train_step(batch)
            metrics = {name: float(value) for name, value in metrics.items()}
            interval.add(compute_start - fetch_start, time.perf_counter() - compute_start)
            if current + 1 in config.profile_steps[1:] and config.is_chief:
                tf.profiler.experimental.stop()
            if not np.isfinite(metrics["loss"]):
                raise InputError(f"non-finite loss ({metrics['loss']}) at step {current + 1}; stopping. The last good "
                                 f"checkpoint is untouched; lower --learning_rate or check the data")
            if not bool(finite):
                skipped_steps.assign_add(1)
            step.assign_add(1)
            progress.update(1)
            progress.set_postfix(loss=f"{metrics['loss']:.4f}")
            current += 1
            if current % config.display_loss_steps == 0 or current == config.num_train_steps:
                last = _interval_record(current, metrics, optimizer, skipped_steps, interval, config)
                interval = _Interval()
                if logger:
                    logger.write(last)
            if config.is_chief and (current % config.save_checkpoints_steps == 0 or current == config.num_train_steps):
                state.save()
            if preemption.requested:
                if config.is_chief:
                    path = state.save()
                    print(f"SIGTERM: saved {path} at step {current}; rerun the same command to resume.", flush=True)
                raise SystemExit(0)
    finally:
        progress.close()
    return last


@dataclasses.dataclass
class _Interval:
    wait_seconds: float = 0.0
    compute_seconds: float = 0.0
    steps: int = 0

    def add(self, wait, compute):
        self.wait_seconds += wait
        self.compute_seconds += compute
        self.steps += 1


def _interval_record(step, metrics, optimizer, skipped_steps, interval, config):
    seconds = interval.wait_seconds + interval.compute_seconds
    sequences_per_second = interval.steps * config.global_batch_size / max(seconds, 1e-9)
    record = {"step": step, **{name: round(value, 6) for name, value in metrics.items()},
              "learning_rate": float(optimizer.learning_rate.numpy()),
              "sequences_per_second": round(sequences_per_second, 2),
              "input_wait_fraction": round(interval.wait_seconds / max(seconds, 1e-9), 4),
              "skipped_steps": int(skipped_steps.numpy())}
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        record["loss_scale"] = float(optimizer.dynamic_scale.numpy())
    if config.peak_flops and config.flops_per_sequence:
        record["mfu"] = round(sequences_per_second * config.flops_per_sequence / config.peak_flops, 4)
    return record


class _MetricsLogger:
    """JSON lines in `dllog_path` and TensorBoard scalars in `tensorboard_dir`."""

    def __init__(self, config):
        self.writer = tf.summary.create_file_writer(config.tensorboard_dir) if config.tensorboard_dir else None
        self.dllog = JsonLinesLog(config.dllog_path) if config.dllog_path else None

    def write(self, record):
        logging.info("step %d: %s", record["step"], json.dumps(record))
        if self.dllog:
            self.dllog.append(record)
        if self.writer:
            with self.writer.as_default(step=record["step"]):
                for name, value in record.items():
                    if name != "step":
                        tf.summary.scalar(name, value)
            self.writer.flush()
