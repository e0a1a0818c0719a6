"""SQuAD v1.1 and v2.0 metrics: answer normalisation, exact match, F1, and checked file reading.

This module reimplements the official evaluation scripts (`evaluate-v1.1.py`,
`evaluate-v2.0.py`). Scores are computed with the same float operations in the same
order (v1.1 accumulates with `+=` in dataset order, v2.0 uses `sum()` over dataset
order), so the printed numbers agree with the official scripts to the last digit.

Deliberate differences from the official scripts, all raising `InputError` (one line
naming the file and the id or field path, exit status 2 through `errors.run_main`)
where the official scripts crash with a traceback or silently go on:
  * unreadable or malformed JSON, and a dataset lacking `data`, `paragraphs`, `context`,
    `qas`, `id`, `answers` or an answer's `text`;
  * duplicate question ids in the dataset (the official scripts count or overwrite them);
  * a predictions file that is not a JSON object of id -> string, or that names a
    question id not in the dataset (the official scripts ignore such extra ids);
  * v1.1: a question with an empty `answers` list (the official script crashes on it);
  * v2.0: a question without a prediction (the official script crashes on it), and a
    no-answer-probability file that is not id -> number for exactly the dataset's ids.

Example:
    >>> normalize_answer("The  Cat, sat!")
    'cat sat'
    >>> f1_score("the cat sat", "a cat sat down")
    0.8
"""

import collections
import dataclasses
import json
import os
import re
import string
import sys

from bert.errors import InputError
from bert.squad.json_fields import field, json_type

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text):
    """Lower-cases, drops ASCII punctuation, drops the articles a/an/the, collapses whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match_score(prediction, gold):
    """1 if the two answers are equal after `normalize_answer`, else 0."""
    return int(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction, gold, empty_is_answer=False):
    """Token-level F1 between the normalised answers (tokens counted as a multiset).

    Args:
      empty_is_answer: SQuAD v2.0 rule: an empty side means "no answer", so the score is
        1 when both sides are empty and 0 when only one is. Without it (v1.1) an empty
        side always scores 0.
    """
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if empty_is_answer and not (pred_tokens and gold_tokens):
        return int(pred_tokens == gold_tokens)
    num_same = sum((collections.Counter(pred_tokens) & collections.Counter(gold_tokens)).values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_tokens)
    recall = 1.0 * num_same / len(gold_tokens)
    return (2 * precision * recall) / (precision + recall)


@dataclasses.dataclass
class Question:
    """One SQuAD question: its id and the texts of its gold answers (empty: unanswerable)."""

    qid: str
    answers: list


@dataclasses.dataclass
class Dataset:
    """The questions of a SQuAD file in file order, with the file's path and `version` field."""

    path: str
    version: object
    questions: list


def load_json(path):
    """Parses a UTF-8 JSON file; raises InputError if it cannot be read or parsed."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read file ({error})") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error})") from None


def read_dataset(path, require_answers=False):
    """Reads and checks a SQuAD dataset file into a `Dataset`.

    Args:
      require_answers: reject questions with an empty `answers` list (SQuAD v1.1).
    Raises:
      InputError: a missing or mistyped field (named by its path such as
        `data[0].paragraphs[2].qas[1]`), a duplicate question id, or no questions at all.
    """
    root = load_json(path)
    first_seen = {}
    questions = []
    for a, article in enumerate(field(root, "data", list, path)):
        for p, paragraph in enumerate(field(article, "paragraphs", list, f"{path}: data[{a}]")):
            where = f"data[{a}].paragraphs[{p}]"
            field(paragraph, "context", str, f"{path}: {where}")
            for q, qa in enumerate(field(paragraph, "qas", list, f"{path}: {where}")):
                where_qa = f"{where}.qas[{q}]"
                qid = field(qa, "id", str, f"{path}: {where_qa}")
                if qid in first_seen:
                    raise InputError(f"{path}: {where_qa}: duplicate question id {qid!r} "
                                     f"(also at {first_seen[qid]})")
                first_seen[qid] = where_qa
                answers = [field(answer, "text", str, f"{path}: {where_qa}.answers[{i}]")
                           for i, answer in enumerate(field(qa, "answers", list, f"{path}: {where_qa}"))]
                if require_answers and not answers:
                    raise InputError(f"{path}: {where_qa}: field 'answers' is empty "
                                     "(SQuAD v1.1 needs at least one gold answer)")
                questions.append(Question(qid, answers))
    if not questions:
        raise InputError(f"{path}: the dataset has no questions")
    return Dataset(path, root.get("version"), questions)


def _read_id_map(path, dataset, value_kinds, value_name, entry_name, require_all):
    """Reads a JSON object {question id: value}, checking ids against `dataset` and value types.

    `value_name` ("string") and `entry_name` ("prediction") word the error messages.
    """
    mapping = load_json(path)
    if not isinstance(mapping, dict):
        raise InputError(f"{path}: expected a JSON object mapping question id to {value_name}, "
                         f"got {json_type(mapping)}")
    known = {question.qid for question in dataset.questions}
    for qid, value in mapping.items():
        if qid not in known:
            raise InputError(f"{path}: unknown question id {qid!r} (not in {dataset.path})")
        if not isinstance(value, value_kinds) or isinstance(value, bool):
            raise InputError(f"{path}: value for question id {qid!r} must be a {value_name}, "
                             f"got {json_type(value)}")
    if require_all:
        for question in dataset.questions:
            if question.qid not in mapping:
                raise InputError(f"{path}: missing {entry_name} for question id "
                                 f"{question.qid!r} (SQuAD v2.0 needs one for every question)")
    return mapping


def read_predictions(path, dataset, require_all=False):
    """Reads {question id: answer text}; `require_all` demands an entry for every question."""
    return _read_id_map(path, dataset, str, "string", "prediction", require_all)


def read_na_probs(path, dataset):
    """Reads {question id: probability of no answer} covering exactly the dataset's questions."""
    return _read_id_map(path, dataset, (int, float), "number", "no-answer probability",
                        require_all=True)


