"""Tests for squad_metrics and the evaluate-v1.1.py / evaluate-v2.0.py scripts.

Expected numbers are worked out by hand in the comments; the randomized tests compare
the scripts with a deliberately plain second implementation written here.
"""

import collections
import importlib.util
import json
import pathlib
import random
import string
import subprocess
import sys

import pytest

from bert.squad import metrics as squad_metrics

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
V1_SCRIPT = REPO_ROOT / "evaluate-v1.1.py"
V2_SCRIPT = REPO_ROOT / "evaluate-v2.0.py"


def squad_file(questions, version="1.1"):
    """A SQuAD dataset dict with one paragraph holding `questions` = [(id, [answer texts])]."""
    qas = [{"id": qid, "question": "?",
            "answers": [{"text": text, "answer_start": 0} for text in answers]}
           for qid, answers in questions]
    paragraph = {"context": "c", "qas": qas}
    return {"version": version, "data": [{"title": "t", "paragraphs": [paragraph]}]}


def write_json(tmp_path, name, obj):
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return str(path)


def run(script, *args):
    return subprocess.run([sys.executable, str(script), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def run_ok(script, *args):
    result = run(script, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


# --- normalisation, EM and F1 -------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("The  Cat, sat!", "cat sat"),
    ("an apple a day", "apple day"),
    ("Theatre anthem", "theatre anthem"),  # articles only as whole words
    ("don't  stop\t", "dont stop"),
    ("...", ""),
])
def test_normalize_answer(text, expected):
    assert squad_metrics.normalize_answer(text) == expected


def test_exact_match_ignores_case_punctuation_and_articles():
    assert squad_metrics.exact_match_score("The Eiffel Tower!", "eiffel tower") == 1
    assert squad_metrics.exact_match_score("Eiffel Towers", "eiffel tower") == 0


def test_f1_partial_overlap():
    # pred tokens [cat, sat, on, mat], gold [cat, sat, on, red, mat]: 4 shared,
    # precision 1, recall 4/5, F1 = 2 * 4/5 / (9/5) = 8/9.
    f1 = squad_metrics.f1_score("the cat sat on mat", "a cat sat on a red mat")
    assert f1 == pytest.approx(8 / 9)
    # Tokens count as a multiset: [cat, cat, dog] vs [cat, dog, dog] share 2 -> P = R = F1 = 2/3.
    assert squad_metrics.f1_score("cat cat dog", "cat dog dog") == pytest.approx(2 / 3)
    assert squad_metrics.f1_score("dog", "cat") == 0


def test_f1_of_empty_answers_differs_between_versions():
    assert squad_metrics.f1_score("", "the") == 0  # v1.1: no shared token, score 0
    assert squad_metrics.f1_score("", "the", empty_is_answer=True) == 1  # v2.0: both "no answer"
    assert squad_metrics.f1_score("cat", "", empty_is_answer=True) == 0


# --- evaluate-v1.1.py -----------------------------------------------------------------------

def test_v1_scores_and_unanswered_question(tmp_path):
    data = write_json(tmp_path, "dev.json", squad_file([
        ("q1", ["Eiffel tower"]),                  # EM 1, F1 1
        ("q2", ["dog", "a cat sat on a red mat"]),  # best gold gives EM 0, F1 8/9
        ("q3", ["Paris"]),                         # unanswered: 0, 0
    ]))
    preds = write_json(tmp_path, "pred.json",
                       {"q1": "The Eiffel Tower!", "q2": "the cat sat on mat"})
    scores, stderr = run_ok(V1_SCRIPT, data, preds)
    assert list(scores) == ["exact_match", "f1"]
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * (1 + 8 / 9) / 3)
    assert stderr == "Unanswered question q3 will receive score 0.\n"


def test_v1_warns_on_other_version_and_still_evaluates(tmp_path):
    data = write_json(tmp_path, "dev.json", squad_file([("q1", ["x"])], version="2.0"))
    preds = write_json(tmp_path, "pred.json", {"q1": "x"})
    scores, stderr = run_ok(V1_SCRIPT, data, preds)
    assert scores == {"exact_match": 100.0, "f1": 100.0}
    assert "expects v-1.1, but got dataset with v-2.0" in stderr


# --- evaluate-v2.0.py -----------------------------------------------------------------------

