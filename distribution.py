"""How the replicas of a training run share work: the strategy, the all-reduce, the chief.

`create_replicas()` returns the object the training step and scripts use: its `strategy`
(build models and optimizers in `strategy.scope()`), `num_replicas` (the global batch is
that many per-replica batches), `is_chief` (only the chief writes checkpoints, logs and
exports; every replica computes), `all_reduce_sum(values)` (inside the replica step),
`distribute_datasets_from_function(dataset_fn)` and `broadcast_from_chief(variables)`.

Two kinds, one interface:
- `StrategyReplicas`: tf.distribute, with the strategy `create_strategy()` picks (below).
- `HorovodReplicas` (`--horovod`, one process per device started by `horovodrun`): each
  process runs the default one-device strategy, and Horovod sums over the processes.

`create_strategy()` picks the tf.distribute strategy from the environment:
- `TF_CONFIG` set (one JSON per worker, as tf.distribute defines it) or a SLURM job with
  more than one task: `MultiWorkerMirroredStrategy` across the workers.
- Otherwise, more than one visible GPU: `MirroredStrategy` over all of them.
- Otherwise the default strategy (one device).

Example:
    >>> replicas = create_replicas(horovod=False)
    >>> with replicas.strategy.scope():
    ...     model = modeling.BertForPreTraining(config)
"""

import os

import tensorflow as tf
from absl import logging

from errors import InputError


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


def create_replicas(horovod=False):
    """`HorovodReplicas()` with `horovod`, else `StrategyReplicas(create_strategy())`."""
    return HorovodReplicas() if horovod else StrategyReplicas(create_strategy())


def as_replicas(strategy_or_replicas):
    """Wraps a bare `tf.distribute` strategy in `StrategyReplicas`; replicas pass through."""
    if isinstance(strategy_or_replicas, (StrategyReplicas, HorovodReplicas)):
        return strategy_or_replicas
    return StrategyReplicas(strategy_or_replicas)


class StrategyReplicas:
    """The replicas of a `tf.distribute` strategy, all-reduced through its replica context."""

    def __init__(self, strategy):
        self.strategy = strategy
        self.num_replicas = strategy.num_replicas_in_sync
        self.is_chief = is_chief(strategy)

    def all_reduce_sum(self, values):
        """Sums a nest of tensors over all replicas; call inside `strategy.run`."""
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, values)

    def distribute_datasets_from_function(self, dataset_fn):
        """`dataset_fn(input_context)` on every input pipeline, batches sent to the devices."""
        return self.strategy.distribute_datasets_from_function(
            dataset_fn, tf.distribute.InputOptions(experimental_fetch_to_device=True))

    def broadcast_from_chief(self, variables):
        """Nothing to do: the strategy makes variables equal on every replica as it creates them.

        (A resumed multi-worker run therefore needs one output folder that every worker reads.)
        """
        del variables


class HorovodReplicas:
    """One replica per process, started by `horovodrun`; Horovod sums over the processes.

    Calls `hvd.init()` and, on a GPU machine, makes only this process's GPU
    (`hvd.local_rank()`) visible, so it must run before TensorFlow touches the GPUs.
    The strategy is the default one-device strategy. Uses only `hvd.grouped_allreduce` and
    `hvd.broadcast` on tensors: Horovod's `DistributedGradientTape` and
    `horovod.tensorflow.keras` do not work with Keras 3.

    Raises:
        InputError: Horovod is not installed.
    """

    def __init__(self):
        try:
            import horovod.tensorflow as hvd  # pylint: disable=import-outside-toplevel
        except ImportError as error:
            raise InputError(f"--horovod: cannot import horovod.tensorflow ({error}); "
                             f"install it with scripts/install_horovod.sh") from None
        self._hvd = hvd
        hvd.init()
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            tf.config.set_visible_devices(gpus[hvd.local_rank()], "GPU")
        self.strategy = tf.distribute.get_strategy()
        self.num_replicas = hvd.size()
        self.rank = hvd.rank()
        self.is_chief = self.rank == 0
        logging.info("Horovod rank %d of %d (local rank %d)", self.rank, self.num_replicas, hvd.local_rank())

    def all_reduce_sum(self, values):
        """Sums a nest of tensors over all processes, in one grouped all-reduce."""
        if self.num_replicas == 1:
            return values  # nothing to sum; also keeps the step free of Horovod ops, so XLA can compile it whole
        flat = tf.nest.flatten(values)
        return tf.nest.pack_sequence_as(values, self._hvd.grouped_allreduce(flat, op=self._hvd.Sum))

    def distribute_datasets_from_function(self, dataset_fn):
        """`dataset_fn` for this process's input pipeline (pipeline `rank` of `size`)."""
        return dataset_fn(tf.distribute.InputContext(num_input_pipelines=self.num_replicas,
                                                     input_pipeline_id=self.rank,
                                                     num_replicas_in_sync=self.num_replicas))

    def broadcast_from_chief(self, variables):
        """Assigns rank 0's values to `variables` (Keras or tf variables) on every process."""
        if self.num_replicas == 1:
            return
        hvd = self._hvd

        @tf.function
        def broadcast():
            for variable in variables:
                variable.assign(hvd.broadcast(tf.convert_to_tensor(variable), root_rank=0))

        broadcast()
