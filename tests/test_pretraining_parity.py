"""benchmarks/pretraining_parity.py's helpers, the PyTorch optimizers against ours, and a small parity run.

The reference-tier tests run the PyTorch side in the reference virtualenv (a child process,
no TensorFlow there): `test_torch_optimizers_match_ours` feeds the same weights and
gradients to torch_pretraining.py's optimizers and to ours (`bert/train/optimization.py`,
in this process) and compares the weights after a few updates; the slow one pretrains a
small BERT from scratch with run_pretraining.py and with transformers' BertForPreTraining
and compares their held-out masked-LM accuracy.
"""

import json
import os
import subprocess

import numpy as np
import pytest

from benchmarks import bigbench_data, pretraining_parity

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def reference_python():
    python = os.environ.get("BERT_REFERENCE_PYTHON")
    if not python:
        pytest.fail("BERT_REFERENCE_PYTHON is not set: run the reference tier with `scripts/test.sh -m reference`")
    if not os.path.exists(python):
        pytest.skip(f"no reference python at {python}")
    return python


def test_split_articles_holds_out_the_last_articles_and_caps_the_train_words():
    articles = [[f"article {i} has five words", "and four more here"] for i in range(20)]
    train, held_out = pretraining_parity.split_articles(articles, eval_fraction=0.1, train_words=20)
    assert held_out == articles[-2:]
    assert train == articles[:3]  # 9 words each: the third passes 20
    train, _ = pretraining_parity.split_articles(articles, eval_fraction=0.1, train_words=0)
    assert train == articles[:-2]
    with pytest.raises(ValueError, match="too few"):
        pretraining_parity.split_articles(articles[:1], eval_fraction=0.5, train_words=0)


def test_eval_steps_are_evenly_spaced_and_end_at_the_last_update():
    assert pretraining_parity.eval_steps(900, 3) == [300, 600, 900]
    assert pretraining_parity.eval_steps(30, 1) == [30]
    with pytest.raises(ValueError, match="multiple"):
        pretraining_parity.eval_steps(100, 3)


def test_seconds_until_sums_the_logged_intervals():
    log = [{"step": 10, "sequences_per_second": 32.0}, {"step": 20, "sequences_per_second": 64.0},
           {"step": 30, "sequences_per_second": 160.0}]
    assert pretraining_parity.seconds_until(log, 32, 20) == pytest.approx(10 + 5)
    assert pretraining_parity.seconds_until(log, 32, 30) == pytest.approx(10 + 5 + 2)


def test_summarize_averages_over_seeds_and_pairs_the_differences():
    def run(*accuracies):
        return {"evals": [{"step": step, "masked_lm_accuracy": accuracy, "masked_lm_loss": 1.0,
                           "next_sentence_accuracy": 0.5, "next_sentence_loss": 0.7, "train_seconds": 2.0 * step}
                          for step, accuracy in zip((10, 20), accuracies)]}

    runs = {"lamb": {"ours": {"1": run(0.1, 0.3), "2": run(0.2, 0.5)},
                     "pytorch": {"1": run(0.1, 0.2), "3": run(0.9, 0.9)}}}
    summary = pretraining_parity.summarize(runs)
    ours_20 = next(row for row in summary["rows"] if row["framework"] == "ours" and row["step"] == 20)
    assert ours_20["seeds"] == 2 and ours_20["masked_lm_accuracy"][0] == pytest.approx(0.4)
    assert ours_20["masked_lm_accuracy"][1] == pytest.approx(np.std([0.3, 0.5], ddof=1))
    assert ours_20["train_seconds"] == [40.0, 0.0]
    # Only seed 1 ran in both frameworks.
    assert [(row["step"], row["seeds"]) for row in summary["differences"]] == [(10, 1), (20, 1)]
    assert summary["differences"][1]["masked_lm_accuracy_difference"] == pytest.approx([0.1, 0.0])