V2_QUESTIONS = [("h1", ["Paris"]), ("h2", ["red big ball"]), ("n1", []), ("n2", [])]
V2_PREDICTIONS = {"h1": "paris", "h2": "big ball", "n1": "", "n2": "something"}
# h2: pred [big, ball] vs gold [red, big, ball]: P = 1, R = 2/3, F1 = 0.8.
# Per question (EM, F1): h1 (1, 1), h2 (0, 0.8), n1 (1, 1), n2 (0, 0).
V2_NA_PROBS = {"h1": 0.1, "n1": 0.2, "h2": 0.9, "n2": 0.95}


def v2_files(tmp_path):
    return (write_json(tmp_path, "dev.json", squad_file(V2_QUESTIONS, version="v2.0")),
            write_json(tmp_path, "pred.json", V2_PREDICTIONS),
            write_json(tmp_path, "na_prob.json", V2_NA_PROBS))


def test_v2_has_answer_and_no_answer_breakdown(tmp_path):
    data, preds, _ = v2_files(tmp_path)
    scores, _ = run_ok(V2_SCRIPT, data, preds)
    assert scores == pytest.approx({
        "exact": 50.0, "f1": 70.0, "total": 4,
        "HasAns_exact": 50.0, "HasAns_f1": 90.0, "HasAns_total": 2,
        "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2})
    assert list(scores) == ["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total",
                            "NoAns_exact", "NoAns_f1", "NoAns_total"]


def test_v2_na_prob_threshold_and_best_threshold(tmp_path):
    data, preds, na_probs = v2_files(tmp_path)
    out_file = tmp_path / "eval.json"
    result = run(V2_SCRIPT, data, preds, "-n", na_probs, "-t", "0.9", "-o", out_file)
    assert result.returncode == 0 and result.stdout == ""
    scores = json.loads(out_file.read_text())
    # Only n2 (0.95) exceeds 0.9 and becomes "", scoring 1; h2 (exactly 0.9) keeps its
    # prediction. EM: h1 1, h2 0, n1 1, n2 1. F1: h1 1, h2 0.8, n1 1, n2 1.
    # Best threshold, walking by na_prob from 2 (= no-answer count): h1 +1 = 3 (at 0.1),
    # n1 +0, h2 +0 (EM) / +0.8 (F1) = 3.8 (at 0.9), n2 -1 (non-empty prediction).
    assert scores == pytest.approx({
        "exact": 75.0, "f1": 95.0, "total": 4,
        "HasAns_exact": 50.0, "HasAns_f1": 90.0, "HasAns_total": 2,
        "NoAns_exact": 100.0, "NoAns_f1": 100.0, "NoAns_total": 2,
        "best_exact": 75.0, "best_exact_thresh": 0.1, "best_f1": 95.0, "best_f1_thresh": 0.9})
    assert list(scores)[-4:] == ["best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"]


def test_best_threshold_pays_for_non_empty_predictions_on_unanswerable_questions():
    # Walk from 2: h1 +1 = 3 (at 0.2), n1 -1 = 2 (predicts "y" but has no answer),
    # h2 +1 = 3 (no gain over 3), n2 +0 (predicts ""). Best 3 of 4 at 0.2.
    predictions = {"h1": "x", "n1": "y", "h2": "z", "n2": ""}
    scores = {"h1": 1, "n1": 0, "h2": 1, "n2": 1}
    has_answer = {"h1": True, "n1": False, "h2": True, "n2": False}
    na_probs = {"h1": 0.2, "n1": 0.4, "h2": 0.6, "n2": 0.8}
    best = squad_metrics.find_best_threshold(predictions, scores, na_probs, has_answer)
    assert best == (75.0, 0.2)


def test_precision_recall_curve_by_hand():
    # By na_prob: h1 (score 1), n1, h2 (score 0.5), n2; 2 answerable questions.
    # Points: after h1 P=1 R=1/2, after n1 P=1/2 R=1/2, after h2 P=1.5/3 R=3/4, after n2 P=1.5/4.
    # AP = 1 * 1/2 + 1/2 * 0 + 1/2 * 1/4 + 3/8 * 0 = 5/8.
    has_answer = {"h1": True, "h2": True, "n1": False, "n2": False}
    scores = {"h1": 1, "h2": 0.5, "n1": 0, "n2": 0}
    ap, precisions, recalls = squad_metrics.precision_recall_curve(scores, V2_NA_PROBS, has_answer)
    assert ap == pytest.approx(62.5)
    assert precisions == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.375])
    assert recalls == pytest.approx([0.0, 0.5, 0.5, 0.75, 0.75])


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is not None,
                    reason="matplotlib is installed")
