"""bert/train/distribution.py under Open MPI's mpirun (no --horovod): the environment parsing, the worker
addresses and the chief, then real 2-rank runs on this machine (skipped without `mpirun`).

Run as a script (by mpirun, from the tests below), this file is run_pretraining.py in which
rank r writes into <output_dir>/rank<r>, exports its final weights to <output_dir>/model.rank<r>.ckpt
and its replica count and chief flag to <output_dir>/rank<r>.json, so the test can compare the
ranks and see who wrote what. (The ranks' stdout is not parsed: mpirun splits and interleaves it.)
"""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import types

import pytest
import tensorflow as tf

from conftest import REPO_ROOT  # first: makes the repository importable, also when mpirun runs this file
from bert.train import distribution
from bert.train.distribution import OpenMpiLaunch
from bert.errors import InputError
from test_run_pretraining import exported, free_port, max_difference, pretraining_command, run, workspace  # noqa: F401

needs_mpirun = pytest.mark.skipif(shutil.which("mpirun") is None, reason="Open MPI's mpirun is not on PATH")


def ompi_environ(rank, size, local_rank, local_size, **extra):
    return {"OMPI_COMM_WORLD_RANK": str(rank), "OMPI_COMM_WORLD_SIZE": str(size),
            "OMPI_COMM_WORLD_LOCAL_RANK": str(local_rank), "OMPI_COMM_WORLD_LOCAL_SIZE": str(local_size), **extra}


def test_open_mpi_launch_reads_the_ompi_variables_and_the_base_port():
    assert distribution.open_mpi_launch(ompi_environ(3, 4, 1, 2, BERT_MPI_BASE_PORT="20000")) == OpenMpiLaunch(
        rank=3, size=4, local_rank=1, local_size=2, base_port=20000)
    assert distribution.open_mpi_launch(ompi_environ(0, 2, 0, 2)).base_port == 12345


def test_no_launch_without_several_ranks():
    assert distribution.open_mpi_launch({}) is None
    assert distribution.open_mpi_launch(ompi_environ(0, 1, 0, 1)) is None


@pytest.mark.parametrize("port", ["http", "0", "-5", "65535"])
def test_bad_base_port_is_an_input_error(port):
    with pytest.raises(InputError, match=f"BERT_MPI_BASE_PORT={port}: need a port number from 1 to 65534"):
        distribution.open_mpi_launch(ompi_environ(0, 2, 0, 2, BERT_MPI_BASE_PORT=port))


def test_one_node_workers_listen_on_localhost_at_base_plus_rank():
    launch = OpenMpiLaunch(rank=1, size=3, local_rank=1, local_size=3, base_port=5000)
    assert distribution.open_mpi_worker_addresses(launch) == ["localhost:5000", "localhost:5001", "localhost:5002"]


def test_several_nodes_gather_hostnames_and_use_base_plus_local_rank():
    sent = []

    def allgather(value):
        sent.append(value)
        return [("node1", 0), ("node1", 1), ("node2", 0), ("node2", 1)]

    launch = OpenMpiLaunch(rank=3, size=4, local_rank=1, local_size=2, base_port=7000)
    assert distribution.open_mpi_worker_addresses(launch, allgather) == [
        "node1:7000", "node1:7001", "node2:7000", "node2:7001"]
    assert sent == [(socket.gethostname(), 1)]


def test_several_nodes_without_mpi4py_is_a_one_line_input_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # makes `import mpi4py` fail
    launch = OpenMpiLaunch(rank=0, size=4, local_rank=0, local_size=2, base_port=7000)
    with pytest.raises(InputError, match="install mpi4py .* or set TF_CONFIG") as error:
        distribution.open_mpi_worker_addresses(launch)
    assert "\n" not in str(error.value)


def test_cluster_resolver_makes_rank_0_the_chief(monkeypatch):
    monkeypatch.setattr(distribution, "_use_local_gpu", lambda launch: 0)  # leave this process's GPUs alone
    resolvers = [distribution.open_mpi_cluster_resolver(OpenMpiLaunch(rank, 2, rank, 2, 6000)) for rank in (0, 1)]
    for rank, resolver in enumerate(resolvers):
        assert resolver.cluster_spec().as_dict() == {"worker": ["localhost:6000", "localhost:6001"]}
        assert (resolver.task_type, resolver.task_id) == ("worker", rank)
    assert [distribution.is_chief(types.SimpleNamespace(cluster_resolver=r)) for r in resolvers] == [True, False]


