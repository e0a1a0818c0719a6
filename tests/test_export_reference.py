"""The `hf` export opened by transformers itself, in the reference virtualenv (a child process).

For each head, the folder must load through `AutoTokenizer`, `AutoModel` and the head's
Auto class with no missing or unexpected weight; the exported tokenizer must give our
token ids, and the hidden states and head logits must match ours to 1e-4. A model freshly
pretrained by run_pretraining.py is checked against extract_features.py, as a user would.
Run with `scripts/test.sh -m reference`.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bert.text.tokenization import FullTokenizer
from conftest import REPO_ROOT, TINY_CONFIG
from test_export_model import run_export, write_checkpoint_folder

pytestmark = pytest.mark.reference

TINY_TEXTS = ["the cat sat on the mat.", "a dog ran, hello world!", "The Cats SAT?", "dogs sitting on mats"]
HELD_OUT_SENTENCES = [
    "The committee published its findings on the river's water quality last spring.",
    "Naïve readers rarely notice how the narrator's tone shifts in the final chapter.",
    "Researchers measured 3.5 millimetres of rain in Zürich on Tuesday.",
]


def transformers_outputs(model_dir, texts, max_seq_length, tmp_path):
    """What tests/reference/hf_export_outputs.py computes with transformers for `texts` (a dict of arrays)."""
    python = os.environ.get("BERT_REFERENCE_PYTHON")
    if not python:
        pytest.fail("BERT_REFERENCE_PYTHON is not set: run the reference tier with `scripts/test.sh -m reference`")
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    result = subprocess.run([python, "-m", "tests.reference.hf_export_outputs", f"--model_dir={model_dir}",
                             f"--texts_file={tmp_path / 'texts.txt'}", f"--max_seq_length={max_seq_length}",
                             f"--output_file={tmp_path / 'reference.npz'}"],
                            cwd=REPO_ROOT, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-4000:]
    with np.load(tmp_path / "reference.npz") as arrays:
        return dict(arrays)


def our_inputs(vocab_file, texts, max_seq_length, do_lower_case):
    tokenizer = FullTokenizer(str(vocab_file), do_lower_case)
    ids = np.zeros([len(texts), max_seq_length], np.int32)
    for row, text in enumerate(texts):
        pieces = tokenizer.convert_tokens_to_ids(["[CLS]"] + tokenizer.tokenize(text) + ["[SEP]"])
        ids[row, : len(pieces)] = pieces
    return {"input_ids": ids, "input_mask": (ids > 0).astype(np.int32), "segment_ids": np.zeros_like(ids)}


@pytest.mark.parametrize("architecture,heads", [
    ("BertForPreTraining", {"prediction_logits": "masked_lm_logits",
                            "seq_relationship_logits": "next_sentence_logits"}),
    ("BertForQuestionAnswering", {"start_logits": "start_logits", "end_logits": "end_logits"}),
    ("BertForSequenceClassification", {"logits": "logits"}),
    ("BertForTokenClassification", {"logits": "logits"}),
])
def test_transformers_loads_each_head_and_computes_what_we_compute(tmp_path, tiny_vocab_file, architecture, heads):
    seq = 16
    model = write_checkpoint_folder(tmp_path / "trained", architecture, tiny_vocab_file, seed=3)
    result = run_export(f"--init_checkpoint={tmp_path / 'trained'}", f"--output_dir={tmp_path / 'hf'}")
    assert result.returncode == 0, result.stderr[-2000:]
    reference = transformers_outputs(tmp_path / "hf", TINY_TEXTS, seq, tmp_path)
    inputs = our_inputs(tiny_vocab_file, TINY_TEXTS, seq, do_lower_case=True)
    np.testing.assert_array_equal(reference["input_ids"], inputs["input_ids"])
    np.testing.assert_array_equal(reference["attention_mask"], inputs["input_mask"])
    inputs["masked_lm_positions"] = np.tile(np.arange(seq, dtype=np.int32), (len(TINY_TEXTS), 1))
    ours = model(inputs, training=False)
    hidden = model.bert(inputs, training=False)["sequence_output"].numpy()
    np.testing.assert_allclose(reference["last_hidden_state"], hidden, atol=1e-4)
    for reference_name, our_name in heads.items():
        np.testing.assert_allclose(reference[reference_name], ours[our_name].numpy(), atol=1e-4, err_msg=our_name)


def test_a_freshly_pretrained_model_matches_extract_features(tmp_path, minilm):
    seq = 32
    (tmp_path / "config.json").write_text(json.dumps({**TINY_CONFIG, "vocab_size": 30522}))
    steps = [
        [str(REPO_ROOT / "create_pretraining_data.py"), f"--input_file={REPO_ROOT / 'data/sample/sample_corpus.txt'}",
         f"--output_file={tmp_path / 'shard.tfrecord'}", f"--vocab_file={minilm / 'vocab.txt'}",
         f"--max_seq_length={seq}", "--max_predictions_per_seq=5"],
        [str(REPO_ROOT / "run_pretraining.py"), f"--bert_config_file={tmp_path / 'config.json'}",
         f"--input_files_dir={tmp_path / 'shard.tfrecord'}", f"--output_dir={tmp_path / 'pretrained'}", "--do_train",
         f"--vocab_file={minilm / 'vocab.txt'}", f"--max_seq_length={seq}", "--max_predictions_per_seq=5",
         "--train_batch_size=8", "--num_train_steps=20", "--num_warmup_steps=2", "--learning_rate=1e-3"],
        [str(REPO_ROOT / "export_model.py"), f"--init_checkpoint={tmp_path / 'pretrained'}",
         f"--output_dir={tmp_path / 'hf'}"],
        [str(REPO_ROOT / "extract_features.py"), f"--input_file={tmp_path / 'held_out.txt'}",
         f"--output_file={tmp_path / 'features.jsonl'}", f"--vocab_file={minilm / 'vocab.txt'}",
         f"--init_checkpoint={tmp_path / 'pretrained'}", f"--max_seq_length={seq}", "--layers=-1"],
    ]
    (tmp_path / "held_out.txt").write_text("\n".join(HELD_OUT_SENTENCES) + "\n", encoding="utf-8")
    for command in steps:
        result = subprocess.run([sys.executable, *command], capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0, (command[0], result.stderr[-3000:])
    reference = transformers_outputs(tmp_path / "hf", HELD_OUT_SENTENCES, seq, tmp_path)
    assert str(reference["tokenizer_class"]) == "BertTokenizer"
    vocab = (minilm / "vocab.txt").read_text(encoding="utf-8").splitlines()
    lines = [json.loads(line) for line in (tmp_path / "features.jsonl").read_text().splitlines()]
    for row, line in enumerate(lines):
        tokens = [feature["token"] for feature in line["features"]]
        length = int(reference["attention_mask"][row].sum())
        assert tokens == [vocab[i] for i in reference["input_ids"][row, :length]]
        ours = np.array([feature["layers"][0]["values"] for feature in line["features"]])
        np.testing.assert_allclose(reference["last_hidden_state"][row, :length], ours, atol=1e-4)
