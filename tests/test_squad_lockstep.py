"""benchmarks/squad_lockstep.py: run_squad.py's training against transformers' on the same draws.

Default tier: the order of the windows (each epoch a permutation, batches straddling epochs).
Reference tier: MiniLM fine-tuned a few updates by ours and by transformers (a child process in
the reference virtualenv) from the same span head on the same batches, dropout off. With
[PAD]'s embedding row trained on both sides, the per-update losses agree to float rounding; with
transformers' default (`padding_idx`: that row frozen), they drift apart from the second update.
"""

import json
import os
import subprocess

import numpy as np
import pytest

from benchmarks import squad_lockstep
from bert.squad import metrics

CONTEXT = ("The Amazon River in South America is the largest river by discharge volume of water in the world. "
           "It flows east for about 6,400 km and reaches the Atlantic Ocean near the city of Belem. "
           "The river basin covers about 7 million square kilometres, of which 5.5 million are rainforest. ")
QUESTIONS = [("Which river is the largest by discharge?", "Amazon River"), ("Where is the Amazon?", "South America"),
             ("How far does it flow?", "6,400 km"), ("Which ocean does it reach?", "Atlantic Ocean"),
             ("Which city is near its mouth?", "Belem"), ("How large is the basin?", "7 million square kilometres"),
             ("What covers 5.5 million square kilometres?", "rainforest")]


def test_update_rows_take_every_window_once_per_epoch_and_straddle_epochs():
    rows = squad_lockstep.update_rows(num_windows=10, batch_size=4, num_updates=7, seed=3)
    assert rows.shape == (7, 4)
    flat = rows.reshape(-1)
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:20]) == list(range(10))
    assert not np.array_equal(flat[:10], flat[10:20])  # a new order each epoch
    assert np.array_equal(rows, squad_lockstep.update_rows(10, 4, 7, seed=3))
    assert not np.array_equal(rows, squad_lockstep.update_rows(10, 4, 7, seed=4))


def test_runs_of_other_seeds_dropouts_and_pad_rows_share_one_results_file(minilm):
    """Only the recipe keys results.json: a later run with other seeds, dropouts or [PAD] rows keeps the earlier
    runs; another learning rate does not."""
    common = [f"--model_dir={minilm}", f"--reference_python={os.path.abspath(__file__)}"]
    first = squad_lockstep.recipe_settings(squad_lockstep.parse_args(common + ["--torch_pad_rows=trained,frozen"]))
    again = squad_lockstep.recipe_settings(squad_lockstep.parse_args(
        common + ["--seeds=2", "--dropouts=0.1", "--torch_pad_rows=frozen", "--control"]))
    other = squad_lockstep.recipe_settings(squad_lockstep.parse_args(common + ["--learning_rate=1e-4"]))
    assert first == again
    assert first != other


def test_paired_standard_error_comes_from_the_questions_the_answers_differ_on():
    gold = metrics.Dataset(path="dev.json", version="1.1", questions=[
        metrics.Question(qid=f"q{i}", answers=["red fox", "the red fox"]) for i in range(4)])
    same = {f"q{i}": "red fox" for i in range(4)}
    assert squad_lockstep.paired_f1_standard_error(gold, same, same) == 0.0
    # ours right on every question, theirs wrong (F1 0) on q0 and half right (F1 2/3: "fox") on q1:
    # differences 1, 1/3, 0, 0; standard deviation 0.4714, over sqrt(4): 23.57 F1 points.
    theirs = {**same, "q0": "a cat", "q1": "fox"}
    assert squad_lockstep.paired_f1_standard_error(gold, same, theirs) == pytest.approx(23.570, abs=1e-3)