def fake_bigbench_cache(cache_dir, num_articles=20):
    """A cache folder whose paragraph_segmentation.json holds `num_articles` seeded English articles."""
    rng = np.random.default_rng(0)
    nouns = ["river", "castle", "engine", "garden", "station", "market", "village", "teacher", "harbour", "window",
             "mountain", "library", "factory", "bridge", "museum", "island", "farmer", "painter", "soldier", "church"]
    verbs = ["built", "crossed", "painted", "visited", "opened", "closed", "followed", "described", "carried"]
    articles = []
    for _ in range(num_articles):
        sentences = [f"The {rng.choice(nouns)} of the {rng.choice(nouns)} was {rng.choice(verbs)} in the "
                     f"{rng.choice(nouns)} and it is near the {rng.choice(nouns)}." for _ in range(30)]
        articles.append({"input": "\n".join(sentences), "target": "0"})
    os.makedirs(cache_dir, exist_ok=True)
    for name in bigbench_data.MEMBERS:
        with open(os.path.join(cache_dir, name), "w", encoding="utf-8") as f:
            json.dump({"examples": articles} if name.startswith("paragraph_segmentation") else {}, f)


def test_data_step_learns_its_own_vocabulary_and_sizes_the_model_by_it(tmp_path):
    cache_dir = str(tmp_path / "cache")
    fake_bigbench_cache(cache_dir)
    work_dir = tmp_path / "work"
    pretraining_parity.main([f"--work_dir={work_dir}", f"--cache_dir={cache_dir}", "--steps=data",
                             "--own_vocab_size=300", "--eval_fraction=0.1", "--eval_batch_size=4",
                             "--eval_sequences=8", "--train_shards=2", "--frameworks=ours"])
    vocab = (work_dir / "data" / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] and "castle" in vocab
    config = json.loads((work_dir / "bert_config.json").read_text(encoding="utf-8"))
    assert config["vocab_size"] == len(vocab) <= 300
    results = json.loads((work_dir / "results.json").read_text(encoding="utf-8"))
    assert results["model_config"] == config and results["data"]["settings"]["own_vocab_size"] == 300
    train = np.load(work_dir / "data" / "train.npz")
    assert train["input_ids"].max() < len(vocab) and train["input_ids"].shape[1] == 128
    masked = train["masked_lm_ids"][train["masked_lm_weights"] > 0]
    assert masked.size and (masked >= 5).all()  # the original tokens: words of its own vocabulary, never [UNK]


