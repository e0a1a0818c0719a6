"""Choosing the tf.distribute strategy from the environment, and who is the chief.

- `TF_CONFIG` set (one JSON per worker, as tf.distribute defines it) or a SLURM job with
  more than one task: `MultiWorkerMirroredStrategy` across the workers.
- Otherwise, more than one visible GPU: `MirroredStrategy` over all of them.
- Otherwise the default strategy (one device).

Only the chief writes checkpoints, logs and exports; every worker computes.

Example:
    >>> strategy = create_strategy()
    >>> with strategy.scope():
    ...     model = modeling.BertForPreTraining(config)
"""

import os

import tensorflow as tf
from absl import logging


def create_strategy():
    """Returns the strategy the environment asks for (see the module docstring)."""
    if os.environ.get("TF_CONFIG"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        resolver = tf.distribute.cluster_resolver.SlurmClusterResolver()
        strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    elif len(tf.config.list_physical_devices("GPU")) > 1:
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    logging.info("Strategy %s with %d replicas in sync", type(strategy).__name__, strategy.num_replicas_in_sync)
    return strategy


def is_chief(strategy):
    """True on the worker that writes checkpoints and logs (task 0, or the `chief` task)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief

