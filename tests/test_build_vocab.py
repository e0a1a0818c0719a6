"""build_vocab.py / wordpiece_trainer: a trained vocab that FullTokenizer loads and uses."""

import collections
import pathlib
import re
import subprocess
import sys
import unicodedata

import pytest

from bert.text import tokenization
from bert.text import wordpiece_trainer
from bert.errors import InputError

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLE_CORPUS = REPO_ROOT / "data" / "sample" / "sample_corpus.txt"
FALLBACK_TEXT = """The unaffable librarian catalogued Manuscripts about photosynthesis.
Volcanologists measured hydrothermal vents near the archipelago, twice.
A cartographer redrew the coastline after the earthquake reshaped the peninsula.
Beekeepers noticed that pollinators preferred lavender over rhododendrons!

Café owners in Zürich serve naïve tourists; façades glitter at dusk.
"""


@pytest.fixture
def corpus(tmp_path):
    text = SAMPLE_CORPUS.read_text(encoding="utf-8") if SAMPLE_CORPUS.exists() else FALLBACK_TEXT * 20
    path = tmp_path / "corpus.txt"
    path.write_text(text + "\n" + FALLBACK_TEXT, encoding="utf-8")
    return path


def run_script(*args):
    return subprocess.run([sys.executable, str(REPO_ROOT / "build_vocab.py"), *args],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)


def test_script_writes_a_vocab_fulltokenizer_uses(tmp_path, corpus):
    vocab_file = tmp_path / "vocab.txt"
    result = run_script(f"--input_file={corpus}", f"--vocab_file={vocab_file}", "--vocab_size=600")
    assert result.returncode == 0, result.stderr
    tokens = vocab_file.read_text(encoding="utf-8").splitlines()
    assert tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert len(tokens) == len(set(tokens)) <= 600
    assert any(token.startswith("##") for token in tokens)
    assert not (tmp_path / "vocab.txt.tmp").exists()

    tokenizer = tokenization.FullTokenizer(str(vocab_file), do_lower_case=True)
    text = corpus.read_text(encoding="utf-8")
    for line in text.splitlines():
        pieces = tokenizer.tokenize(line)
        assert "[UNK]" not in pieces  # every character of the corpus is in the alphabet
        assert "".join(piece.removeprefix("##") for piece in pieces) == "".join(uncased(line).split())
    words = collections.Counter(word for word in re.findall(r"[a-z]{4,}", text.lower()))
    frequent = words.most_common(1)[0][0]
    assert tokenizer.tokenize(frequent) == [frequent]  # frequent words are learned whole


def uncased(text):
    """Google's uncased normalization: lower case, accents (combining marks) removed."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(char for char in decomposed if unicodedata.category(char) != "Mn")


def test_cased_vocab_keeps_capitals(tmp_path, corpus):
    tokens = wordpiece_trainer.train_wordpiece_vocab([str(corpus)], vocab_size=800, do_lower_case=False)
    assert "M" in tokens and "é" in tokens
    uncased = wordpiece_trainer.train_wordpiece_vocab([str(corpus)], vocab_size=800, do_lower_case=True)
    assert "M" not in uncased and "é" not in uncased


def test_min_frequency_limits_merges(corpus):
    loose = wordpiece_trainer.train_wordpiece_vocab([str(corpus)], vocab_size=5000, min_frequency=1)
    strict = wordpiece_trainer.train_wordpiece_vocab([str(corpus)], vocab_size=5000, min_frequency=50)
    assert len(strict) < len(loose)


@pytest.mark.parametrize("case", ["no match", "not utf-8", "empty", "tiny vocab"])
def test_bad_input_exits_2_with_one_line(case, tmp_path):
    bad = tmp_path / "bad.txt"
    args = {
        "no match": ([f"--input_file={tmp_path / 'none*.txt'}"], "none*.txt"),
        "not utf-8": ([f"--input_file={bad}"], "bad.txt: invalid UTF-8 at byte offset 10 (line 2)"),
        "empty": ([f"--input_file={bad}"], "empty"),
        "tiny vocab": ([f"--input_file={bad}", "--vocab_size=5"], "vocab_size"),
    }[case]
    contents = {"empty": b"", "not utf-8": "Hello.\nCaf\xe9.\n".encode("latin-1")}
    bad.write_bytes(contents.get(case, b"Hello there.\n"))
    vocab_file = tmp_path / "vocab.txt"
    result = run_script(*args[0], f"--vocab_file={vocab_file}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and args[1] in lines[0], result.stderr
    assert not vocab_file.exists() and not (tmp_path / "vocab.txt.tmp").exists()


def test_write_vocab_reports_unwritable_path(tmp_path):
    with pytest.raises(InputError, match="cannot write"):
        wordpiece_trainer.write_vocab(["[PAD]"], tmp_path / "missing" / "vocab.txt")
