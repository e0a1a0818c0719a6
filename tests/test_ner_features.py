"""bert/ner/features.py: WordPiece windows with first-piece labels, and stitching predictions back to words."""

import random

import numpy as np
import pytest

from bert.errors import InputError
from bert.ner import features
from bert.ner.conll import Sentence
from bert.text import tokenization

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
# Words of the tiny vocab (tests/conftest.py) with their pieces: "cats" -> cat ##s,
# "hello!" -> hello !, "zebra" -> [UNK], "\x07" (dropped by the tokenizer) -> [UNK].
WORDS = ["the", "cats", "sat", "on", "a", "mat", "dogs", "ran", "hello!", "Sating", "zebra", "\x07", "catsss"]
PAD, UNK, CLS, SEP = 0, 1, 2, 3
IDS = {"the": 5, "cat": 6, "sat": 7, "on": 8, "mat": 9, "a": 10, "dog": 11, "hello": 15, "##s": 13, "##ing": 14,
       "!": 19}


@pytest.fixture
def tokenizer(tiny_vocab_file):
    return tokenization.FullTokenizer(str(tiny_vocab_file), do_lower_case=True)


def random_sentences(rng, count, max_words):
    sentences = []
    for index in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, max_words))]
        sentences.append(Sentence(words, [rng.choice(LABELS) for _ in words], 1 + 100 * index))
    return sentences


def test_short_sentence_window_ids_labels_and_padding(tokenizer):
    sentence = Sentence(["The", "cats", "sat", "\x07", "hello!"], ["O", "B-PER", "O", "B-LOC", "I-LOC"], 1)
    [window] = features.convert_sentences_to_windows([sentence], tokenizer, LABELS, max_seq_length=12, doc_stride=4)
    assert window.input_ids.tolist() == [CLS, IDS["the"], IDS["cat"], IDS["##s"], IDS["sat"], UNK, IDS["hello"],
                                         IDS["!"], SEP, PAD, PAD, PAD]
    assert window.input_mask.tolist() == [1] * 9 + [0] * 3
    assert window.segment_ids.tolist() == [0] * 12
    assert window.label_ids.tolist() == [-1, 0, 1, -1, 0, 3, 4, -1, -1, -1, -1, -1]
    assert window.word_ids.tolist() == [-1, 0, 1, -1, 2, 3, 4, -1, -1, -1, -1, -1]
    assert window.is_max_context.tolist() == [i in (1, 2, 4, 5, 6) for i in range(12)]
    assert window.sentence_index == 0
    for name in features.FEATURE_NAMES:
        assert getattr(window, name).dtype == np.int32


def test_unlabelled_sentences_have_no_labels(tokenizer):
    [window] = features.convert_sentences_to_windows([Sentence(["a", "cats"], None, 1)], tokenizer, LABELS, 8, 2)
    assert window.label_ids.tolist() == [-1] * 8
    assert window.word_ids.tolist() == [-1, 0, 1, -1, -1, -1, -1, -1]


def test_long_sentence_windows_overlap_by_the_stride():
    spans = features.window_spans([1] * 10, max_pieces=4, doc_stride=2)
    assert spans == [(0, 4), (2, 6), (4, 8), (6, 10)]
    # Word 3: min(3, 0) in window 0, min(1, 2) in window 1; word 2: min(2, 1) vs min(0, 3).
    assert features.max_context_windows(spans, [1] * 10).tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]
    # Word 2 scores min(2, 1) = min(1, 2) in windows 0 and 1: the first wins.
    assert features.max_context_windows([(0, 4), (1, 5), (2, 6)], [1] * 6).tolist() == [0, 0, 0, 1, 2, 2]
    # In pieces: word 1 (three pieces) has 1 piece left and 1 right in window 0, 0 left in window 1.
    spans = features.window_spans([1, 3, 1, 1], max_pieces=5, doc_stride=1)
    assert spans == [(0, 3), (1, 4)]
    assert features.max_context_windows(spans, [1, 3, 1, 1]).tolist() == [0, 0, 1, 1]


def test_windows_never_cut_a_word_and_cover_every_word():
    rng = random.Random(1)
    for _ in range(300):
        counts = [rng.randint(1, 5) for _ in range(rng.randint(0, 30))]
        max_pieces, stride = rng.randint(5, 12), rng.randint(1, 14)
        spans = features.window_spans(counts, max_pieces, stride)
        assert spans[0][0] == 0 and spans[-1][1] == len(counts)
        for (start, end), (next_start, _) in zip(spans, spans[1:]):
            assert start < next_start <= end                     # progress, no gap
        for start, end in spans:
            assert sum(counts[start:end]) <= max_pieces
            assert end == len(counts) or sum(counts[start:end + 1]) > max_pieces   # as many words as fit


