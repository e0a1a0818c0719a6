"""GLUE scores in numpy: accuracy, F1, Matthews correlation, Pearson and Spearman correlation.

Each function computes what its scikit-learn or scipy namesake computes
(`accuracy_score`, `f1_score`, `matthews_corrcoef`, `scipy.stats.pearsonr`,
`scipy.stats.spearmanr`), to 1e-6 as tests/test_classify_metrics.py checks, without
either library at run time. Degenerate inputs give what those libraries give, without
their warnings:
  * `matthews_corrcoef` is 0.0 when the labels or the predictions hold a single class;
  * `f1` is 0.0 when neither the labels nor the predictions hold the positive class;
  * `pearson` and `spearman` are nan when either vector is constant or holds a nan.

Every function takes two 1-D sequences of one length (at least 1; 2 for the correlations)
and returns a Python float. Classification inputs are label ids or strings, the same
type on both sides.

Example:
    >>> task_metrics("mrpc", labels=[1, 0, 1, 1], predictions=[1, 0, 0, 1])
    {'accuracy': 0.75, 'f1': 0.8, 'acc_and_f1': 0.775}
"""

import numpy as np

from bert.classify.processors import canonical_task_name


def _pair(labels, predictions, min_length=1):
    """Both sequences as numpy arrays; ValueError unless 1-D, of one length, at least `min_length`."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.ndim != 1 or labels.shape != predictions.shape or len(labels) < min_length:
        raise ValueError(f"need two 1-D sequences of one length >= {min_length}, "
                         f"got shapes {labels.shape} and {predictions.shape}")
    return labels, predictions


def accuracy(labels, predictions):
    """The fraction of predictions equal to their label, in [0, 1]."""
    labels, predictions = _pair(labels, predictions)
    return float(np.mean(labels == predictions))


def f1(labels, predictions, positive=1):
    """Binary F1 of class `positive` against all others: 2 TP / (2 TP + FP + FN), in [0, 1]."""
    labels, predictions = _pair(labels, predictions)
    is_label, is_predicted = labels == positive, predictions == positive
    true_positives = np.sum(is_label & is_predicted)
    denominator = 2 * true_positives + np.sum(is_label ^ is_predicted)
    return float(2 * true_positives / denominator) if denominator else 0.0


def matthews_corrcoef(labels, predictions):
    """Matthews correlation coefficient, the multi-class form (Gorodkin's R_K), in [-1, 1]."""
    labels, predictions = _pair(labels, predictions)
    _, class_ids = np.unique(np.concatenate([labels, predictions]), return_inverse=True)
    num_classes, count = class_ids.max() + 1, len(labels)
    confusion = np.zeros((num_classes, num_classes))  # [true class, predicted class]
    np.add.at(confusion, (class_ids[:count], class_ids[count:]), 1.0)
    true_sum, predicted_sum = confusion.sum(axis=1), confusion.sum(axis=0)
    cov_true_predicted = np.trace(confusion) * count - true_sum @ predicted_sum
    cov_true_true = count * count - true_sum @ true_sum
    cov_predicted_predicted = count * count - predicted_sum @ predicted_sum
    if cov_true_true * cov_predicted_predicted == 0:
        return 0.0
    return float(cov_true_predicted / np.sqrt(cov_true_true * cov_predicted_predicted))


def pearson(x, y):
    """Pearson's correlation coefficient r of two float vectors, in [-1, 1]; nan if one is constant."""
    x, y = _pair(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), min_length=2)
    if np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    x_centered, y_centered = x - x.mean(), y - y.mean()
    x_unit = x_centered / np.linalg.norm(x_centered)
    y_unit = y_centered / np.linalg.norm(y_centered)
    return float(np.clip(x_unit @ y_unit, -1.0, 1.0))


def _average_ranks(values):
    """1-based ranks of a 1-D array, tied values sharing their mean rank (scipy's rankdata "average")."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts_group = np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]])
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    ends = np.append(starts[1:], len(values))  # exclusive
    ranks = np.empty(len(values))
    ranks[order] = ((starts + 1 + ends) / 2.0)[group]
    return ranks


def spearman(x, y):
    """Spearman's rank correlation rho (Pearson's r of the average ranks), in [-1, 1]; nan as `pearson`."""
    x, y = _pair(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), min_length=2)
    if np.isnan(x).any() or np.isnan(y).any():
        return float("nan")
    return pearson(_average_ranks(x), _average_ranks(y))


def task_metrics(task_name, labels, predictions):
    """The scores GLUE reports for a task, as {name: float}.

    Args:
      task_name: a name `processors.get_processor` accepts.
      labels, predictions: 1-D, one entry per example. Classification: label ids, i.e.
        indices into the processor's `labels()` (so for MRPC and QQP id 1, label "1", is
        the positive class of F1). STS-B: float scores.

    Returns:
      cola: mcc, accuracy. mrpc, qqp: accuracy, f1, acc_and_f1 (their mean).
      sts-b: pearson, spearman, corr (their mean). Other tasks: accuracy.

    Raises:
      InputError: an unknown task name.
    """
    task = canonical_task_name(task_name)
    if task == "sts-b":
        scores = {"pearson": pearson(labels, predictions), "spearman": spearman(labels, predictions)}
        return {**scores, "corr": (scores["pearson"] + scores["spearman"]) / 2}
    scores = {"accuracy": accuracy(labels, predictions)}
    if task == "cola":
        return {"mcc": matthews_corrcoef(labels, predictions), **scores}
    if task in ("mrpc", "qqp"):
        scores["f1"] = f1(labels, predictions, positive=1)
        scores["acc_and_f1"] = (scores["accuracy"] + scores["f1"]) / 2
    return scores
