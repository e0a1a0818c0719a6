"""A training run set up from the shared training flags (`bert/flags.py`), as run_pretraining.py and run_squad.py do it.

    start                  replicas (tf.distribute or Horovod), seeds, then the precision
                           policy, in that order
    batch_sizes            examples per replica and per update
    dllog_path             where the JSON-lines log goes
    build_training         model, optimizer and step counters under the replicas' strategy;
                           resumed from --output_dir's newest checkpoint, else --init_checkpoint
                           loaded; then every replica gets the chief's values
    TrainingRun.train      the shared step and loop (`training.py`) over a script's input and losses

Example:
    >>> replicas, xla = start(FLAGS)
    >>> run = build_training(replicas, FLAGS, build_model, num_train_steps=1000, num_warmup_steps=100,
    ...                      schedule={"decay_power": 1.0})
    >>> dataset = make_dataset(skip_batches=int(run.step.numpy()))   # resume the input too
    >>> last = run.train(losses.PRETRAINING, dataset, xla.training, 1000, global_batch_size, dllog_path)
"""

import dataclasses
import os

import keras
import tensorflow as tf

from bert import checkpoints
from bert.train import distribution
from bert.train import optimization
from bert.train import precision
from bert.train import state as train_state
from bert.train import training


def start(flag_values, forward_only=False):
    """Replicas from --horovod, seeds from --seed, precision from --amp, --amp_dtype, --use_xla, --force_xla.

    `forward_only`: the run never trains, so `precision.configure` may use oneDNN's
    forward-only kernels (--onednn_inference).

    Returns:
        (replicas, xla): `distribution.create_replicas`' object, and `precision.XlaChoice`:
        whether training steps and forward-only calls are compiled with XLA.
    """
    replicas = distribution.create_replicas(horovod=flag_values.horovod)
    keras.utils.set_random_seed(flag_values.seed)
    xla = precision.configure(flag_values.amp, flag_values.amp_dtype, flag_values.use_xla, flag_values.force_xla,
                              forward_only=forward_only, onednn_inference=flag_values.onednn_inference,
                              attention_chunk_kib=flag_values.attention_chunk_kib)
    return replicas, xla


def batch_sizes(flag_values, replicas):
    """(per replica, global) examples per update: --train_batch_size x --num_accumulation_steps (x replicas)."""
    per_replica = flag_values.train_batch_size * flag_values.num_accumulation_steps
    return per_replica, per_replica * replicas.num_replicas


def describe_global_batch(flag_values, replicas, unit):
    """'Global batch size: 64 sequences = 8 per micro-batch x 8 accumulation steps x 1 replicas' (`unit`: sequences)."""
    return (f"Global batch size: {batch_sizes(flag_values, replicas)[1]} {unit} = {flag_values.train_batch_size} "
            f"per micro-batch x {flag_values.num_accumulation_steps} accumulation steps x {replicas.num_replicas} "
            "replicas")


def dllog_path(flag_values, default_name):
    """--dllog_path, or `default_name` (e.g. "squad_log.jsonl") in --output_dir."""
    return flag_values.dllog_path or os.path.join(flag_values.output_dir, default_name)


@dataclasses.dataclass
class TrainingRun:
    """A model ready to train: its optimizer, its checkpoints and its int64 counters (updates done and skipped)."""

    replicas: object
    flag_values: object
    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    state: train_state.TrainState
    step: tf.Variable
    skipped_steps: tf.Variable

    def train(self, task, dataset, jit_compile, num_train_steps, global_batch_size, dllog_path, **measures):
        """Runs updates of `task`'s losses (`losses.py`) until `num_train_steps`; returns the last logged metrics.

        `dataset` is the replicas' distributed input, already advanced past the `step`
        batches done. `measures` are the other `training.LoopConfig` fields
        (flops_per_sequence, peak_flops, profile_steps).
        """
        flag_values = self.flag_values
        train_step = training.make_train_step(self.replicas, self.model, self.optimizer, task,
                                              flag_values.num_accumulation_steps, jit_compile)
        config = training.LoopConfig(
            num_train_steps=num_train_steps, save_checkpoints_steps=flag_values.save_checkpoints_steps,
            display_loss_steps=flag_values.display_loss_steps, global_batch_size=global_batch_size,
            dllog_path=dllog_path, tensorboard_dir=os.path.join(flag_values.output_dir, "tensorboard"),
            is_chief=self.replicas.is_chief, **measures)
        return training.run_training(train_step, iter(dataset), self.optimizer, self.state, self.step,
                                     self.skipped_steps, config)


def build_training(replicas, flag_values, build_model, num_train_steps, num_warmup_steps, schedule,
                   keep_checkpoints=3, random_init_note=None):
    """Builds a `TrainingRun`: resumed from --output_dir, else initialised from --init_checkpoint.

    Args:
        replicas: `start`'s replicas; the model, the optimizer and the counters are built
            under its strategy.
        flag_values: the parsed flags (training, precision and --init_checkpoint).
        build_model: returns the built Keras model; called once, under the strategy.
        num_train_steps, num_warmup_steps: of the learning-rate schedule, in updates.
        schedule: the schedule's other `optimization.create_optimizer` arguments
            (`decay_power` or `decay_after_warmup`).
        keep_checkpoints: how many of the newest `ckpt-N` to keep.
        random_init_note: printed when the run starts from random weights (nothing to
            resume and no --init_checkpoint).
    """
    with replicas.strategy.scope():
        model = build_model()
        optimizer = optimization.create_optimizer(
            flag_values.optimizer_type, flag_values.learning_rate, num_train_steps, num_warmup_steps,
            loss_scaling=flag_values.amp and flag_values.amp_dtype == "float16", **schedule)
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        skipped = tf.Variable(0, dtype=tf.int64, trainable=False, name="skipped_steps")
    output_dir = flag_values.output_dir
    state = train_state.TrainState(output_dir, model, optimizer, {"step": step, "skipped_steps": skipped},
                                   keep=keep_checkpoints)
    resumed_step = state.restore_latest()
    if resumed_step is not None:
        print(f"Resuming from {checkpoints.latest_checkpoint(output_dir)} at step {resumed_step}.", flush=True)
    elif flag_values.init_checkpoint:
        print(checkpoints.load_weights(model, flag_values.init_checkpoint).summary(), flush=True)
    elif random_init_note:
        print(random_init_note, flush=True)
    replicas.broadcast_from_chief(model.variables + optimizer.variables + [step, skipped])
    return TrainingRun(replicas, flag_values, model, optimizer, state, step, skipped)
