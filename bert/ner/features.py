"""Sentences -> fixed-length WordPiece windows for token tagging, and window predictions -> one tag per word.

Each word is tokenized on its own (`tokenizer.tokenize(word)`). A window is
`[CLS] pieces [SEP]` zero-padded to `max_seq_length`, its pieces being the whole pieces
of a run of consecutive words: a word is never cut across windows.

Label convention: `label_ids` holds the word's index in `label_list` on the FIRST piece
of each word and `IGNORE_LABEL_ID` (-1) on every other position (later pieces, [CLS],
[SEP], padding), and everywhere for unlabelled sentences. The loss must skip positions
with a negative label, e.g. weights `label_ids >= 0` and targets `max(label_ids, 0)`.

Edge cases:
  - A word with no pieces (e.g. a control character, which the tokenizer drops) is
    given the single piece [UNK], so it still gets a prediction.
  - A word with more than `max_seq_length - 2` pieces keeps its first
    `max_seq_length - 2` (its label stays on its first piece); a warning is logged.

Long sentences (more than `max_seq_length - 2` pieces) are covered by overlapping
windows. `doc_stride` is in pieces, as in SQuAD: each window starts at the first word
that begins at least `doc_stride` pieces after the previous window's start (never later
than where the previous window ended, so no word is skipped), and holds as many whole
words as fit. A word in several windows takes its prediction from the window where it
has most context, by Google's SQuAD rule: score min(pieces left of the word, pieces right
of it) + 0.01 * window pieces, the first window with the highest score winning.

Example:
    >>> windows = convert_sentences_to_windows(sentences, tokenizer, labels, max_seq_length=128, doc_stride=64)
    >>> dataset = tf.data.Dataset.from_tensor_slices(stack_windows(windows))
    >>> tags = stitch_predictions(sentences, windows, logits.argmax(-1), labels)   # one tag per word
"""

import dataclasses

import numpy as np
from absl import logging

from bert.errors import InputError

IGNORE_LABEL_ID = -1
FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids", "label_ids")


@dataclasses.dataclass
class Window:
    """One model input: a run of whole words of one sentence.

    All arrays have shape [max_seq_length]. `input_ids`, `input_mask`, `segment_ids`
    (all zeros) and `label_ids` (see the module docstring) are int32. `word_ids` (int32)
    is the word's index in the sentence at the first piece of each word and -1 elsewhere;
    `is_max_context` (bool) is True at the first pieces of the words this window predicts.
    """

    input_ids: np.ndarray
    input_mask: np.ndarray
    segment_ids: np.ndarray
    label_ids: np.ndarray
    sentence_index: int
    word_ids: np.ndarray
    is_max_context: np.ndarray


def convert_sentences_to_windows(sentences, tokenizer, label_list, max_seq_length, doc_stride):
    """Cuts every sentence into windows of `max_seq_length` WordPiece positions.

    Args:
        sentences: objects with `words` (list of str) and `tags` (list of str, or None
            when unlabelled), such as `conll.Sentence`.
        tokenizer: has `tokenize(text)` and `convert_tokens_to_ids(tokens)`, like
            `bert.text.tokenization.FullTokenizer`; its vocab has [UNK], [CLS] and [SEP].
        label_list: the tags; a tag's label id is its index here.
        max_seq_length: positions per window, [CLS] and [SEP] included.
        doc_stride: pieces between the starts of consecutive windows of a long sentence.

    Returns:
        A list of `Window`, grouped by sentence in sentence order, each sentence's windows
        in word order. Every sentence gets at least one window.

    Raises:
        InputError: `max_seq_length` < 3 or `doc_stride` < 1, or a tag is not in `label_list`.
    """
    if max_seq_length < 3:
        raise InputError(f"max_seq_length must be at least 3 ([CLS], one piece, [SEP]), got {max_seq_length}")
    if doc_stride < 1:
        raise InputError(f"doc_stride must be positive, got {doc_stride}")
    max_pieces = max_seq_length - 2
    cls_id, sep_id, unk_id = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", "[UNK]"])
    label_map = {label: index for index, label in enumerate(label_list)}
    pieces_of = {}  # word: its piece ids, computed once per distinct word
    windows = []
    truncated = 0
    for sentence_index, sentence in enumerate(sentences):
        for word in sentence.words:
            if word not in pieces_of:
                ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(word)) or [unk_id]
                truncated += len(ids) > max_pieces
                pieces_of[word] = ids[:max_pieces]
        pieces = [pieces_of[word] for word in sentence.words]
        label_ids = _label_ids(sentence, label_map)
        spans = window_spans([len(ids) for ids in pieces], max_pieces, doc_stride)
        owner = max_context_windows(spans, [len(ids) for ids in pieces])
        for span_index, (start, end) in enumerate(spans):
            windows.append(_window(pieces, label_ids, sentence_index, start, end, owner == span_index,
                                   max_seq_length, cls_id, sep_id))
    if truncated:
        logging.warning("%d distinct words have more than %d WordPiece tokens; only their first %d are kept",
                        truncated, max_pieces, max_pieces)
    return windows


