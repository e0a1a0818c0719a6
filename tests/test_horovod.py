"""run_pretraining.py --horovod under horovodrun (2 processes, Gloo, CPU).

The reference is the same run without Horovod: one process at twice the batch, and two
tf.distribute workers. Run with `python -m pytest -q -m horovod tests/test_horovod.py`
after scripts/install_horovod.sh.

Run as a script (by horovodrun, from the tests below), this file is run_pretraining.py
whose every rank also exports its final weights to <output_dir>/model.rank<r>.ckpt, so the
test can compare the ranks.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest
import tensorflow as tf

from test_run_pretraining import exported, free_port, max_difference, pretraining_command, run, workspace  # noqa: F401

pytest.importorskip("horovod.tensorflow", reason="Horovod is not installed (scripts/install_horovod.sh)")
pytestmark = pytest.mark.horovod
HOROVODRUN = pathlib.Path(sys.executable).parent / "horovodrun"
COMMON = ["--train_batch_size=4", "--num_train_steps=4", "--save_checkpoints_steps=2", "--shuffle_buffer=1"]


def horovodrun(num_processes, *command):
    """Runs `command` in `num_processes` processes on this machine, Gloo for the collectives."""
    return run([str(HOROVODRUN), "-np", str(num_processes), "-H", f"localhost:{num_processes}", "--gloo", *command])


def exported_rank(output_dir, rank):
    reader = tf.train.load_checkpoint(str(output_dir / f"model.rank{rank}.ckpt"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def test_horovod_ranks_agree_and_match_one_process_and_tf_distribute(workspace, tmp_path):
    hvd_dir = tmp_path / "horovod"
    command = pretraining_command(workspace, hvd_dir, *COMMON, "--horovod", config="no_dropout.json")
    command[1] = __file__  # this file as the program: run_pretraining.py plus an export on every rank
    result = horovodrun(2, *command)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert "Global batch size: 8 sequences = 4 per micro-batch x 1 accumulation steps x 2 replicas" in result.stdout
    assert (hvd_dir / "ckpt-4.index").exists() and (hvd_dir / "model.ckpt.index").exists()
    rank0, rank1 = exported_rank(hvd_dir, 0), exported_rank(hvd_dir, 1)
    assert max_difference(rank0, exported(hvd_dir)) == 0.0
    assert max_difference(rank0, rank1) == 0.0, "the two ranks ended with different weights"

    single = run(pretraining_command(workspace, tmp_path / "single", *COMMON, "--train_batch_size=8",
                                     config="no_dropout.json"))
    assert single.returncode == 0, single.stderr[-2000:]
    assert max_difference(rank0, exported(tmp_path / "single")) <= 1e-5

    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen(
            pretraining_command(workspace, tmp_path / f"worker{index}", *COMMON, config="no_dropout.json"),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for process in workers:
        log, _ = process.communicate(timeout=600)
        assert process.returncode == 0, log[-3000:]
    assert max_difference(rank0, exported(tmp_path / "worker0")) <= 1e-5


BROADCAST_AND_SUM = """
import json, keras, tensorflow as tf, distribution
replicas = distribution.create_replicas(horovod=True)
rank = replicas.rank
weights = keras.Variable([rank + 1.0, -rank], name="weights")
counter = tf.Variable(10 * rank, dtype=tf.int64)
replicas.broadcast_from_chief([weights, counter])
summed = tf.function(replicas.all_reduce_sum)({"a": tf.constant([rank + 1.0]), "b": [tf.constant(2.0 * rank)]})
print("RESULT", json.dumps({"rank": rank, "chief": replicas.is_chief, "replicas": replicas.num_replicas,
                            "weights": weights.numpy().tolist(), "counter": int(counter.numpy()),
                            "a": summed["a"].numpy().tolist(), "b": float(summed["b"][0])}))
"""


def test_broadcast_from_chief_and_all_reduce_sum():
    result = horovodrun(2, sys.executable, "-c", BROADCAST_AND_SUM)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    results = sorted((json.loads(line.split("RESULT ", 1)[1]) for line in result.stdout.splitlines()
                      if "RESULT " in line), key=lambda r: r["rank"])
    assert results == [
        {"rank": 0, "chief": True, "replicas": 2, "weights": [1.0, 0.0], "counter": 0, "a": [3.0], "b": 2.0},
        {"rank": 1, "chief": False, "replicas": 2, "weights": [1.0, 0.0], "counter": 0, "a": [3.0], "b": 2.0},
    ]


def _run_pretraining_exporting_every_rank():
    """run_pretraining.py's main; then each rank writes its weights to <output_dir>/model.rank<r>.ckpt."""
    from absl import app  # pylint: disable=import-outside-toplevel

    from bert import checkpoints  # pylint: disable=import-outside-toplevel
    import run_pretraining  # pylint: disable=import-outside-toplevel
    from bert.errors import run_main  # pylint: disable=import-outside-toplevel

    train = run_pretraining.train

    def train_and_export(replicas, config, jit_compile):
        model = train(replicas, config, jit_compile)
        prefix = pathlib.Path(run_pretraining.FLAGS.output_dir) / f"model.rank{replicas.rank}.ckpt"
        checkpoints.export_google_checkpoint(model, str(prefix))
        return model

    run_pretraining.train = train_and_export
    app.run(lambda argv: run_main(run_pretraining.main, argv))


if __name__ == "__main__":
    _run_pretraining_exporting_every_rank()
