"""run_classifier.py end to end on a tiny model: outputs against our own forward, GLUE layouts, resume, bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bert import checkpoints, modeling
from bert.classify import metrics as classify_metrics
from bert.text import sequences, tokenization
from conftest import REPO_ROOT, TINY_CONFIG

SEQ = 16
SENTENCES = {"good": ["the cat sat on the mat", "hello world !", "the cat ran .", "a cat sat"],
             "bad": ["a dog ran", "the dog sat on a mat", "dogs ran ?", "a dog , a dog"]}


def write_tsv_task(folder, num_train=48, seed=0):
    """train.tsv, dev.tsv (header `sentence<TAB>label`) and test.tsv (`sentence`) in `folder`."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = {}
    for split, count in (("train", num_train), ("dev", 12), ("test", 6)):
        labels = rng.choice(sorted(SENTENCES), count)
        rows[split] = [(SENTENCES[label][rng.integers(4)], label) for label in labels]
        header, lines = ("sentence\tlabel", [f"{s}\t{label}" for s, label in rows[split]]) if split != "test" \
            else ("sentence", [s for s, _ in rows[split]])
        (folder / f"{split}.tsv").write_text("\n".join([header] + lines) + "\n", encoding="utf-8")
    return rows


def run_classifier(tmp_path, *flags):
    return subprocess.run([sys.executable, str(REPO_ROOT / "run_classifier.py"), *flags],
                          capture_output=True, text=True, cwd=tmp_path)


def model_flags(tmp_path, vocab_file):
    config = tmp_path / "bert_config.json"
    if not config.exists():
        config.write_text(json.dumps(TINY_CONFIG))
    return [f"--vocab_file={vocab_file}", f"--bert_config_file={config}", f"--max_seq_length={SEQ}",
            "--train_batch_size=8", "--learning_rate=1e-3", "--eval_batch_size=5", "--predict_batch_size=4"]


