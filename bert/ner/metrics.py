"""Entity-level precision, recall and F1 of BIO (IOB2) tags, as conlleval and seqeval's default mode compute them.

An entity is a maximal run of tags of one type that starts at a `B-X`, or at an `I-X`
that does not continue an entity of type X (an ill-formed `I-X` after `O`, after the
sentence start or after another type begins a new entity, as in conlleval); it continues
over each following `I-X`. Entities never cross sentences. A predicted entity is correct
when a gold entity has the same type, start and end.

Precision is correct / predicted entities and recall correct / gold entities, each 0 when
its denominator is 0; F1 is 2PR / (P + R), 0 when P + R is 0. The micro figures pool the
counts of all types; the per-type figures cover every type found in the gold or
predicted tags. The numbers equal seqeval 1.2.2's `precision_score`, `recall_score`,
`f1_score` and `classification_report` (default mode) exactly, and token accuracy its
`accuracy_score` (tests/test_ner_metrics.py checks this).

Example:
    >>> report = evaluate([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "B-LOC"]])
    >>> report.micro.precision, report.micro.recall, report.per_type["PER"].f1
    (0.5, 1.0, 1.0)
"""

import collections
import dataclasses


@dataclasses.dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 (in [0, 1]) from counts of entities: correct, predicted and gold (`support`)."""

    precision: float
    recall: float
    f1: float
    correct: int
    predicted: int
    support: int


@dataclasses.dataclass(frozen=True)
class Report:
    """The scores of one evaluation.

    `micro`: `Scores` over all types; `per_type`: {type: `Scores`}, sorted by type;
    `accuracy`: correct tags / tags, in [0, 1].
    """

    micro: Scores
    per_type: dict
    accuracy: float


def get_entities(tags):
    """The entities of one sentence's BIO tags: (type, first index, last index) tuples in order.

    Raises:
        ValueError: a tag is not `O`, `B-X` or `I-X`.
    """
    entities = []
    start, entity_type = None, None
    for position, tag in enumerate([*tags, "O"]):
        prefix, tag_type = _split_tag(tag)
        continues = prefix == "I" and tag_type == entity_type
        if start is not None and not continues:
            entities.append((entity_type, start, position - 1))
            start, entity_type = None, None
        if prefix != "O" and not continues:
            start, entity_type = position, tag_type
    return entities


def scores(correct, predicted, support):
    """`Scores` from entity counts, each ratio 0 when its denominator is 0 (as seqeval)."""
    precision = correct / predicted if predicted else 0.0
    recall = correct / support if support else 0.0
    denominator = precision + recall
    f1 = 2.0 * precision * recall / denominator if denominator else 0.0
    return Scores(precision=precision, recall=recall, f1=f1, correct=correct, predicted=predicted, support=support)


def evaluate(gold, predicted):
    """Entity-level scores and tag accuracy of `predicted` against `gold`.

    Args:
        gold, predicted: lists (one per sentence) of lists of BIO tags, one per word.

    Returns:
        A `Report`. Accuracy is correct tags / tags (0 when there are no tags).

    Raises:
        ValueError: the numbers of sentences or of tags in a sentence differ, or a tag is
            not `O`, `B-X` or `I-X`.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(predicted)} predicted sentences for {len(gold)} gold sentences")
    gold_entities, predicted_entities = collections.defaultdict(set), collections.defaultdict(set)
    num_tags = num_correct_tags = 0
    for index, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted)):
        if len(gold_tags) != len(predicted_tags):
            raise ValueError(f"sentence {index}: {len(predicted_tags)} predicted tags for {len(gold_tags)} gold tags")
        for entities, tags in ((gold_entities, gold_tags), (predicted_entities, predicted_tags)):
            for entity_type, start, end in get_entities(tags):
                entities[entity_type].add((index, start, end))
        num_tags += len(gold_tags)
        num_correct_tags += sum(g == p for g, p in zip(gold_tags, predicted_tags))
    per_type = {
        entity_type: scores(len(gold_entities[entity_type] & predicted_entities[entity_type]),
                            len(predicted_entities[entity_type]), len(gold_entities[entity_type]))
        for entity_type in sorted(gold_entities.keys() | predicted_entities.keys())
    }
    micro = scores(*(sum(getattr(s, name) for s in per_type.values()) for name in ("correct", "predicted", "support")))
    return Report(micro=micro, per_type=per_type, accuracy=num_correct_tags / num_tags if num_tags else 0.0)


def _split_tag(tag):
    """("O", None) for O, else the prefix "B" or "I" and the type."""
    if tag == "O":
        return "O", None
    if len(tag) > 2 and tag[0] in "BI" and tag[1] == "-":
        return tag[0], tag[2:]
    raise ValueError(f"tag {tag!r} is not O, B-<type> or I-<type>")