def test_bad_flags_are_one_line_errors(capsys):
    for argv, message in ((["--dropouts=0,1"], "--dropouts: each rate must be in [0, 1)"),
                          (["--torch_pad_rows=frozen,thawed"], "--torch_pad_rows: unknown ['thawed']"),
                          (["--train_file=x.json"], "--train_file and --predict_file go together"),
                          (["--reference_python=/nonexistent/python"], "--reference_python: /nonexistent/python does "
                                                                       "not exist")):
        with pytest.raises(SystemExit) as exit_info:
            squad_lockstep.parse_args(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


@pytest.mark.reference
def test_squad_training_matches_pytorch_update_by_update(minilm, tmp_path):
    """7 updates of 4 windows (seq 96, lr 1e-4), dropout off. Seen: per-update loss difference 3.5e-6 with [PAD]'s
    row trained on both sides, 2.1e-4 with it frozen in transformers (ours against itself without XLA: 2.7e-7)."""
    python = os.environ.get("BERT_REFERENCE_PYTHON")
    if not python:
        pytest.fail("BERT_REFERENCE_PYTHON is not set: run the reference tier with `scripts/test.sh -m reference`")
    qas = [{"id": f"q{i}", "question": question, "answers": [{"text": answer, "answer_start": CONTEXT.index(answer)}]}
           for i, (question, answer) in enumerate(QUESTIONS)]
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [
        {"context": CONTEXT, "qas": qas}]}]}), encoding="utf-8")
    work_dir = tmp_path / "work"
    squad_lockstep.main([f"--work_dir={work_dir}", f"--model_dir={minilm}", f"--train_file={squad}",
                         f"--predict_file={squad}", "--max_seq_length=96", "--doc_stride=32", "--train_batch_size=4",
                         "--num_train_epochs=4", "--learning_rate=1e-4", "--dropouts=0",
                         "--torch_pad_rows=trained,frozen", f"--reference_python={python}"])
    runs = json.loads((work_dir / "results.json").read_text())["runs"]
    trained, frozen = runs["seed1_dropout0_padtrained"], runs["seed1_dropout0_padfrozen"]
    for record in (trained, frozen):
        losses = record["ours"]["losses"]
        assert len(losses) == 7 and losses[-1] < losses[0] - 0.3, losses  # it trained
        assert record["against"]["pytorch"]["first_loss"][0] == pytest.approx(
            record["against"]["pytorch"]["first_loss"][1], abs=1e-5)
    assert trained["against"]["pytorch"]["loss_abs_difference_all"] < 2e-5, trained["against"]
    assert trained["against"]["pytorch"]["same_answer_share"] == 1.0
    assert trained["against"]["pytorch"]["dev_logit_abs_difference"] < 1e-3
    assert frozen["against"]["pytorch"]["loss_abs_difference_all"] > \
        10 * trained["against"]["pytorch"]["loss_abs_difference_all"], (frozen["against"], trained["against"])


@pytest.mark.slow
@pytest.mark.reference
def test_run_squad_training_equals_pytorch_on_real_questions(minilm, tmp_path):
    """squad_lockstep.py on the real questions (1,003 SQuADShifts new_wiki, scored on 503 SQuAD v1.1 dev), seq 192,
    lr 2e-4, one epoch (81 updates), dropout off, [PAD]'s row trained on both sides: the two frameworks give the
    same answers. About 14 minutes on 2 busy cores.

    Seen on a 2-core AMD EPYC: F1 18.37 on both sides, every answer the same, per-update losses 2.2e-6 apart on
    average (with the full recipe, 3 epochs: F1 47.30 on both sides, losses 2e-5 apart)."""
    from benchmarks import bigbench_data

    python = os.environ.get("BERT_REFERENCE_PYTHON")
    if not python:
        pytest.fail("BERT_REFERENCE_PYTHON is not set: run the reference tier with `scripts/test.sh -m reference`")
    try:
        bigbench_data.fetch()
    except subprocess.CalledProcessError:
        pytest.skip(f"could not download bigbench=={bigbench_data.BIGBENCH_VERSION} (its sdist holds the questions)")
    work_dir = tmp_path / "work"
    squad_lockstep.main([f"--work_dir={work_dir}", f"--model_dir={minilm}", "--num_train_epochs=1", "--dropouts=0",
                         "--torch_pad_rows=trained", f"--reference_python={python}"])
    record = json.loads((work_dir / "results.json").read_text())["runs"]["seed1_dropout0_padtrained"]
    print({side: record[side]["f1"] for side in ("ours", "pytorch")}, record["against"]["pytorch"])
    assert record["updates"] == 81
    assert record["ours"]["f1"] >= 12.0, record["ours"]["f1"]  # it learned
    assert abs(record["ours"]["f1"] - record["pytorch"]["f1"]) <= 0.5
    assert record["against"]["pytorch"]["same_answer_share"] >= 0.95
    assert record["against"]["pytorch"]["loss_abs_difference_all"] < 1e-3