def test_v2_image_dir_without_matplotlib_is_one_line_error(tmp_path):
    data, preds, na_probs = v2_files(tmp_path)
    result = run(V2_SCRIPT, data, preds, "-n", na_probs, "-p", tmp_path / "images")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "matplotlib" in result.stderr


# --- bad input ----------------------------------------------------------------------------

GOOD = squad_file([("q1", ["Paris"]), ("q2", ["London"])])


def without(path, field):
    """A copy of GOOD lacking the field at `path` (a list of keys and indexes) + [field]."""
    dataset = json.loads(json.dumps(GOOD))
    node = dataset
    for key in path:
        node = node[key]
    del node[field]
    return dataset


QA1 = ["data", 0, "paragraphs", 0, "qas", 1]
BAD_INPUTS = {
    # name: (dataset, predictions, expected text in the stderr line)
    "dataset not JSON": ("{oops", {}, "dev.json: not valid JSON"),
    "predictions not JSON": (GOOD, "[1, 2", "pred.json: not valid JSON"),
    "no data": (without([], "data"), {}, "dev.json: missing field 'data'"),
    "no paragraphs": (without(QA1[:2], "paragraphs"), {}, "data[0]: missing field 'paragraphs'"),
    "no qas": (without(QA1[:4], "qas"), {}, "data[0].paragraphs[0]: missing field 'qas'"),
    "no context": (without(QA1[:4], "context"), {},
                   "data[0].paragraphs[0]: missing field 'context'"),
    "no id": (without(QA1, "id"), {}, "data[0].paragraphs[0].qas[1]: missing field 'id'"),
    "no answers": (without(QA1, "answers"), {},
                   "dev.json: data[0].paragraphs[0].qas[1]: missing field 'answers'"),
    "duplicate id": (squad_file([("q1", ["a"]), ("q1", ["b"])]), {}, "duplicate question id 'q1'"),
    "predictions a list": (GOOD, ["Paris"], "pred.json: expected a JSON object"),
    "prediction not a string": (GOOD, {"q1": 3},
                                "pred.json: value for question id 'q1' must be a string"),
    "unknown id": (GOOD, {"q1": "Paris", "abc123": "x"},
                   "pred.json: unknown question id 'abc123' (not in "),
}


def assert_one_line_error(result, expected):
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert expected in result.stderr


@pytest.mark.parametrize("script", [V1_SCRIPT, V2_SCRIPT], ids=["v1.1", "v2.0"])
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_error(tmp_path, script, case):
    dataset, predictions, expected = BAD_INPUTS[case]
    if script == V2_SCRIPT and isinstance(predictions, dict) and "q1" not in predictions:
        predictions = {"q1": "", "q2": "", **predictions}  # v2.0 needs every prediction
    data = write_json(tmp_path, "dev.json", dataset)
    preds = write_json(tmp_path, "pred.json", predictions)
    assert_one_line_error(run(script, data, preds), expected)


BOTH = {"q1": "x", "q2": ""}


@pytest.mark.parametrize("preds, na_probs, expected", [
    ({"q1": "x"}, None, "pred.json: missing prediction for question id 'q2'"),
    (BOTH, {"q1": 0.5}, "na_prob.json: missing no-answer probability for question id 'q2'"),
    (BOTH, {"q1": 0.5, "q2": "high"}, "value for question id 'q2' must be a number"),
    (BOTH, {"q1": 0.5, "q2": 0.1, "q9": 1}, "na_prob.json: unknown question id 'q9'"),
])
def test_v2_bad_predictions_or_na_probs(tmp_path, preds, na_probs, expected):
    args = [write_json(tmp_path, "dev.json", GOOD), write_json(tmp_path, "pred.json", preds)]
    if na_probs is not None:
        args += ["-n", write_json(tmp_path, "na_prob.json", na_probs)]
    assert_one_line_error(run(V2_SCRIPT, *args), expected)


