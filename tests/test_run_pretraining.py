"""run_pretraining.py end to end: exact resume, accumulation, precisions, multi-worker, bad input."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO_ROOT, TINY_CONFIG

SEQ, PREDICTIONS = 32, 5


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, minilm):
    """Shards from the sample corpus (MiniLM's vocab) and two tiny configs, dropout on and off."""
    root = tmp_path_factory.mktemp("pretraining")
    subprocess.run([sys.executable, str(REPO_ROOT / "create_pretraining_data.py"),
                    f"--input_file={REPO_ROOT / 'data/sample/sample_corpus.txt'}",
                    f"--output_file={root / 'train.tfrecord'}", f"--vocab_file={minilm / 'vocab.txt'}",
                    f"--max_seq_length={SEQ}", f"--max_predictions_per_seq={PREDICTIONS}", "--dupe_factor=2"],
                   check=True, capture_output=True)
    config = {**TINY_CONFIG, "vocab_size": 30522, "max_position_embeddings": 64}
    (root / "dropout.json").write_text(json.dumps(config))
    (root / "no_dropout.json").write_text(json.dumps({**config, "hidden_dropout_prob": 0.0,
                                                      "attention_probs_dropout_prob": 0.0}))
    return root


def pretraining_command(workspace, output_dir, *extra, config="dropout.json"):
    return [sys.executable, str(REPO_ROOT / "run_pretraining.py"), f"--bert_config_file={workspace / config}",
            f"--input_files_dir={workspace / 'train.tfrecord'}", f"--output_dir={output_dir}", "--do_train",
            f"--max_seq_length={SEQ}", f"--max_predictions_per_seq={PREDICTIONS}", "--learning_rate=1e-3",
            "--num_warmup_steps=2", "--display_loss_steps=4", *extra]


def run(command, env=None):
    return subprocess.run(command, capture_output=True, text=True, env=env)


def exported(output_dir):
    reader = tf.train.load_checkpoint(str(output_dir / "model.ckpt"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max(float(np.abs(a[name] - b[name]).max()) for name in a)


def test_resume_after_sigkill_matches_uninterrupted_run(workspace, tmp_path):
    flags = ["--train_batch_size=4", "--num_train_steps=16", "--save_checkpoints_steps=4"]
    straight = run(pretraining_command(workspace, tmp_path / "straight", *flags))
    assert straight.returncode == 0, straight.stderr[-2000:]
    assert tf.train.latest_checkpoint(str(tmp_path / "straight")) == str(tmp_path / "straight" / "ckpt-16")

    killed_dir = tmp_path / "killed"
    process = subprocess.Popen(pretraining_command(workspace, killed_dir, *flags),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed_dir / "ckpt-8.index").exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed_dir / "model.ckpt.index").exists(), "the run finished before it could be killed"
    resumed = run(pretraining_command(workspace, killed_dir, *flags))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resuming from" in resumed.stdout
    assert max_difference(exported(tmp_path / "straight"), exported(killed_dir)) <= 1e-6
    log = [json.loads(line) for line in (killed_dir / "pretraining_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 16 and {"loss", "masked_lm_loss", "learning_rate", "sequences_per_second", "mfu",
                                      "input_wait_fraction"} <= log[-1].keys()


def test_accumulation_equals_larger_batch(workspace, tmp_path):
    common = ["--num_train_steps=6", "--save_checkpoints_steps=100", "--shuffle_buffer=1"]
    big = run(pretraining_command(workspace, tmp_path / "big", "--train_batch_size=8", *common,
                                  config="no_dropout.json"))
    accumulated = run(pretraining_command(workspace, tmp_path / "accumulated", "--train_batch_size=2",
                                          "--num_accumulation_steps=4", *common, config="no_dropout.json"))
    assert big.returncode == 0 and accumulated.returncode == 0, (big.stderr[-1500:], accumulated.stderr[-1500:])
    assert "Global batch size: 8 sequences = 2 per micro-batch x 4 accumulation steps x 1 replicas" in accumulated.stdout
    assert max_difference(exported(tmp_path / "big"), exported(tmp_path / "accumulated")) <= 1e-5


@pytest.mark.parametrize("amp_dtype", ["float16", "bfloat16"])
def test_mixed_precision_trains_without_nan(workspace, tmp_path, amp_dtype):
    result = run(pretraining_command(workspace, tmp_path, "--train_batch_size=4", "--num_train_steps=8",
                                     "--save_checkpoints_steps=100", "--amp", f"--amp_dtype={amp_dtype}", "--use_xla"))
    assert result.returncode == 0, result.stderr[-2000:]
    log = [json.loads(line) for line in (tmp_path / "pretraining_log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(record["loss"]) for record in log)
    if amp_dtype == "float16":
        assert log[-1]["loss_scale"] > 0
    assert all(np.isfinite(v).all() for v in exported(tmp_path).values())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_match_one_process_at_double_batch(workspace, tmp_path):
    common = ["--num_train_steps=4", "--save_checkpoints_steps=2", "--shuffle_buffer=1"]
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        output = tmp_path / f"worker{index}"
        workers.append((output, subprocess.Popen(
            pretraining_command(workspace, output, "--train_batch_size=4", *common, config="no_dropout.json"),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    for output, process in workers:
        log, _ = process.communicate(timeout=600)
        assert process.returncode == 0, log[-3000:]
    chief_dir, other_dir = workers[0][0], workers[1][0]
    assert (chief_dir / "ckpt-4.index").exists() and (chief_dir / "model.ckpt.index").exists()
    assert not list(other_dir.glob("ckpt-*")) and not (other_dir / "model.ckpt.index").exists()
    single = run(pretraining_command(workspace, tmp_path / "single", "--train_batch_size=8", *common,
                                     config="no_dropout.json"))
    assert single.returncode == 0, single.stderr[-2000:]
    assert max_difference(exported(chief_dir), exported(tmp_path / "single")) <= 1e-5


def test_bad_inputs_are_one_line_errors(workspace, tmp_path):
    ok_dir = tmp_path / "ok"
    assert run(pretraining_command(workspace, ok_dir, "--train_batch_size=4", "--num_train_steps=2")).returncode == 0
    before = {p.name: p.stat().st_mtime_ns for p in ok_dir.iterdir()}
    blocker = tmp_path / "file"
    blocker.write_text("x")
    wider = tmp_path / "wider.json"
    wider.write_text(json.dumps({**json.loads((workspace / "dropout.json").read_text()), "hidden_size": 48}))
    cases = [
        (pretraining_command(workspace, tmp_path / "a") + ["--input_files_dir=/nonexistent/dir"], "no files match"),
        (pretraining_command(workspace, tmp_path / "b") + ["--max_seq_length=64"], "max_seq_length"),
        (pretraining_command(workspace, blocker / "out"), "not writable"),
        (pretraining_command(workspace, tmp_path / "c") + [f"--bert_config_file={wider}",
                                                           f"--init_checkpoint={ok_dir / 'model.ckpt'}"],
         "in the checkpoint but"),
        (pretraining_command(workspace, ok_dir) + ["--bert_config_file=" + str(wider)], "in the checkpoint but"),
        (pretraining_command(workspace, tmp_path / "d") + ["--eval_random_init"], "--eval_random_init: only with"),
    ]
    for command, message in cases:
        result = run(command)
        assert result.returncode == 2, (command, result.stderr[-2000:])
        last_line = result.stderr.strip().splitlines()[-1]
        assert last_line.startswith("error: ") and message in last_line, last_line
    assert {p.name: p.stat().st_mtime_ns for p in ok_dir.iterdir()} == before


def test_sigterm_saves_a_checkpoint_and_the_rerun_resumes(workspace, tmp_path):
    flags = ["--train_batch_size=4", "--num_train_steps=100000", "--save_checkpoints_steps=100000"]
    process = subprocess.Popen(pretraining_command(workspace, tmp_path, *flags), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 300
    while not (tmp_path / "pretraining_log.jsonl").exists() and time.time() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    assert "SIGTERM: saved" in stdout
    (saved,) = [p.name for p in tmp_path.glob("ckpt-*.index")]
    resumed = run(pretraining_command(workspace, tmp_path, "--train_batch_size=4", "--num_train_steps=10"))
    step = int(saved[len("ckpt-"):-len(".index")])
    assert step >= 4 and f"at step {step}" in resumed.stdout


def test_non_finite_loss_stops_with_clear_error_and_keeps_checkpoint(workspace, tmp_path):
    good = run(pretraining_command(workspace, tmp_path, "--train_batch_size=4", "--num_train_steps=2",
                                   "--save_checkpoints_steps=2", "--optimizer_type=adam"))
    assert good.returncode == 0
    checkpoint_bytes = (tmp_path / "ckpt-2.data-00000-of-00001").read_bytes()
    exploding = run(pretraining_command(workspace, tmp_path, "--train_batch_size=4", "--num_train_steps=10",
                                        "--save_checkpoints_steps=1", "--optimizer_type=adam",
                                        "--learning_rate=1e12"))
    assert exploding.returncode == 2
    assert "non-finite loss" in exploding.stderr.strip().splitlines()[-1]
    assert (tmp_path / "ckpt-2.data-00000-of-00001").read_bytes() == checkpoint_bytes


def test_a_few_hundred_steps_learn_the_masked_lm(tmp_path):
    """A tiny BERT with a vocab built from the sample corpus: loss falls, accuracy far above chance."""
    corpus = REPO_ROOT / "data/sample/sample_corpus.txt"
    vocab = tmp_path / "vocab.txt"
    subprocess.run([sys.executable, str(REPO_ROOT / "build_vocab.py"), f"--input_file={corpus}",
                    f"--vocab_file={vocab}", "--vocab_size=1000"], check=True, capture_output=True)
    subprocess.run([sys.executable, str(REPO_ROOT / "create_pretraining_data.py"), f"--input_file={corpus}",
                    f"--output_file={tmp_path / 'train.tfrecord'}", f"--vocab_file={vocab}", "--max_seq_length=64",
                    "--max_predictions_per_seq=10", "--dupe_factor=10"], check=True, capture_output=True)
    vocab_size = len(vocab.read_text(encoding="utf-8").splitlines())
    (tmp_path / "config.json").write_text(json.dumps({**TINY_CONFIG, "vocab_size": vocab_size, "hidden_size": 64,
                                                      "intermediate_size": 128}))
    result = run([sys.executable, str(REPO_ROOT / "run_pretraining.py"), f"--bert_config_file={tmp_path / 'config.json'}",
                  f"--input_files_dir={tmp_path / 'train.tfrecord'}", f"--eval_files_dir={tmp_path / 'train.tfrecord'}",
                  f"--output_dir={tmp_path / 'out'}", "--do_train", "--do_eval", "--train_batch_size=16",
                  "--max_seq_length=64", "--max_predictions_per_seq=10", "--learning_rate=5e-3",
                  "--num_train_steps=300", "--num_warmup_steps=20", "--display_loss_steps=20",
                  "--save_checkpoints_steps=300", "--max_eval_steps=10", "--use_xla"])
    assert result.returncode == 0, result.stderr[-2000:]
    log = [json.loads(line) for line in (tmp_path / "out/pretraining_log.jsonl").read_text().splitlines()]
    assert log[-1]["masked_lm_loss"] < log[0]["masked_lm_loss"] - 0.5
    evaluation = json.loads((tmp_path / "out/eval_results.json").read_text())
    assert evaluation["masked_lm_accuracy"] > 20.0 / vocab_size  # 20x chance
    untrained = run([sys.executable, str(REPO_ROOT / "run_pretraining.py"),
                     f"--bert_config_file={tmp_path / 'config.json'}", f"--eval_files_dir={tmp_path / 'train.tfrecord'}",
                     f"--output_dir={tmp_path / 'untrained'}", "--do_eval", "--eval_random_init",
                     "--max_seq_length=64", "--max_predictions_per_seq=10", "--max_eval_steps=10"])
    assert untrained.returncode == 0, untrained.stderr[-2000:]
    baseline = json.loads((tmp_path / "untrained/eval_results.json").read_text())
    assert baseline["masked_lm_accuracy"] < 0.2 * evaluation["masked_lm_accuracy"]
    assert baseline["masked_lm_loss"] > evaluation["masked_lm_loss"] + 0.5
