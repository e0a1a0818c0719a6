"""bert/ner/metrics.py: entity precision/recall/F1, exactly equal to seqeval 1.2.2's default (conlleval) mode."""

import random

import pytest
from seqeval.metrics import accuracy_score, classification_report, f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities as seqeval_entities

from bert.ner import metrics

TYPES = ["PER", "LOC", "ORG", "MISC"]


def test_known_answer_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["I-ORG", "I-ORG", "B-ORG", "O"], ["O", "O"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG", "O"], ["B-ORG", "I-ORG", "I-ORG", "O"], ["I-MISC", "O"]]
    # gold: PER 0-1, LOC 3-3 | ORG 0-1 (I- after sentence start), ORG 2-2 | none        -> 4 entities
    # predicted: PER 0-1, ORG 3-3 | ORG 0-2 | MISC 0-0 (I- after sentence start)       -> 4 entities
    # correct: PER 0-1 only.
    report = metrics.evaluate(gold, predicted)
    assert report.micro == metrics.Scores(precision=0.25, recall=0.25, f1=0.25, correct=1, predicted=4, support=4)
    assert report.per_type == {
        "LOC": metrics.Scores(0.0, 0.0, 0.0, correct=0, predicted=0, support=1),
        "MISC": metrics.Scores(0.0, 0.0, 0.0, correct=0, predicted=1, support=0),
        "ORG": metrics.Scores(0.0, 0.0, 0.0, correct=0, predicted=2, support=2),
        "PER": metrics.Scores(1.0, 1.0, 1.0, correct=1, predicted=1, support=1),
    }
    assert report.accuracy == 7 / 11   # wrong: LOC/ORG at 1:3, the B/I swaps at 2:0 and 2:2, MISC at 3:0


def test_known_answer_with_unequal_precision_and_recall():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "B-MISC"]]       # 4 entities
    predicted = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-LOC", "O"]]        # 3 entities, 2 correct
    micro = metrics.evaluate(gold, predicted).micro
    assert (micro.precision, micro.recall) == (2 / 3, 1 / 2)
    assert micro.f1 == pytest.approx(4 / 7, abs=1e-12)                       # 2 * 2/3 * 1/2 / (2/3 + 1/2)


@pytest.mark.parametrize("tags, entities", [
    (["O", "I-PER", "I-PER"], [("PER", 1, 2)]),                     # I- after O starts an entity
    (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 0), ("LOC", 1, 2)]),   # I-X after B-Y starts an entity
    (["B-PER", "B-PER", "I-PER"], [("PER", 0, 0), ("PER", 1, 2)]),
    (["I-PER"], [("PER", 0, 0)]),
    (["O", "O"], []),
    ([], []),
])
def test_entities_of_ill_formed_tags_follow_conlleval(tags, entities):
    assert metrics.get_entities(tags) == entities == seqeval_entities(tags)


def test_unknown_tag_prefix_is_rejected():
    with pytest.raises(ValueError, match="'E-PER'"):
        metrics.get_entities(["O", "E-PER"])


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match="sentence 0: 1 predicted tags for 2 gold tags"):
        metrics.evaluate([["O", "O"]], [["O"]])


def random_tags(rng, length):
    """Any tags, ill-formed included: I- after O, I-X after B-Y."""
    return [rng.choice(["O", "O", "O"] + [f"{p}-{t}" for p in "BI" for t in TYPES[:rng.randint(1, 4)]])
            for _ in range(length)]


def real_looking(rng, length):
    """Well-formed BIO: mostly O, entities of one to three words."""
    tags = []
    while len(tags) < length:
        if rng.random() < 0.7:
            tags.append("O")
        else:
            entity_type = rng.choice(TYPES)
            tags += [f"B-{entity_type}"] + [f"I-{entity_type}"] * rng.randrange(3)
    return tags[:length]


def perturbed(rng, tags):
    """A model's guess at `tags`: some tags replaced, some I-X/B-X swapped, some types changed."""
    guess = []
    for tag in tags:
        roll = rng.random()
        if roll < 0.05:
            tag = "O"
        elif roll < 0.10:
            tag = rng.choice([f"B-{t}" for t in TYPES] + [f"I-{t}" for t in TYPES])
        elif roll < 0.15 and tag != "O":
            tag = ("I-" if tag.startswith("B-") else "B-") + tag[2:]
        guess.append(tag)
    return guess


def dataset(rng, kind):
    lengths = [rng.randint(0 if kind == "random" else 1, 25) for _ in range(rng.randint(1, 12))]
    if kind == "random":
        return [random_tags(rng, n) for n in lengths], [random_tags(rng, n) for n in lengths]
    gold = [real_looking(rng, n) for n in lengths]
    return gold, [perturbed(rng, tags) for tags in gold]


def assert_equals_seqeval(gold, predicted):
    report = metrics.evaluate(gold, predicted)
    assert report.micro.precision == precision_score(gold, predicted, zero_division=0)
    assert report.micro.recall == recall_score(gold, predicted, zero_division=0)
    assert report.micro.f1 == f1_score(gold, predicted, zero_division=0)
    if any(gold):
        assert report.accuracy == accuracy_score(gold, predicted)
    if not report.per_type:
        return   # seqeval's classification_report fails without entities
    expected = classification_report(gold, predicted, output_dict=True, zero_division=0)
    for name in ("micro avg", "macro avg", "weighted avg"):
        expected.pop(name)
    assert {t: (s.precision, s.recall, s.f1, s.support) for t, s in report.per_type.items()} == {
        t: (s["precision"], s["recall"], s["f1-score"], s["support"]) for t, s in expected.items()}


@pytest.mark.parametrize("kind", ["random", "real_looking"])
def test_equals_seqeval_on_many_sequences(kind):
    rng = random.Random(kind)
    for _ in range(400):
        assert_equals_seqeval(*dataset(rng, kind))


def test_equals_seqeval_when_nothing_is_found():
    assert_equals_seqeval([["O", "O"]], [["O", "O"]])           # no entities at all: all scores 0
    assert_equals_seqeval([["B-PER", "O"]], [["O", "O"]])       # nothing predicted
    assert_equals_seqeval([["O", "O"]], [["O", "I-LOC"]])       # nothing to find