def test_v1_rejects_question_without_gold_answers(tmp_path):
    data = write_json(tmp_path, "dev.json", squad_file([("q1", ["a"]), ("q2", [])]))
    preds = write_json(tmp_path, "pred.json", {"q1": "a"})
    assert_one_line_error(run(V1_SCRIPT, data, preds), "qas[1]: field 'answers' is empty")


# --- independent cross-check on random data ------------------------------------------------

VOCAB = ["the", "The", "a", "an", "An", "cat", "Cat", "dog", "sat", "mat", "red", "theatre",
         ",", "!", "...", "'s", "-"]


def plain_tokens(text):
    """Normalised tokens, computed token-wise instead of with a regex over the string."""
    kept = text.lower().translate(str.maketrans("", "", string.punctuation)).split()
    return [token for token in kept if token not in ("a", "an", "the")]


def plain_f1(pred, gold, v2):
    pred_left, gold_left = plain_tokens(pred), plain_tokens(gold)
    if v2 and (not pred_left or not gold_left):
        return int(pred_left == gold_left)
    shared = 0
    remaining = list(gold_left)
    for token in pred_left:
        if token in remaining:
            remaining.remove(token)
            shared += 1
    if shared == 0:
        return 0
    precision, recall = 1.0 * shared / len(pred_left), 1.0 * shared / len(gold_left)
    return (2 * precision * recall) / (precision + recall)


def random_case(seed, no_answer_rate):
    """(questions, predictions) with answers built from VOCAB; predictions often near a gold."""
    rng = random.Random(seed)

    def phrase(max_words):
        words = [rng.choice(VOCAB) + rng.choice([" ", "  ", ""])
                 for _ in range(rng.randint(0, max_words))]
        return "".join(words)

    questions, predictions = [], {}
    for i in range(60):
        unanswerable = rng.random() < no_answer_rate
        answers = [] if unanswerable else [phrase(4) for _ in range(rng.randint(1, 3))]
        questions.append((f"q{i}", answers))
        near = answers[0] if answers else ""
        predictions[f"q{i}"] = rng.choice(["", phrase(5), near, near + " the", "a, " + near + "!"])
    return questions, predictions


def test_v1_matches_plain_reimplementation(tmp_path):
    questions, predictions = random_case(seed=11, no_answer_rate=0.0)
    for qid in ("q3", "q17", "q40"):
        del predictions[qid]
    exact = f1 = 0
    for qid, golds in questions:
        if qid in predictions:
            exact += max(int(plain_tokens(predictions[qid]) == plain_tokens(g)) for g in golds)
            f1 += max(plain_f1(predictions[qid], g, v2=False) for g in golds)
    data = write_json(tmp_path, "dev.json", squad_file(questions))
    scores, _ = run_ok(V1_SCRIPT, data, write_json(tmp_path, "pred.json", predictions))
    assert 0 < exact < len(questions) and 0 < f1 < len(questions)
    assert scores == {"exact_match": 100.0 * exact / 60, "f1": 100.0 * f1 / 60}


def test_v2_matches_plain_reimplementation(tmp_path):
    questions, predictions = random_case(seed=12, no_answer_rate=0.3)
    per_question = collections.OrderedDict()
    for qid, golds in questions:
        golds = [g for g in golds if plain_tokens(g)] or [""]
        prediction = predictions[qid]
        per_question[qid] = (max(int(plain_tokens(prediction) == plain_tokens(g)) for g in golds),
                             max(plain_f1(prediction, g, v2=True) for g in golds))
    expected = {}
    has_answer = {qid: bool(golds) for qid, golds in questions}
    for prefix, qids in (("", list(per_question)),
                         ("HasAns_", [q for q in per_question if has_answer[q]]),
                         ("NoAns_", [q for q in per_question if not has_answer[q]])):
        expected[prefix + "exact"] = 100.0 * sum(per_question[q][0] for q in qids) / len(qids)
        expected[prefix + "f1"] = 100.0 * sum(per_question[q][1] for q in qids) / len(qids)
        expected[prefix + "total"] = len(qids)
    data = write_json(tmp_path, "dev.json", squad_file(questions, version="v2.0"))
    scores, _ = run_ok(V2_SCRIPT, data, write_json(tmp_path, "pred.json", predictions))
    assert 0 < expected["HasAns_f1"] < 100 and 0 < expected["NoAns_exact"] < 100
    assert scores == expected