def test_read_records_returns_the_shards_features_in_order(tmp_path):
    import tensorflow as tf

    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    path = str(tmp_path / "shard.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for i in range(3):
            features = {name: ints([i] * 4) for name in ("input_ids", "input_mask", "segment_ids")}
            features.update({name: ints([i, i]) for name in ("masked_lm_positions", "masked_lm_ids")},
                            masked_lm_weights=tf.train.Feature(float_list=tf.train.FloatList(value=[1.0, 0.5])),
                            next_sentence_labels=ints([i % 2]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
    records = pretraining_parity.read_records([path], max_seq_length=4, max_predictions_per_seq=2)
    assert records["input_ids"].dtype == np.int32 and records["input_ids"].shape == (3, 4)
    np.testing.assert_array_equal(records["masked_lm_ids"][:, 0], [0, 1, 2])
    np.testing.assert_array_equal(records["next_sentence_labels"], [[0], [1], [0]])
    assert records["masked_lm_weights"].dtype == np.float32
    np.testing.assert_array_equal(records["masked_lm_weights"][2], [1.0, 0.5])


# Ours names (Keras) -> the PyTorch side's names: a decayed kernel and embedding table, an
# undecayed bias and LayerNorm scale, so the weight-decay exclusions are checked too.
PARAMETER_NAMES = {"kernel": "encoder.dense.weight", "embeddings": "bert.embeddings.word_embeddings.weight",
                   "bias": "encoder.dense.bias", "gamma": "encoder.LayerNorm.weight"}


@pytest.mark.reference
@pytest.mark.parametrize("optimizer_type", ["lamb", "adam"])
def test_torch_optimizers_match_ours(optimizer_type, tmp_path):
    """Five updates (schedule: 2 of warmup out of 5, so the first update has rate 0) with gradients of
    1e-4 to 1 and steps of about 0.05: the weights agree with ours to float32 rounding (1e-6; torch
    divides by sqrt(v) / sqrt(1 - beta_2^t) where Keras takes sqrt(v / (1 - beta_2^t)))."""
    import keras

    from bert.train import optimization

    python = reference_python()
    rng = np.random.default_rng(0)
    shapes = {"kernel": (4, 3), "embeddings": (6, 3), "bias": (3,), "gamma": (3,)}
    weights = {name: rng.normal(0, 0.5, shape).astype(np.float32) for name, shape in shapes.items()}
    weights["bias"][:] = 0.0  # a zero-norm weight: the LAMB trust ratio falls back to 1
    gradients = [{name: (rng.normal(0, 1, shape) * 10.0 ** rng.integers(-4, 1, shape)).astype(np.float32)
                  for name, shape in shapes.items()} for _ in range(5)]
    learning_rate, num_train_steps, num_warmup_steps = 0.05, 5, 2

    variables = {name: keras.Variable(value, name=name) for name, value in weights.items()}
    optimizer = optimization.create_optimizer(optimizer_type, learning_rate, num_train_steps, num_warmup_steps)
    for step_gradients in gradients:
        optimizer.apply([step_gradients[name] for name in variables], list(variables.values()))
    ours = {name: variable.numpy() for name, variable in variables.items()}

    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({
        "weights": {PARAMETER_NAMES[name]: value.tolist() for name, value in weights.items()},
        "gradients": [{PARAMETER_NAMES[name]: value.tolist() for name, value in step.items()} for step in gradients]}))
    script = ("import json, sys, numpy as np\n"
              "from benchmarks.torch_pretraining import optimizer_steps\n"
              "inputs = json.load(open(sys.argv[1]))\n"
              "as_arrays = lambda values: {k: np.array(v, np.float32) for k, v in values.items()}\n"
              f"final = optimizer_steps({optimizer_type!r}, as_arrays(inputs['weights']), "
              f"[as_arrays(g) for g in inputs['gradients']], {learning_rate}, {num_train_steps}, {num_warmup_steps})\n"
              "json.dump({k: v.tolist() for k, v in final.items()}, open(sys.argv[2], 'w'))\n")
    subprocess.run([python, "-c", script, str(inputs), str(tmp_path / "outputs.json")], cwd=REPO, check=True)
    theirs = {name: np.array(values, np.float32)
              for name, values in json.loads((tmp_path / "outputs.json").read_text()).items()}
    for name, value in ours.items():
        assert not np.allclose(value, weights[name]), f"{name} did not move"
        np.testing.assert_allclose(theirs[PARAMETER_NAMES[name]], value, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.slow
@pytest.mark.reference
def test_run_pretraining_learns_as_well_as_pytorch(tmp_path):
    """~200k words of Wikipedia (3 masks each), 300 updates of 32 sequences, seed 1, AdamW and LAMB: ours'
    held-out masked-LM accuracy is at least PyTorch's minus 1.5 points, and both learned: far above the
    random initialisation's (about 0) and above always predicting the most frequent word (0.057).

    Seen with ours alone (seed 1, 2 loaded cores): AdamW 0.076, LAMB 0.082. Each framework takes about
    0.1-0.5 s per update on 2 cores, depending on the load, so the test takes several minutes."""
    python = reference_python()
    work_dir = tmp_path / "work"
    pretraining_parity.main([
        f"--work_dir={work_dir}", f"--reference_python={python}", "--seeds=1", "--train_words=200000",
        "--train_dupe_factor=3", "--num_train_steps=300", "--eval_points=1", "--eval_sequences=800"])
    with open(work_dir / "results.json", encoding="utf-8") as f:
        results = json.load(f)
    assert os.path.exists(work_dir / "ours_lamb_seed1" / "model.ckpt.index")
    for optimizer in ("adam", "lamb"):
        final = {framework: results["runs"][optimizer][framework]["1"]["evals"][-1]
                 for framework in ("ours", "pytorch")}
        accuracy = {framework: final[framework]["masked_lm_accuracy"] for framework in final}
        print(optimizer, accuracy)
        assert accuracy["ours"] >= accuracy["pytorch"] - 0.015, (optimizer, accuracy)
        assert min(accuracy.values()) >= 0.065, (optimizer, accuracy)
        assert results["init"]["1"]["masked_lm_accuracy"] < 0.01
