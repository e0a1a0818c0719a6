"""run_ner.py end to end on a tiny BERT (bert-base vocab): files, scores, resume, bad input; and scripts/run_ner.sh."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from bert import checkpoints
from bert.ner import conll, metrics
from conftest import REPO_ROOT, TINY_CONFIG

FIXTURE = REPO_ROOT / "data" / "sample" / "ner"
# Windows of 14 pieces, so most fixture sentences take two or more windows and are stitched back.
SEQ_LENGTH, DOC_STRIDE, BATCH_SIZE = 16, 6, 8


def run_ner(cwd, *flags):
    return subprocess.run([sys.executable, str(REPO_ROOT / "run_ner.py"), *map(str, flags)],
                          capture_output=True, text=True, cwd=cwd)


def run_script(*args, cwd=None):
    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run(["bash", str(REPO_ROOT / "scripts" / "run_ner.sh"), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env)


def sentence_blocks(path):
    """The blank-line-separated sentences of a CoNLL file, -DOCSTART- dropped, each a list of lines."""
    blocks = [block.splitlines() for block in path.read_text(encoding="utf-8").split("\n\n")]
    return [block for block in blocks if block and not block[0].startswith("-DOCSTART-")]


def write_blocks(path, blocks):
    path.write_text("\n\n".join("\n".join(block) for block in blocks) + "\n", encoding="utf-8")


def read_columns(path):
    """The sentences of a predictions file, each a list of column tuples (`word gold pred` or `word pred`)."""
    return [[tuple(line.split(" ")) for line in block] for block in sentence_blocks(path)]


def read_results(path):
    """{key: float} of a Google-style `key = value` results file."""
    pairs = [line.split(" = ") for line in path.read_text(encoding="utf-8").splitlines()]
    assert all(len(pair) == 2 for pair in pairs), pairs
    return {key: float(value) for key, value in pairs}


def expected_results(report):
    values = {"precision": report.micro.precision, "recall": report.micro.recall, "f1": report.micro.f1,
              "accuracy": report.accuracy}
    values.update((f"f1_{entity_type}", scores.f1) for entity_type, scores in report.per_type.items())
    return values


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, minilm):
    """A folder with a 2-layer, hidden-32 BERT config over the bert-base-uncased vocab, and that vocab."""
    folder = tmp_path_factory.mktemp("tiny_bert")
    shutil.copyfile(minilm / "vocab.txt", folder / "vocab.txt")
    vocab_size = len((folder / "vocab.txt").read_text(encoding="utf-8").splitlines())
    config = dict(TINY_CONFIG, vocab_size=vocab_size, max_position_embeddings=SEQ_LENGTH)
    (folder / "bert_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A --data_dir with the fixture's first 48 training, 12 dev and 12 test sentences; test.txt without tags."""
    folder = tmp_path_factory.mktemp("ner_data")
    write_blocks(folder / "train.txt", sentence_blocks(FIXTURE / "train.txt")[:48])
    write_blocks(folder / "dev.txt", sentence_blocks(FIXTURE / "dev.txt")[:12])
    test = sentence_blocks(FIXTURE / "test.txt")[:12]
    write_blocks(folder / "test_labelled.txt", test)
    write_blocks(folder / "test.txt", [[line.split(" ")[0] for line in block] for block in test])
    return folder


def model_flags(tiny_model):
    return [f"--vocab_file={tiny_model / 'vocab.txt'}", f"--max_seq_length={SEQ_LENGTH}",
            f"--doc_stride={DOC_STRIDE}", f"--train_batch_size={BATCH_SIZE}", f"--eval_batch_size={BATCH_SIZE}",
            f"--predict_batch_size={BATCH_SIZE}"]


def train_flags(tiny_model, data, output_dir):
    return [*model_flags(tiny_model), f"--bert_config_file={tiny_model / 'bert_config.json'}",
            f"--data_dir={data}", "--do_train", "--do_eval", "--do_predict", "--num_train_epochs=2",
            "--learning_rate=2e-3", "--save_checkpoints_steps=10", f"--output_dir={output_dir}"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model, data):
    """Two epochs of training on 48 sentences, then dev scored, test tagged and a SavedModel written."""
    output_dir = tmp_path_factory.mktemp("ner") / "out"
    result = run_ner(output_dir.parent, *train_flags(tiny_model, data, output_dir),
                     f"--export_dir={output_dir / 'export'}")
    assert result.returncode == 0, result.stderr[-4000:]
    return output_dir, result


