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
- `TF_CONFIG` set (one JSON per worker, as tf.distribute defines it): `MultiWorkerMirroredStrategy`
  across the workers.
- Otherwise, started by Open MPI's `mpirun` with more than one rank: `MultiWorkerMirroredStrategy`
  with worker i = rank i (rank 0 is the chief). Open MPI tells a rank only its own place, so
  the worker addresses are derived: all ranks on one node listen on `localhost:<base + rank>`;
  over several nodes on `<hostname>:<base + local rank>`, the hostnames gathered with mpi4py
  (which must then be installed). The base port is `BERT_MPI_BASE_PORT` (default 12345); each
  node needs the ports base .. base + its rank count - 1 free. When ranks share a node with
  GPUs, each rank uses only GPU number `local rank` (so start one rank per GPU or per node).
- Otherwise a SLURM job with more than one task: `MultiWorkerMirroredStrategy` across the tasks.
- Otherwise, more than one visible GPU: `MirroredStrategy` over all of them.
- Otherwise the default strategy (one device).

Example:
    >>> replicas = create_replicas(horovod=False)
    >>> with replicas.strategy.scope():
    ...     model = modeling.BertForPreTraining(config)
"""

import os
import socket
import typing

import tensorflow as tf
from absl import logging

from bert.errors import InputError


def create_strategy():
    """Returns the strategy the environment asks for (see the module docstring).

    Raises:
        InputError: an `mpirun` launch that cannot be turned into a cluster (`open_mpi_launch`,
            `open_mpi_worker_addresses`, `_use_local_gpu` say why).
    """
    if os.environ.get("TF_CONFIG"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif (launch := open_mpi_launch(os.environ)) is not None:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=open_mpi_cluster_resolver(launch))
    elif int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        resolver = tf.distribute.cluster_resolver.SlurmClusterResolver()
        strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    elif len(tf.config.list_physical_devices("GPU")) > 1:
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    logging.info("Strategy %s with %d replicas in sync", type(strategy).__name__, strategy.num_replicas_in_sync)
    return strategy


MPI_BASE_PORT_VARIABLE = "BERT_MPI_BASE_PORT"
DEFAULT_MPI_BASE_PORT = 12345


class OpenMpiLaunch(typing.NamedTuple):
    """This process's place in an `mpirun` launch, from Open MPI's `OMPI_COMM_WORLD_*` variables."""
    rank: int        # 0 .. size - 1, over all nodes
    size: int        # processes over all nodes
    local_rank: int  # 0 .. local_size - 1, on this node
    local_size: int  # processes on this node
    base_port: int   # workers listen on base_port + rank (one node) or base_port + local_rank


def open_mpi_launch(environ):
    """The `mpirun` launch `environ` describes, or None unless it is one of several Open MPI ranks.

    Args:
        environ: a mapping like `os.environ`.

    Raises:
        InputError: `BERT_MPI_BASE_PORT` is not a port number, or its ports run past 65535.
    """
    size = int(environ.get("OMPI_COMM_WORLD_SIZE", "1"))
    if size <= 1:
        return None
    local_size = int(environ["OMPI_COMM_WORLD_LOCAL_SIZE"])
    port = environ.get(MPI_BASE_PORT_VARIABLE, str(DEFAULT_MPI_BASE_PORT))
    if not port.isdigit() or not 1 <= int(port) <= 65536 - local_size:
        raise InputError(f"{MPI_BASE_PORT_VARIABLE}={port}: need a port number from 1 to {65536 - local_size} "
                         f"(this node's {local_size} ranks listen on it and the ports after it)")
    return OpenMpiLaunch(rank=int(environ["OMPI_COMM_WORLD_RANK"]), size=size,
                         local_rank=int(environ["OMPI_COMM_WORLD_LOCAL_RANK"]), local_size=local_size,
                         base_port=int(port))


def open_mpi_worker_addresses(launch, allgather=None):
    """Every rank's "host:port", in rank order (a list of `launch.size` strings).

    One node: "localhost:<base_port + rank>". Several nodes: "<hostname>:<base_port + local_rank>",
    each rank's (hostname, local rank) collected from all ranks by `allgather(value)`, which
    returns the list of every rank's value (default: mpi4py's `COMM_WORLD.allgather`).

    Raises:
        InputError: several nodes and no `allgather` given, and mpi4py is not installed.
    """
    if launch.local_size == launch.size:
        return [f"localhost:{launch.base_port + rank}" for rank in range(launch.size)]
    places = (allgather or _mpi4py_allgather)((socket.gethostname(), launch.local_rank))
    return [f"{host}:{launch.base_port + local_rank}" for host, local_rank in places]


def _mpi4py_allgather(value):
    """[rank 0's value, rank 1's value, ...] over the ranks of this `mpirun` launch."""
    try:
        from mpi4py import MPI  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise InputError("mpirun over several nodes: install mpi4py (pip install mpi4py) so the ranks can "
                         "share their hostnames, or set TF_CONFIG on every rank") from None
    return MPI.COMM_WORLD.allgather(value)


def open_mpi_cluster_resolver(launch):
    """The cluster of all `mpirun` ranks, this process being worker `launch.rank`.

    Must run before TensorFlow touches the GPUs (see `_use_local_gpu`).
    """
    cluster = tf.train.ClusterSpec({"worker": open_mpi_worker_addresses(launch)})
    logging.info("mpirun rank %d of %d: cluster %s", launch.rank, launch.size, cluster.as_dict())
    return tf.distribute.cluster_resolver.SimpleClusterResolver(
        cluster, task_type="worker", task_id=launch.rank, rpc_layer="grpc",
        num_accelerators={"GPU": _use_local_gpu(launch)})


def _use_local_gpu(launch):
    """Number of GPUs this rank trains on: all on its node, or only GPU `local_rank` if ranks share it.

    Raises:
        InputError: more ranks on this node than GPUs.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus or launch.local_size == 1:
        return len(gpus)
    if launch.local_size > len(gpus):
        raise InputError(f"mpirun: {launch.local_size} ranks on a node with {len(gpus)} GPUs; "
                         f"start one rank per GPU or one per node")
    tf.config.set_visible_devices(gpus[launch.local_rank], "GPU")
    return 1


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