def evaluate_v1(dataset, predictions):
    """SQuAD v1.1 scores in percent: {"exact_match", "f1"}, each maximised over gold answers.

    A question without a prediction scores 0 and is reported on stderr, as in the official script.
    """
    exact_match = f1 = 0
    for question in dataset.questions:
        if question.qid not in predictions:
            print(f"Unanswered question {question.qid} will receive score 0.", file=sys.stderr)
            continue
        prediction = predictions[question.qid]
        exact_match += max(exact_match_score(prediction, gold) for gold in question.answers)
        f1 += max(f1_score(prediction, gold) for gold in question.answers)
    total = len(dataset.questions)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def _raw_scores_v2(dataset, predictions):
    """Per-question (exact, f1) dicts in dataset order; no gold text scores against ''."""
    exact, f1 = {}, {}
    for question in dataset.questions:
        golds = [text for text in question.answers if normalize_answer(text)] or [""]
        prediction = predictions[question.qid]
        exact[question.qid] = max(exact_match_score(prediction, gold) for gold in golds)
        f1[question.qid] = max(f1_score(prediction, gold, empty_is_answer=True) for gold in golds)
    return exact, f1


def _apply_no_answer_threshold(scores, na_probs, has_answer, threshold):
    """Scores with every prediction whose na_prob exceeds `threshold` replaced by ''."""
    return {qid: float(not has_answer[qid]) if na_probs[qid] > threshold else score
            for qid, score in scores.items()}


def _summary(exact, f1, qids):
    """{exact, f1, total} over `qids`, in percent."""
    total = len(qids)
    return collections.OrderedDict([("exact", 100.0 * sum(exact[qid] for qid in qids) / total),
                                    ("f1", 100.0 * sum(f1[qid] for qid in qids) / total),
                                    ("total", total)])


def find_best_threshold(predictions, scores, na_probs, has_answer):
    """Best score (percent) over na_prob thresholds, and the threshold reaching it.

    Walks the questions by increasing na_prob, starting from "predict no answer for all"
    (score = number of unanswerable questions); answering a question adds its score if it
    has an answer, and costs 1 if it has none but the prediction is non-empty.
    """
    score = best_score = sum(1 for has in has_answer.values() if not has)
    best_threshold = 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if has_answer[qid]:
            score += scores[qid]
        elif predictions[qid]:
            score -= 1
        if score > best_score:
            best_score, best_threshold = score, na_probs[qid]
    return 100.0 * best_score / len(scores), best_threshold


def precision_recall_curve(scores, na_probs, has_answer):
    """Average precision (percent) of ranking answers by na_prob, with the curve's points.

    Returns:
      (average_precision, precisions, recalls); a point is added only where a threshold
      can separate two questions (between distinct na_prob values).
    """
    num_has_answer = sum(1 for has in has_answer.values() if has)
    qids = sorted(na_probs, key=lambda k: na_probs[k])
    true_pos = average_precision = 0.0
    precisions, recalls = [1.0], [0.0]
    for i, qid in enumerate(qids):
        if has_answer[qid]:
            true_pos += scores[qid]
        if i == len(qids) - 1 or na_probs[qid] != na_probs[qids[i + 1]]:
            precision, recall = true_pos / float(i + 1), true_pos / float(num_has_answer)
            average_precision += precision * (recall - recalls[-1])
            precisions.append(precision)
            recalls.append(recall)
    return 100.0 * average_precision, precisions, recalls