def test_train_eval_predict_write_one_tag_per_word_and_the_scores_of_those_tags(trained, data):
    output_dir, result = trained
    train = conll.read_conll(data / "train.txt")
    labels = conll.collect_labels(train)
    assert (output_dir / "label_list.txt").read_text(encoding="utf-8") == "".join(f"{label}\n" for label in labels)
    for name in ("model.ckpt.index", "bert_config.json", "vocab.txt", "checkpoint"):
        assert (output_dir / name).exists(), name
    assert f"{data / 'dev.txt'}: 12 sentences" in result.stdout

    dev = conll.read_conll(data / "dev.txt")
    predicted = read_columns(output_dir / "eval_predictions.txt")
    assert [[line[0] for line in sentence] for sentence in predicted] == [sentence.words for sentence in dev]
    assert [[line[1] for line in sentence] for sentence in predicted] == [sentence.tags for sentence in dev]
    assert all(len(line) == 3 and line[2] in labels for sentence in predicted for line in sentence)
    report = metrics.evaluate([sentence.tags for sentence in dev], [[line[2] for line in s] for s in predicted])
    results = read_results(output_dir / "eval_results.txt")
    assert results == expected_results(report)
    assert {"f1_PER", "f1_LOC", "f1_ORG", "f1_MISC"} <= set(results)
    for key, value in results.items():
        assert f"  {key} = {value}" in result.stdout

    test = conll.read_conll(data / "test.txt", labelled=False)
    tagged = read_columns(output_dir / "test_predictions.txt")
    assert [[line[0] for line in sentence] for sentence in tagged] == [sentence.words for sentence in test]
    assert all(len(line) == 2 and line[1] in labels for sentence in tagged for line in sentence)
    assert not (output_dir / "test_results.txt").exists()  # unlabelled: nothing to score

    records = [json.loads(line) for line in (output_dir / "ner_log.jsonl").read_text().splitlines()]
    predict_records = [record for record in records if record.get("event") == "predict"]
    assert [record["file"] for record in predict_records] == [str(data / "dev.txt"), str(data / "test.txt")]
    assert predict_records[0]["f1"] == results["f1"] and "f1" not in predict_records[1]
    # Windows of 14 pieces: the dev sentences needed more windows than sentences, so stitching was exercised.
    assert predict_records[0]["windows"] > len(dev)


def test_saved_model_tags_the_dev_file_as_the_run_did(trained, tiny_model, data):
    import tensorflow as tf

    from bert.ner import features
    from bert.text import tokenization

    output_dir, _ = trained
    export_dir = output_dir / "export"
    labels = (export_dir / "label_list.txt").read_text(encoding="utf-8").split()
    assert labels == (output_dir / "label_list.txt").read_text(encoding="utf-8").split()
    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    dev = conll.read_conll(data / "dev.txt")
    tokenizer = tokenization.FullTokenizer(str(tiny_model / "vocab.txt"), do_lower_case=True)
    windows = features.convert_sentences_to_windows(dev, tokenizer, labels, SEQ_LENGTH, DOC_STRIDE)
    arrays = features.stack_windows(windows)
    logits = serve(**{name: tf.constant(arrays[name]) for name in ("input_ids", "input_mask", "segment_ids")})
    assert logits["logits"].shape == (len(windows), SEQ_LENGTH, len(labels))
    tags = features.stitch_predictions(dev, windows, logits["logits"].numpy(), labels)
    assert tags == [[line[2] for line in sentence] for sentence in read_columns(output_dir / "eval_predictions.txt")]


