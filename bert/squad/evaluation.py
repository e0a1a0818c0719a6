"""Scoring a prediction run: the predict file's gold answers, and the official scores as run_squad.py reports them.

Example:
    >>> gold = read_gold_answers("dev-v1.1.json", version_2_with_negative=False)  # None: no answers
    >>> official_scores(gold, result, version_2_with_negative=False)               # result: SquadPredictions
    {'exact_match': 81.25, 'f1': 88.4}
"""

from bert.squad import metrics


def read_gold_answers(path, version_2_with_negative):
    """The SQuAD file `path` as a `metrics.Dataset` when its questions carry `answers`, else None.

    For SQuAD v1.1 (not `version_2_with_negative`) every question needs a gold answer.
    """
    root = metrics.load_json(path)
    questions = [qa for article in root["data"] for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    if not any("answers" in qa for qa in questions):
        return None
    return metrics.read_dataset(path, require_answers=not version_2_with_negative)


def official_scores(gold, result, version_2_with_negative):
    """The official scores (percent) of a `postprocess.SquadPredictions` against `gold`.

    Returns:
        v1.1: {"exact_match", "f1"}; v2.0: the same names first, then the official v2
        breakdown (HasAns_*, NoAns_*, best_exact, best_f1 and their thresholds).
    """
    if not version_2_with_negative:
        return metrics.evaluate_v1(gold, result.predictions)
    # The predictions already applied the null threshold; null_odds only feed the best-threshold search.
    scores = metrics.evaluate_v2(gold, result.predictions, na_probs=result.null_odds, na_prob_thresh=float("inf"))
    scores = dict(scores)
    return {"exact_match": scores.pop("exact"), "f1": scores.pop("f1"), **scores}