def import_pyplot():
    """Returns matplotlib.pyplot on the file-only Agg backend; InputError if not installed."""
    try:
        import matplotlib
    except ImportError:
        raise InputError("--out-image-dir needs matplotlib, which is not installed "
                         "(pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot
    return matplotlib.pyplot


def _plot_images(pyplot, image_dir, curves, na_probs, has_answer):
    """Saves pr_<name>.png for each (name, title, precisions, recalls) and na_prob histograms."""
    for name, title, precisions, recalls in curves:
        pyplot.step(recalls, precisions, color="b", alpha=0.2, where="post")
        pyplot.fill_between(recalls, precisions, step="post", alpha=0.2, color="b")
        pyplot.xlabel("Recall")
        pyplot.ylabel("Precision")
        pyplot.xlim([0.0, 1.05])
        pyplot.ylim([0.0, 1.05])
        pyplot.title(title)
        pyplot.savefig(os.path.join(image_dir, f"pr_{name}.png"))
        pyplot.clf()
    for name, wanted in (("hasAns", True), ("noAns", False)):
        probs = [na_probs[qid] for qid, has in has_answer.items() if has == wanted]
        if probs:
            weights = [1.0 / len(probs)] * len(probs)
            pyplot.hist(probs, weights=weights, bins=20, range=(0.0, 1.0))
            pyplot.xlabel("Model probability of no-answer")
            pyplot.ylabel("Proportion of dataset")
            pyplot.title(f"Histogram of no-answer probability: {name}")
            pyplot.savefig(os.path.join(image_dir, f"na_prob_hist_{name}.png"))
            pyplot.clf()


def _precision_recall_analysis(out, exact, f1, na_probs, has_answer, pyplot, image_dir):
    """Adds pr_{exact,f1,oracle}_ap to `out` and writes the plots into `image_dir`."""
    try:
        os.makedirs(image_dir, exist_ok=True)
    except OSError as error:
        raise InputError(f"{image_dir}: cannot create image directory ({error})") from None
    curves = []
    if any(has_answer.values()):
        oracle = {qid: float(has) for qid, has in has_answer.items()}
        for name, scores, title in (
                ("exact", exact, "Precision-Recall curve for Exact Match score"),
                ("f1", f1, "Precision-Recall curve for F1 score"),
                ("oracle", oracle,
                 "Oracle Precision-Recall curve (binary task of HasAns vs. NoAns)")):
            average_precision, precisions, recalls = precision_recall_curve(
                scores, na_probs, has_answer)
            out[f"pr_{name}_ap"] = average_precision
            curves.append((name, title, precisions, recalls))
    _plot_images(pyplot, image_dir, curves, na_probs, has_answer)


def evaluate_v2(dataset, predictions, na_probs=None, na_prob_thresh=1.0,
                pyplot=None, image_dir=None):
    """SQuAD v2.0 scores in percent, as the ordered dict the official script prints.

    Args:
      predictions: {qid: answer text} for every question ('' means "no answer").
      na_probs: optional {qid: probability of no answer}; adds the best-threshold search.
      na_prob_thresh: predictions whose na_prob exceeds this count as ''.
      pyplot, image_dir: with na_probs, also add pr_*_ap and save the plots into image_dir.
    Returns:
      exact, f1, total, then HasAns_* and NoAns_* (for non-empty subsets), then
      best_exact, best_exact_thresh, best_f1, best_f1_thresh (with na_probs).
    """
    has_answer = {question.qid: bool(question.answers) for question in dataset.questions}
    exact_raw, f1_raw = _raw_scores_v2(dataset, predictions)
    probs = na_probs if na_probs is not None else {qid: 0.0 for qid in predictions}
    exact = _apply_no_answer_threshold(exact_raw, probs, has_answer, na_prob_thresh)
    f1 = _apply_no_answer_threshold(f1_raw, probs, has_answer, na_prob_thresh)
    out = _summary(exact, f1, list(has_answer))
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qids = [qid for qid, has in has_answer.items() if has == wanted]
        if qids:
            out.update((f"{prefix}_{key}", value)
                       for key, value in _summary(exact, f1, qids).items())
    if na_probs is not None:
        for name, scores in (("exact", exact_raw), ("f1", f1_raw)):
            out[f"best_{name}"], out[f"best_{name}_thresh"] = find_best_threshold(
                predictions, scores, na_probs, has_answer)
        if image_dir:
            _precision_recall_analysis(out, exact_raw, f1_raw, na_probs, has_answer,
                                       pyplot, image_dir)
    return out