def test_eval_and_predict_only_read_the_trained_label_list(trained, tiny_model, data, tmp_path):
    first_dir, _ = trained
    output_dir = tmp_path / "predict"
    result = run_ner(tmp_path, *model_flags(tiny_model), f"--init_checkpoint={first_dir / 'model.ckpt'}",
                     "--do_eval", f"--dev_file={data / 'dev.txt'}", "--do_predict",
                     f"--test_file={data / 'test_labelled.txt'}", f"--output_dir={output_dir}")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Loaded 39 weights" in result.stdout  # embeddings (5), 2 layers x 16 and the tagging head (2)
    assert not (output_dir / "label_list.txt").exists()
    # The same weights and windows: the same tags and scores.
    for name in ("eval_predictions.txt", "eval_results.txt"):
        assert (output_dir / name).read_text() == (first_dir / name).read_text(), name
    test = conll.read_conll(data / "test_labelled.txt")
    tagged = read_columns(output_dir / "test_predictions.txt")
    assert [[line[:2] for line in sentence] for sentence in tagged] == [
        list(zip(sentence.words, sentence.tags)) for sentence in test]
    assert [[line[2] for line in s] for s in tagged] == [[line[1] for line in s]
                                                        for s in read_columns(first_dir / "test_predictions.txt")]
    report = metrics.evaluate([sentence.tags for sentence in test], [[line[2] for line in s] for s in tagged])
    assert read_results(output_dir / "test_results.txt") == expected_results(report)


def checkpoint_tensors(prefix):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def test_rerun_after_finishing_resumes_to_the_same_model(trained, tiny_model, data, tmp_path):
    first_dir, _ = trained
    output_dir = tmp_path / "out"
    shutil.copytree(first_dir, output_dir, ignore=shutil.ignore_patterns("export"))
    step = int(checkpoints.latest_checkpoint(str(first_dir)).rsplit("-", 1)[1])
    result = run_ner(tmp_path, *train_flags(tiny_model, data, output_dir))
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"Resuming from {output_dir / f'ckpt-{step}'} at step {step}." in result.stdout
    before, after = checkpoint_tensors(first_dir / "model.ckpt"), checkpoint_tensors(output_dir / "model.ckpt")
    assert before.keys() == after.keys() and "cls/ner/output_weights" in after
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)
    for name in ("eval_results.txt", "eval_predictions.txt", "test_predictions.txt", "label_list.txt"):
        assert (output_dir / name).read_text() == (first_dir / name).read_text(), name


# Runs several bad invocations of run_ner.main in one process (one TensorFlow start-up).
BAD_INPUT_DRIVER = """
import contextlib, io, json, sys
sys.argv = ["run_ner.py"]
import run_ner
from bert.errors import run_main
outcomes = []
for flags in json.load(sys.stdin):
    run_ner.FLAGS.unparse_flags()
    run_ner.FLAGS(["run_ner.py", *flags])
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            run_main(run_ner.main, [])
            code = 0
        except SystemExit as exit:
            code = exit.code
    outcomes.append({"code": code, "stderr": stderr.getvalue()})
print(json.dumps(outcomes))
"""


