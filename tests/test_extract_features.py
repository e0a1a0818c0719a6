"""extract_features.py end to end on the real MiniLM checkpoint, against Hugging Face transformers' outputs."""

import json
import subprocess
import sys

import numpy as np

from conftest import REPO_ROOT, golden
from tests.reference.golden_inputs import FEATURE_MAX_SEQ_LENGTH, FEATURE_TEXTS



def run_extract(tmp_path, *flags):
    return subprocess.run([sys.executable, str(REPO_ROOT / "extract_features.py"), *flags],
                          capture_output=True, text=True, cwd=tmp_path)


def test_matches_hugging_face_last_hidden_state(tmp_path, minilm):
    """Tokens and last hidden states of transformers' BertTokenizerFast + BertModel (golden file)."""
    reference = golden("minilm_hidden_states.npz")
    (tmp_path / "input.txt").write_text("\n".join(FEATURE_TEXTS) + "\n", encoding="utf-8")
    result = run_extract(tmp_path, "--input_file=input.txt", "--output_file=features.jsonl",
                         f"--vocab_file={minilm / 'vocab.txt'}", f"--init_checkpoint={minilm}",
                         f"--max_seq_length={FEATURE_MAX_SEQ_LENGTH}", "--layers=-1,-2", "--batch_size=3")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (tmp_path / "features.jsonl").read_text().splitlines()]
    assert [line["linex_index"] for line in lines] == [0, 1, 2, 3]
    for index, line in enumerate(lines):
        assert [feature["token"] for feature in line["features"]] == list(reference[f"tokens_{index}"])
        ours = np.array([feature["layers"][0]["values"] for feature in line["features"]])
        assert line["features"][0]["layers"][0]["index"] == -1
        assert np.abs(ours - reference[f"hidden_{index}"]).max() < 1e-4


def test_bad_inputs_are_one_line_errors(tmp_path, minilm):
    vocab, checkpoint = f"--vocab_file={minilm / 'vocab.txt'}", f"--init_checkpoint={minilm}"
    (tmp_path / "input.txt").write_text("hello\n")
    cases = [
        (["--input_file=absent.txt", "--output_file=out.jsonl", vocab, checkpoint], "absent.txt: cannot read"),
        (["--input_file=input.txt", "--output_file=out.jsonl", vocab, checkpoint, "--layers=-7"],
         "--layers: index -7 out of range for a 6-layer model"),
        (["--input_file=input.txt", "--output_file=out.jsonl", vocab, checkpoint, "--max_seq_length=600"],
         "--max_seq_length: 600 exceeds"),
        (["--input_file=input.txt", "--output_file=out.jsonl", vocab], "--init_checkpoint: required"),
        (["--input_file=input.txt", "--output_file=out.jsonl", "--vocab_file=absent_vocab.txt", checkpoint],
         "absent_vocab.txt: cannot read vocab file"),
    ]
    for flags, message in cases:
        result = run_extract(tmp_path, *flags)
        assert result.returncode == 2, (flags, result.stderr)
        last_line = result.stderr.strip().splitlines()[-1]
        assert last_line.startswith("error: ") and message in last_line, last_line
        assert not (tmp_path / "out.jsonl").exists()
