"""Tests for bert/classify/metrics.py: each metric against scikit-learn or scipy, the references.

Random inputs, tie-heavy inputs and the degenerate cases (a single class, a constant
vector) are all compared with the reference to 1e-6; `task_metrics` is checked on
hand-worked numbers.
"""

import math
import warnings

import numpy as np
import pytest
import scipy.stats
import sklearn.metrics

from bert.classify import metrics
from bert.errors import InputError

SEEDS = range(5)


def quietly(reference, *args, **kwargs):
    """The reference's result without its warnings about degenerate input."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(reference(*args, **kwargs))


def random_classes(seed, num_classes, size):
    rng = np.random.default_rng(seed)
    return rng.integers(0, num_classes, size), rng.integers(0, num_classes, size)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("num_classes", [2, 3, 7])
def test_classification_metrics_match_sklearn(seed, num_classes):
    labels, predictions = random_classes(seed, num_classes, size=50 + 37 * seed)
    assert metrics.accuracy(labels, predictions) == pytest.approx(
        sklearn.metrics.accuracy_score(labels, predictions), abs=1e-6)
    assert metrics.matthews_corrcoef(labels, predictions) == pytest.approx(
        sklearn.metrics.matthews_corrcoef(labels, predictions), abs=1e-6)
    if num_classes == 2:
        assert metrics.f1(labels, predictions) == pytest.approx(
            sklearn.metrics.f1_score(labels, predictions), abs=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_correlated_predictions_match_sklearn(seed):
    """Mostly right predictions, so MCC and F1 are far from 0 (random ones hover near it)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, 200)
    predictions = np.where(rng.random(200) < 0.8, labels, rng.integers(0, 3, 200))
    assert metrics.matthews_corrcoef(labels, predictions) == pytest.approx(
        sklearn.metrics.matthews_corrcoef(labels, predictions), abs=1e-6)
    binary_labels, binary_predictions = labels % 2, predictions % 2
    assert metrics.f1(binary_labels, binary_predictions) == pytest.approx(
        sklearn.metrics.f1_score(binary_labels, binary_predictions), abs=1e-6)


def test_string_labels_match_sklearn():
    labels = ["entailment", "neutral", "contradiction", "neutral", "entailment", "neutral"]
    predictions = ["entailment", "contradiction", "contradiction", "neutral", "neutral", "neutral"]
    assert metrics.matthews_corrcoef(labels, predictions) == pytest.approx(
        sklearn.metrics.matthews_corrcoef(labels, predictions), abs=1e-6)
    labels, predictions = ["1", "0", "1", "1", "0"], ["1", "1", "0", "1", "0"]
    assert metrics.f1(labels, predictions, positive="1") == pytest.approx(
        sklearn.metrics.f1_score(labels, predictions, pos_label="1"), abs=1e-6)


@pytest.mark.parametrize("labels, predictions", [
    ([1, 1, 1, 1], [1, 1, 1, 1]),  # one class on both sides
    ([0, 1, 0, 1], [1, 1, 1, 1]),  # constant predictions
    ([0, 0, 0, 0], [0, 1, 1, 0]),  # constant labels
    ([0, 0, 0], [0, 0, 0]),  # no positive anywhere: F1 is 0
    ([1], [0]),
])
def test_degenerate_classification_matches_sklearn(labels, predictions):
    mcc = metrics.matthews_corrcoef(labels, predictions)
    assert mcc == quietly(sklearn.metrics.matthews_corrcoef, labels, predictions)
    assert mcc == 0.0
    assert metrics.f1(labels, predictions) == quietly(sklearn.metrics.f1_score, labels, predictions)