def test_bad_input_is_one_error_line_naming_file_and_line_and_writes_nothing(trained, tiny_model, data, minilm,
                                                                            tmp_path):
    first_dir, _ = trained
    train_lines = (data / "train.txt").read_text(encoding="utf-8").splitlines()
    (tmp_path / "unknown_tag.txt").write_text("The O\ncat O\nParis B-FOO\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    (tmp_path / "one_column.txt").write_text("\n".join(train_lines[:3] + ["Oslo"] + train_lines[3:]) + "\n",
                                             encoding="utf-8")
    (tmp_path / "no_test").mkdir()
    for name in ("train.txt", "dev.txt"):
        shutil.copyfile(data / name, tmp_path / "no_test" / name)
    (tmp_path / "resumed").mkdir()
    (tmp_path / "resumed" / "label_list.txt").write_text("O\nB-X\nI-X\n", encoding="utf-8")
    (tmp_path / "three_labels").mkdir()
    for name in ("model.ckpt.index", "model.ckpt.data-00000-of-00001", "bert_config.json"):
        shutil.copyfile(first_dir / name, tmp_path / "three_labels" / name)
    (tmp_path / "three_labels" / "label_list.txt").write_text("O\nB-X\nI-X\n", encoding="utf-8")

    flags = [*model_flags(tiny_model), f"--bert_config_file={tiny_model / 'bert_config.json'}"]
    train = [*flags, "--do_train", f"--train_file={data / 'train.txt'}"]
    trained_model = [*flags, f"--init_checkpoint={first_dir}"]
    cases = [  # (flags, message, output folder or None for out<i>)
        ([*trained_model, "--do_eval", "--dev_file=unknown_tag.txt"],
         "unknown_tag.txt:3: tag 'B-FOO' is not among the labels O, B-LOC", None),
        ([*train, "--do_eval", "--dev_file=unknown_tag.txt"], "unknown_tag.txt:3: tag 'B-FOO'", None),
        ([*train, "--do_predict", f"--data_dir={tmp_path / 'no_test'}"],
         f"{tmp_path / 'no_test' / 'test.txt'}: cannot read the file (No such file or directory)", None),
        ([*flags, "--do_train", "--train_file=empty.txt"], "empty.txt: the file has no sentences", None),
        ([*trained_model, "--do_predict", "--test_file=empty.txt"], "empty.txt: the file has no sentences", None),
        ([*flags, "--do_train", "--train_file=one_column.txt"],
         "one_column.txt:4: expected a token and a tag, found only 'Oslo'", None),
        ([*trained_model, "--do_eval", "--dev_file=one_column.txt"], "one_column.txt:4: expected a token", None),
        ([*trained_model, "--do_eval"], "--dev_file: required (or --data_dir holding dev.txt)", None),
        ([*flags, "--do_eval", f"--data_dir={data}", f"--init_checkpoint={minilm}"],
         f"--init_checkpoint: no label_list.txt in {minilm}", None),
        ([*flags, "--do_eval", f"--data_dir={data}", f"--init_checkpoint={tmp_path / 'three_labels'}"],
         "tags 9 labels but the label list has 3", None),
        ([*train, f"--data_dir={data}", "--do_eval"], "the run being resumed has labels O, B-X, I-X", "resumed"),
        ([*train, "--doc_stride=0"], "--doc_stride: must be at least 1, got 0", None),
        ([*train, "--max_seq_length=32"], "--max_seq_length: 32 exceeds", None),
        ([*train, "--num_train_epochs=0.01"], "do not fill one global batch", None),
        ([*flags, f"--data_dir={data}"], "nothing to do", None),
    ]
    argument_lists = [[*case, f"--output_dir={folder or f'out{i}'}"] for i, (case, _, folder) in enumerate(cases)]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    driver = subprocess.run([sys.executable, "-c", BAD_INPUT_DRIVER], input=json.dumps(argument_lists),
                            capture_output=True, text=True, cwd=tmp_path, env=env)
    assert driver.returncode == 0, driver.stderr[-4000:]
    outcomes = json.loads(driver.stdout.strip().splitlines()[-1])
    for i, ((_, message, folder), outcome) in enumerate(zip(cases, outcomes)):
        errors = [line for line in outcome["stderr"].splitlines() if line.startswith("error:")]
        assert outcome["code"] == 2, (message, outcome)
        assert len(errors) == 1 and message in errors[0], (message, outcome["stderr"])
        if folder is None:
            assert not (tmp_path / f"out{i}").exists(), message
    assert os.listdir(tmp_path / "resumed") == ["label_list.txt"]

    # The same through the command line: exit status 2, one error line, no traceback, no files.
    result = run_ner(tmp_path, *flags, "--do_train", "--train_file=one_column.txt", "--output_dir=cli")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == \
        "error: one_column.txt:4: expected a token and a tag, found only 'Oslo'"
    assert sum(line.startswith("error:") for line in result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cli").exists()


# ---------------------------------------------------------------------------------
# scripts/run_ner.sh
# ---------------------------------------------------------------------------------

def assert_one_line_error(result, message):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert message in result.stderr, result.stderr
    assert result.stdout == ""


def test_script_help_and_argument_count():
    result = run_script("--help")
    assert result.returncode == 0 and result.stdout.startswith("Usage: scripts/run_ner.sh")
    for argument in ("batch_size", "learning_rate", "precision", "use_xla", "epochs", "seq_length"):
        assert f"  {argument} " in result.stdout, argument
    for option in ("--data_dir", "--init_checkpoint", "--bert_config_file", "--vocab_file", "--cased",
                   "--results_dir", "--dry_run"):
        assert f"  {option} " in result.stdout, option
    assert_one_line_error(run_script(*["1"] * 7), "expected at most 6 arguments, got 7")
    assert_one_line_error(run_script("--no_such_option"), "unknown option --no_such_option")


@pytest.mark.parametrize("arguments, message", [
    (["0"], "batch_size must be a whole number >= 1, got '0'"),
    (["8", "fast"], "learning_rate must be a number > 0, got 'fast'"),
    (["8", "5e-5", "fp8"], "precision must be one of: fp32 fp16 bf16; got 'fp8'"),
    (["8", "5e-5", "fp32", "yes"], "use_xla must be one of: true false; got 'yes'"),
    (["8", "5e-5", "fp32", "true", "-1"], "epochs must be a number > 0, got '-1'"),
    (["8", "5e-5", "fp32", "true", "3", "2"], "seq_length must be a whole number >= 3, got '2'"),
    (["--init_checkpoint", "absent.ckpt", "8"], "init_checkpoint 'absent.ckpt' not found"),
    (["--data_dir", "{tiny_model}"], "train.txt not found (--data_dir needs train.txt, dev.txt and test.txt)"),
    (["--data_dir", "no_such_folder"], "--data_dir no_such_folder is not a folder"),
    (["--init_checkpoint", "{tiny_model}", "--vocab_file", "absent.txt"], "--vocab_file absent.txt not found"),
])
def test_script_rejects_bad_argument(arguments, message, tiny_model, tmp_path):
    arguments = [argument.format(tiny_model=tiny_model) for argument in arguments]
    assert_one_line_error(run_script(*arguments, cwd=tmp_path), message)


def test_script_maps_arguments_to_flags(tiny_model, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    (model / "model.safetensors").write_bytes(b"")  # only looked at, never read, by a dry run
    result = run_script("--dry_run", "--init_checkpoint", model / "model.safetensors", "--cased",
                        "--results_dir", tmp_path / "results", "16", "1e-4", "bf16", "false", "2.5", "64", "--",
                        "--tag_scheme=iob1")
    assert result.returncode == 0, result.stderr
    command = result.stdout.split()
    for flag in [f"--data_dir={FIXTURE}", "--do_train", "--do_eval", "--do_predict", "--nodo_lower_case",
                 "--train_batch_size=16", "--eval_batch_size=16", "--predict_batch_size=16", "--learning_rate=1e-4",
                 "--amp", "--amp_dtype=bfloat16", "--nouse_xla", "--num_train_epochs=2.5", "--max_seq_length=64",
                 f"--init_checkpoint={model / 'model.safetensors'}", f"--bert_config_file={model / 'bert_config.json'}",
                 f"--vocab_file={model / 'vocab.txt'}",
                 f"--output_dir={tmp_path / 'results'}", "--tag_scheme=iob1"]:
        assert flag in command, flag
    assert command[1] == str(REPO_ROOT / "run_ner.py")
    assert not (tmp_path / "results").exists()


# ---------------------------------------------------------------------------------
# Acceptance: real pretrained weights on the fixture
# ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_minilm_fine_tuned_on_the_fixture_beats_the_majority_tag(minilm, tmp_path):
    """MiniLM, 5 epochs at seq 64 on the 400 fixture sentences, tags the 100 test sentences (129 of their 302
    entities never occur in train.txt) far better than tagging every word O (about 3 minutes)."""
    result = run_ner(tmp_path, f"--vocab_file={minilm / 'vocab.txt'}", f"--init_checkpoint={minilm}",
                     f"--data_dir={FIXTURE}", "--do_train", "--do_eval", "--do_predict", "--max_seq_length=64",
                     "--num_train_epochs=5", "--train_batch_size=16", "--eval_batch_size=32",
                     "--predict_batch_size=32", "--learning_rate=2e-4", "--use_xla", f"--output_dir={tmp_path / 'ner'}")
    assert result.returncode == 0, result.stderr[-4000:]
    scores = read_results(tmp_path / "ner" / "test_results.txt")
    print(scores)
    test = conll.read_conll(FIXTURE / "test.txt")
    majority = metrics.evaluate([s.tags for s in test], [["O"] * len(s.tags) for s in test])
    assert majority.micro.f1 == 0.0 and majority.accuracy == pytest.approx(0.70, abs=0.01)
    assert scores["accuracy"] >= majority.accuracy + 0.2, scores
    assert scores["f1"] >= 0.9, scores  # seen on 2 shared cores: F1 0.967, accuracy 0.993, in about 3 minutes


def test_hf_export_is_a_token_classifier_named_by_the_label_list(trained, tmp_path):
    output_dir, _ = trained
    result = subprocess.run([sys.executable, str(REPO_ROOT / "export_model.py"), f"--init_checkpoint={output_dir}",
                             f"--output_dir={tmp_path / 'hf'}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    labels = (output_dir / "label_list.txt").read_text().splitlines()
    assert config["architectures"] == ["BertForTokenClassification"]
    assert config["id2label"] == {str(i): label for i, label in enumerate(labels)}