def eval_results(output_dir):
    lines = (output_dir / "eval_results.txt").read_text().splitlines()
    return {key: float(value) for key, value in (line.split(" = ") for line in lines)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tsv task trained, evaluated and predicted once: (workspace, vocab file, rows, output folder, stdout)."""
    root = tmp_path_factory.mktemp("classifier")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "a",
                                "dog", "ran", "##s", "hello", "world", ",", ".", "!", "?"]) + "\n")
    rows = write_tsv_task(root / "data")
    result = run_classifier(root, *model_flags(root, vocab), "--task_name=TSV", "--text_a_column=sentence",
                            "--label_column=label", f"--data_dir={root / 'data'}", "--do_train", "--do_eval",
                            "--do_predict", "--num_train_epochs=2", f"--output_dir={root / 'out'}")
    assert result.returncode == 0, result.stderr[-3000:]
    return root, vocab, rows, root / "out", result.stdout


def our_logits(output_dir, vocab, texts, num_labels):
    """Logits [N, num_labels] of the exported model.ckpt, computed here with the model code directly."""
    model = modeling.build_model(modeling.BertForSequenceClassification(modeling.BertConfig.from_dict(TINY_CONFIG),
                                                                        num_labels), SEQ)
    report = checkpoints.load_weights(model, str(output_dir / "model.ckpt"))
    assert not report.missing
    tokenizer = tokenization.FullTokenizer(str(vocab), do_lower_case=True)
    _, arrays = sequences.encode_texts(tokenizer, [(text, None) for text in texts], SEQ)
    return model(arrays, training=False)["logits"].numpy()


def test_eval_and_test_results_are_what_the_exported_model_computes(trained):
    _, vocab, rows, output_dir, stdout = trained
    assert "labels ['bad', 'good']; 48 train examples, 12 dev examples, 6 test examples" in stdout
    results = eval_results(output_dir)
    assert set(results) == {"eval_accuracy", "eval_loss", "global_step"} and results["global_step"] == 12
    dev_logits = our_logits(output_dir, vocab, [text for text, _ in rows["dev"]], 2)
    dev_labels = np.array([["bad", "good"].index(label) for _, label in rows["dev"]])
    assert results["eval_accuracy"] == pytest.approx(classify_metrics.accuracy(dev_labels, dev_logits.argmax(-1)))
    log_probabilities = dev_logits - np.log(np.exp(dev_logits).sum(-1, keepdims=True))
    assert results["eval_loss"] == pytest.approx(-log_probabilities[np.arange(12), dev_labels].mean(), abs=1e-5)
    probabilities = np.loadtxt(output_dir / "test_results.tsv", delimiter="\t")
    test_logits = our_logits(output_dir, vocab, [text for text, _ in rows["test"]], 2)
    expected = np.exp(test_logits) / np.exp(test_logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert (output_dir / "checkpoint").exists() and (output_dir / "vocab.txt").exists()
    assert (output_dir / "label_list.txt").read_text() == "bad\ngood\n"


def test_hf_export_names_the_classes(trained, tmp_path):
    _, _, _, output_dir, _ = trained
    result = subprocess.run([sys.executable, str(REPO_ROOT / "export_model.py"), f"--init_checkpoint={output_dir}",
                             f"--output_dir={tmp_path / 'hf'}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["id2label"] == {"0": "bad", "1": "good"}


def test_predict_only_from_the_trained_folder_gives_the_same_results(trained, tmp_path):
    root, vocab, _, output_dir, _ = trained
    result = run_classifier(root, *model_flags(root, vocab), "--task_name=tsv", "--text_a_column=sentence",
                            "--label_column=label", f"--data_dir={root / 'data'}", "--do_eval", "--do_predict",
                            f"--init_checkpoint={output_dir / 'model.ckpt'}", f"--output_dir={tmp_path / 'again'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert eval_results(tmp_path / "again")["eval_accuracy"] == eval_results(output_dir)["eval_accuracy"]
    np.testing.assert_allclose(np.loadtxt(tmp_path / "again" / "test_results.tsv"),
                               np.loadtxt(output_dir / "test_results.tsv"), atol=1e-6)


def test_rerunning_a_finished_run_resumes_and_changes_nothing(trained):
    root, vocab, _, output_dir, _ = trained
    before = (output_dir / "eval_results.txt").read_text()
    result = run_classifier(root, *model_flags(root, vocab), "--task_name=tsv", "--text_a_column=sentence",
                            "--label_column=label", f"--data_dir={root / 'data'}", "--do_train", "--do_eval",
                            "--num_train_epochs=2", f"--output_dir={output_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Resuming from" in result.stdout
    assert (output_dir / "eval_results.txt").read_text() == before


def write_glue(folder, name, header, rows):
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev"):
        lines = ([header] if header else []) + ["\t".join(row) for row in rows]
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_glue_layouts_train_and_report_their_metrics(trained, tmp_path):
    root, vocab, _, _, _ = trained
    mrpc = [("1", "1", "2", "the cat sat", "a cat sat"), ("0", "3", "4", "the dog ran", "hello world")] * 8
    write_glue(tmp_path / "MRPC", "MRPC", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", mrpc)
    cola = [("gj04", "1", "", "the cat sat on the mat ."), ("gj04", "0", "*", "cat the on sat")] * 8
    write_glue(tmp_path / "CoLA", "CoLA", None, cola)
    stsb = [(str(i), "main-captions", "MSRvid", "2012test", "0001", "none", "none", "a cat sat", "the cat sat",
             f"{i % 5}.000") for i in range(16)]
    write_glue(tmp_path / "STS-B", "STS-B", "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\t"
               "sentence2\tscore", stsb)
    for task, expected in (("MRPC", {"eval_accuracy", "eval_f1", "eval_acc_and_f1"}),
                           ("CoLA", {"eval_mcc", "eval_accuracy"}),
                           ("STS-B", {"eval_pearson", "eval_spearman", "eval_corr"})):
        result = run_classifier(root, *model_flags(root, vocab), f"--task_name={task}",
                                f"--data_dir={tmp_path / task}", "--do_train", "--do_eval", "--num_train_epochs=1",
                                f"--output_dir={tmp_path / task}_out")
        assert result.returncode == 0, (task, result.stderr[-3000:])
        assert set(eval_results(tmp_path / f"{task}_out")) == expected | {"eval_loss", "global_step"}, task


def test_bad_inputs_are_one_line_errors_with_no_outputs(trained, tmp_path):
    root, vocab, _, _, _ = trained
    cases = {
        "unknown_dev_label": ("sentence\tlabel\nthe cat\tgood\na dog\tbad\n", "sentence\tlabel\nthe cat\tmeh\n",
                              "label 'meh'"),
        "ragged_row": ("sentence\tlabel\nthe cat\tgood\na dog\n", None, "train.tsv line 3"),
        "missing_column": ("text\tlabel\nthe cat\tgood\n", None, "train.tsv"),
        "empty_file": ("", None, "train.tsv"),
    }
    for name, (train, dev, message) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "train.tsv").write_text(train)
        (folder / "dev.tsv").write_text(dev if dev is not None else train)
        result = run_classifier(root, *model_flags(root, vocab), "--task_name=tsv", "--text_a_column=sentence",
                                "--label_column=label", f"--data_dir={folder}", "--do_train", "--do_eval",
                                f"--output_dir={tmp_path / 'out'}")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and lines[-1].startswith("error: ") and message in lines[-1], (name, lines[-3:])
        assert not (tmp_path / "out").exists(), name
    result = run_classifier(root, *model_flags(root, vocab), "--task_name=glue", f"--data_dir={tmp_path}",
                            "--do_train", f"--output_dir={tmp_path / 'out'}")
    assert result.returncode == 2 and "unknown task 'glue'" in result.stderr.strip().splitlines()[-1]


def test_run_glue_sh_fine_tunes_from_a_checkpoint_folder(trained, tmp_path):
    root, _, _, output_dir, _ = trained
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "run_glue.sh"), "--data_dir", str(root / "data"), "--results_dir",
         str(tmp_path / "glue"), "--predict", "tsv", "8", "1e-3", "fp32", "false", "0", str(SEQ), "base",
         str(output_dir / "model.ckpt"), "1", "--", "--text_a_column=sentence", "--label_column=label"],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHON": sys.executable})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "eval_accuracy = " in result.stdout
    assert {"eval_results.txt", "test_results.tsv", "logfile.txt", "model.ckpt.index"} <= \
        {path.name for path in (tmp_path / "glue").iterdir()}