def test_long_word_keeps_its_first_pieces(tokenizer):
    # "catsssss" is cat ##s ##s ##s ##s ##s: six pieces for a window of four.
    [window] = features.convert_sentences_to_windows([Sentence(["catsssss"], ["B-PER"], 1)], tokenizer, LABELS, 6, 1)
    assert window.input_ids.tolist() == [CLS, IDS["cat"], IDS["##s"], IDS["##s"], IDS["##s"], SEP]
    assert window.label_ids.tolist() == [-1, 1, -1, -1, -1, -1]


def window_words(window):
    """The word indices a window holds, from its first-piece positions."""
    return window.word_ids[window.word_ids >= 0].tolist()


@pytest.mark.parametrize("max_seq_length, doc_stride", [(16, 3), (16, 8), (16, 100), (8, 1), (128, 64)])
def test_round_trip_with_perfect_predictions(tokenizer, max_seq_length, doc_stride):
    rng = random.Random(max_seq_length * 1000 + doc_stride)
    sentences = random_sentences(rng, 40, 40)
    windows = features.convert_sentences_to_windows(sentences, tokenizer, LABELS, max_seq_length, doc_stride)
    arrays = features.stack_windows(windows)
    assert set(arrays) == set(features.FEATURE_NAMES)
    assert all(a.shape == (len(windows), max_seq_length) and a.dtype == np.int32 for a in arrays.values())
    assert any(len(window_words(w)) < len(sentences[w.sentence_index].words) for w in windows) or max_seq_length == 128

    predicting = {}
    for window in windows:
        sentence = sentences[window.sentence_index]
        words = window_words(window)
        assert words == list(range(words[0], words[0] + len(words)))        # a run of whole words
        pieces = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(sentence.words[w])) or [UNK] for w in words]
        used = int(window.input_mask.sum())
        assert window.input_ids[:used].tolist() == [CLS, *[i for p in pieces for i in p][:used - 2], SEP]
        assert sum(map(len, pieces)) == used - 2 or len(words) == 1            # truncated only when alone
        assert (window.input_ids[used:] == 0).all() and (window.label_ids[used:] == -1).all()
        first = window.word_ids >= 0
        assert window.label_ids[first].tolist() == [LABELS.index(sentence.tags[w]) for w in words]
        assert (window.label_ids[~first] == -1).all()
        for w in window.word_ids[window.is_max_context]:
            predicting.setdefault((window.sentence_index, int(w)), []).append(window)
    assert sorted(predicting) == [(s, w) for s, sentence in enumerate(sentences) for w in range(len(sentence.words))]
    assert all(len(predictors) == 1 for predictors in predicting.values())   # exactly one prediction per word

    # Perfect predictions: the gold label ids on first pieces, noise everywhere else.
    noise = np.random.default_rng(0).integers(0, len(LABELS), arrays["label_ids"].shape)
    predicted = np.where(arrays["label_ids"] >= 0, arrays["label_ids"], noise)
    assert features.stitch_predictions(sentences, windows, predicted, LABELS) == [s.tags for s in sentences]
    logits = np.eye(len(LABELS))[predicted]                                   # [windows, length, labels]
    assert features.stitch_predictions(sentences, windows, logits, LABELS) == [s.tags for s in sentences]


def test_stitching_takes_each_word_from_its_max_context_window(tokenizer):
    sentence = Sentence(["a"] * 10, ["O"] * 10, 1)
    windows = features.convert_sentences_to_windows([sentence], tokenizer, LABELS, max_seq_length=6, doc_stride=2)
    assert [window_words(w) for w in windows] == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9]]
    predicted = np.array([[k] * 6 for k in range(4)])   # window k predicts label k everywhere
    [tags] = features.stitch_predictions([sentence], windows, predicted, LABELS)
    assert tags == [LABELS[k] for k in (0, 0, 0, 1, 1, 2, 2, 3, 3, 3)]


def test_stitching_checks_the_number_of_windows(tokenizer):
    sentences = [Sentence(["a", "cats"], ["O", "O"], 1)]
    windows = features.convert_sentences_to_windows(sentences, tokenizer, LABELS, 8, 2)
    with pytest.raises(ValueError, match="2 rows of predictions for 1 windows"):
        features.stitch_predictions(sentences, windows, np.zeros((2, 8), dtype=np.int32), LABELS)


@pytest.mark.parametrize("kwargs, message", [
    ({"max_seq_length": 2, "doc_stride": 1}, "max_seq_length must be at least 3"),
    ({"max_seq_length": 8, "doc_stride": 0}, "doc_stride must be positive"),
])
def test_bad_lengths_are_input_errors(tokenizer, kwargs, message):
    with pytest.raises(InputError, match=message):
        features.convert_sentences_to_windows([Sentence(["a"], ["O"], 1)], tokenizer, LABELS, **kwargs)


def test_tag_outside_the_label_list_is_an_input_error(tokenizer):
    with pytest.raises(InputError, match="sentence at line 7: tag 'B-ORG' is not in the label list"):
        features.convert_sentences_to_windows([Sentence(["a"], ["B-ORG"], 7)], tokenizer, LABELS, 8, 2)