def tie_heavy(seed, size):
    """Scores on STS-B's 0-5 scale rounded to whole or half points, so most values are tied."""
    rng = np.random.default_rng(seed)
    gold = np.round(rng.uniform(0, 5, size) * 2) / 2
    predicted = np.round(np.clip(gold + rng.normal(0, 1.0, size), 0, 5))
    return gold, predicted


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["random", "ties", "small"])
def test_correlations_match_scipy(seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "random":
        x = rng.normal(size=300)
        y = 0.6 * x + rng.normal(size=300)
    elif kind == "ties":
        x, y = tie_heavy(seed, 300)
    else:
        x, y = rng.integers(0, 3, 4 + seed).astype(float), rng.integers(0, 3, 4 + seed).astype(float)
    assert metrics.pearson(x, y) == pytest.approx(quietly(lambda: scipy.stats.pearsonr(x, y).statistic),
                                                  abs=1e-6, nan_ok=True)
    assert metrics.spearman(x, y) == pytest.approx(quietly(lambda: scipy.stats.spearmanr(x, y).statistic),
                                                   abs=1e-6, nan_ok=True)


def test_spearman_averages_tied_ranks():
    # Ranks of x: 1, 2.5, 2.5, 4; of y: 1, 2, 3, 4. Their Pearson r is 4.5 / sqrt(4.5 * 5).
    assert metrics.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(math.sqrt(0.9))
    assert metrics.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(
        scipy.stats.spearmanr([1, 2, 2, 3], [1, 2, 3, 4]).statistic)


@pytest.mark.parametrize("x, y", [
    ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]),  # constant x
    ([1.0, 2.0, 3.0], [0.5, 0.5, 0.5]),  # constant y
    ([1.0, float("nan"), 3.0], [1.0, 2.0, 3.0]),
])
def test_degenerate_correlations_are_nan_as_in_scipy(x, y):
    for ours, reference in [(metrics.pearson, scipy.stats.pearsonr), (metrics.spearman, scipy.stats.spearmanr)]:
        assert math.isnan(ours(x, y))
        assert math.isnan(quietly(lambda: reference(x, y).statistic))


def test_perfect_correlation_is_one():
    assert metrics.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert metrics.spearman([1, 2, 3], [1, 10, 100]) == pytest.approx(1.0)
    assert metrics.pearson([1, 2, 3], [6, 4, 2]) == pytest.approx(-1.0)


@pytest.mark.parametrize("call", [
    lambda: metrics.accuracy([1, 0], [1]),
    lambda: metrics.accuracy([], []),
    lambda: metrics.f1([[1, 0]], [[1, 0]]),
    lambda: metrics.pearson([1.0], [2.0]),
])
def test_mismatched_or_empty_inputs_are_errors(call):
    with pytest.raises(ValueError, match="1-D sequences of one length"):
        call()


def test_task_metrics_per_task():
    # MRPC: 3 of 4 right; TP 2, FP 0, FN 1, so F1 = 4 / 5.
    assert metrics.task_metrics("MRPC", [1, 0, 1, 1], [1, 0, 0, 1]) == {
        "accuracy": 0.75, "f1": 0.8, "acc_and_f1": pytest.approx(0.775)}
    assert metrics.task_metrics("qqp", [0, 0], [1, 0]) == {"accuracy": 0.5, "f1": 0.0, "acc_and_f1": 0.25}
    # CoLA: TP 2, TN 1, FP 1, FN 0: MCC = (2*1 - 1*0) / sqrt(3 * 2 * 1 * 2) = 1 / sqrt(3).
    cola = metrics.task_metrics("cola", [0, 0, 1, 1], [0, 1, 1, 1])
    assert cola == {"mcc": pytest.approx(1 / math.sqrt(3)), "accuracy": 0.75}
    assert list(cola) == ["mcc", "accuracy"]
    stsb = metrics.task_metrics("stsb", [0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 3.0, 2.0])
    assert stsb == {"pearson": pytest.approx(0.8), "spearman": pytest.approx(0.8), "corr": pytest.approx(0.8)}
    for task in ["sst-2", "mnli", "mnli-mm", "qnli", "rte", "wnli", "xnli", "csv", "tsv", "jsonl"]:
        assert metrics.task_metrics(task, [0, 1, 2, 2], [0, 1, 1, 2]) == {"accuracy": 0.75}


def test_task_metrics_constant_stsb_predictions_are_nan():
    scores = metrics.task_metrics("sts-b", [0.0, 2.5, 5.0], [3.0, 3.0, 3.0])
    assert all(math.isnan(value) for value in scores.values())


def test_task_metrics_unknown_task():
    with pytest.raises(InputError, match="unknown task 'squad'"):
        metrics.task_metrics("squad", [1], [1])