def window_spans(piece_counts, max_pieces, doc_stride):
    """The word ranges [start, end) of a sentence's windows (see the module docstring).

    Args:
        piece_counts: pieces of each word, each in [1, max_pieces].
        max_pieces: pieces that fit in one window.
        doc_stride: pieces from one window's start to the next one's (at least 1).

    Returns:
        A list of (start, end) word indices; one (0, 0) for an empty sentence.
    """
    offsets = np.concatenate([[0], np.cumsum(piece_counts, dtype=np.int64)])  # [num_words + 1]
    num_words = len(piece_counts)
    spans = []
    start = 0
    while True:
        # The last word whose pieces end within max_pieces of the window's start.
        end = int(np.searchsorted(offsets, offsets[start] + max_pieces, side="right")) - 1
        spans.append((start, end))
        if end >= num_words:
            return spans
        next_start = int(np.searchsorted(offsets, offsets[start] + doc_stride, side="left"))
        start = max(start + 1, min(next_start, end))


def max_context_windows(spans, piece_counts):
    """For each word of a sentence, the index in `spans` of the window that predicts it.

    Google's max-context rule, in pieces: score min(left, right) + 0.01 * window pieces,
    where left / right count the window's pieces before / after the word; the first
    window with the highest score wins. Returns an int array [num_words].
    """
    offsets = np.concatenate([[0], np.cumsum(piece_counts, dtype=np.int64)])
    best_score = np.full(len(piece_counts), -np.inf)
    owner = np.full(len(piece_counts), -1)
    for span_index, (start, end) in enumerate(spans):
        words = np.arange(start, end)
        left = offsets[words] - offsets[start]
        right = offsets[end] - offsets[words + 1]
        score = np.minimum(left, right) + 0.01 * (offsets[end] - offsets[start])
        better = score > best_score[start:end]
        best_score[start:end][better] = score[better]
        owner[start:end][better] = span_index
    return owner


def stack_windows(windows):
    """The model inputs and labels of `windows` as a dict of int32 arrays [num_windows, max_seq_length].

    Keys are `FEATURE_NAMES`; ready for `tf.data.Dataset.from_tensor_slices`.
    """
    return {name: np.stack([getattr(window, name) for window in windows]).astype(np.int32)
            for name in FEATURE_NAMES}


def stitch_predictions(sentences, windows, predictions, label_list):
    """One predicted tag per word of every sentence, from the windows' predictions.

    Args:
        sentences: the sentences given to `convert_sentences_to_windows`.
        windows: its result.
        predictions: label ids int [num_windows, max_seq_length], or logits
            float [num_windows, max_seq_length, num_labels] (their argmax is taken).
        label_list: the label list given to `convert_sentences_to_windows`.

    Returns:
        A list (one per sentence) of lists of tags (one per word).

    Raises:
        ValueError: the predictions do not match the windows.
    """
    predictions = np.asarray(predictions)
    if predictions.ndim == 3:
        predictions = predictions.argmax(axis=-1)
    if len(predictions) != len(windows):
        raise ValueError(f"{len(predictions)} rows of predictions for {len(windows)} windows")
    tags = [[None] * len(sentence.words) for sentence in sentences]
    for window, predicted in zip(windows, predictions):
        positions = np.flatnonzero(window.is_max_context)
        for word, label_id in zip(window.word_ids[positions], predicted[positions]):
            tags[window.sentence_index][word] = label_list[label_id]
    for sentence_tags, sentence in zip(tags, sentences):
        if None in sentence_tags:
            raise ValueError(f"sentence at line {sentence.first_line}: a word has no window predicting it")
    return tags


def _label_ids(sentence, label_map):
    """The label id of each word of `sentence` (int list), or None when it is unlabelled."""
    if sentence.tags is None:
        return None
    try:
        return [label_map[tag] for tag in sentence.tags]
    except KeyError as error:
        raise InputError(f"sentence at line {sentence.first_line}: tag {error.args[0]!r} is not in the "
                         f"label list {', '.join(label_map)}") from None


def _window(pieces, label_ids, sentence_index, start, end, predicts, max_seq_length, cls_id, sep_id):
    """The `Window` of words [start, end); `predicts` [num_words] marks the words it predicts."""
    input_ids = np.zeros(max_seq_length, dtype=np.int32)
    labels = np.full(max_seq_length, IGNORE_LABEL_ID, dtype=np.int32)
    word_ids = np.full(max_seq_length, -1, dtype=np.int32)
    is_max_context = np.zeros(max_seq_length, dtype=bool)
    input_ids[0] = cls_id
    position = 1
    for word in range(start, end):
        input_ids[position:position + len(pieces[word])] = pieces[word]
        word_ids[position] = word
        is_max_context[position] = predicts[word]
        if label_ids is not None:
            labels[position] = label_ids[word]
        position += len(pieces[word])
    input_ids[position] = sep_id
    input_mask = (np.arange(max_seq_length) <= position).astype(np.int32)
    return Window(input_ids=input_ids, input_mask=input_mask, segment_ids=np.zeros(max_seq_length, dtype=np.int32),
                  label_ids=labels, sentence_index=sentence_index, word_ids=word_ids, is_max_context=is_max_context)