def free_base_port(count):
    """A port p such that p .. p + count - 1 are all free on this machine now."""
    for _ in range(50):
        base = free_port()
        with contextlib.suppress(OSError), contextlib.ExitStack() as sockets:
            for port in range(base, base + count):
                sockets.enter_context(socket.socket()).bind(("", port))
            return base
    raise RuntimeError(f"no {count} consecutive free ports found")


def mpirun(num_processes, *command):
    """Runs `command` as `num_processes` Open MPI ranks on this machine."""
    env = {**os.environ, "BERT_MPI_BASE_PORT": str(free_base_port(num_processes)),
           "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}  # containers often run as root
    env.pop("TF_CONFIG", None)
    return subprocess.run(["mpirun", "-np", str(num_processes), "--oversubscribe", *command], cwd=REPO_ROOT,
                          capture_output=True, text=True, env=env, timeout=900, check=False)


def exported_rank(output_dir, rank):
    reader = tf.train.load_checkpoint(str(output_dir / f"model.rank{rank}.ckpt"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


@needs_mpirun
@pytest.mark.slow
def test_mpirun_two_ranks_train_one_model_and_only_rank_0_writes(workspace, tmp_path):
    common = ["--num_train_steps=4", "--save_checkpoints_steps=2", "--shuffle_buffer=1"]
    command = pretraining_command(workspace, tmp_path, "--train_batch_size=4", *common, config="no_dropout.json")
    command[1] = __file__  # this file as the program: run_pretraining.py, one folder and one export per rank
    result = mpirun(2, *command)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)] == [
        {"replicas": 2, "chief": True}, {"replicas": 2, "chief": False}]
    chief_dir, other_dir = tmp_path / "rank0", tmp_path / "rank1"
    assert (chief_dir / "ckpt-4.index").exists() and (chief_dir / "model.ckpt.index").exists()
    assert not list(other_dir.glob("ckpt-*")) and not (other_dir / "model.ckpt.index").exists()
    rank0, rank1 = exported_rank(tmp_path, 0), exported_rank(tmp_path, 1)
    assert max_difference(rank0, rank1) == 0.0, "the two ranks ended with different weights"
    assert max_difference(rank0, exported(chief_dir)) == 0.0

    single = run(pretraining_command(workspace, tmp_path / "single", "--train_batch_size=8", *common,
                                     config="no_dropout.json"))
    assert single.returncode == 0, single.stderr[-2000:]
    assert max_difference(rank0, exported(tmp_path / "single")) <= 1e-5


WRITE_ADDRESSES_AS_IF_ON_TWO_NODES = """
import json, os, pathlib, sys
from bert.train import distribution  # python -c runs in the repository root
launch = distribution.open_mpi_launch(os.environ)._replace(local_rank=0, local_size=1)
pathlib.Path(sys.argv[1], f"rank{launch.rank}.json").write_text(json.dumps(
    {"port": launch.base_port, "addresses": distribution.open_mpi_worker_addresses(launch)}))
"""


@needs_mpirun
def test_mpirun_ranks_gather_their_hostnames_with_mpi4py(tmp_path):
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install mpi4py)")
    result = mpirun(2, sys.executable, "-c", WRITE_ADDRESSES_AS_IF_ON_TWO_NODES, str(tmp_path))
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    for rank in (0, 1):
        report = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert report["addresses"] == [f"{socket.gethostname()}:{report['port']}"] * 2


def _run_pretraining_one_folder_per_rank():
    """run_pretraining.py's main with --output_dir=<dir>/rank<r>; then every rank reports to <dir>."""
    from absl import app  # pylint: disable=import-outside-toplevel

    from bert import checkpoints  # pylint: disable=import-outside-toplevel
    import run_pretraining  # pylint: disable=import-outside-toplevel
    from bert.errors import run_main  # pylint: disable=import-outside-toplevel

    rank, flag_values, train = int(os.environ["OMPI_COMM_WORLD_RANK"]), run_pretraining.FLAGS, run_pretraining.train

    def main(argv):
        root = flag_values.output_dir
        flag_values.output_dir = os.path.join(root, f"rank{rank}")

        def train_and_export(replicas, config, jit_compile):
            model = train(replicas, config, jit_compile)
            checkpoints.export_google_checkpoint(model, os.path.join(root, f"model.rank{rank}.ckpt"))
            with open(os.path.join(root, f"rank{rank}.json"), "w", encoding="utf-8") as report:
                json.dump({"replicas": replicas.num_replicas, "chief": replicas.is_chief}, report)
            return model

        run_pretraining.train = train_and_export
        return run_pretraining.main(argv)

    app.run(lambda argv: run_main(main, argv))


if __name__ == "__main__":
    _run_pretraining_one_folder_per_rank()
