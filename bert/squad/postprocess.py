"""Post-processing: per-window start/end logits -> each question's answer text and Google's output files.

    compute_predictions   logits of every window -> n-best answers per question (and, for
                          SQuAD v2.0, the null answer and its odds), as Google's
                          `write_predictions` ranks them
    span_text             a window's token span -> the original document's text
    write_predictions     predictions.json, nbest_predictions.json, null_odds.json

Answer texts are the ones Google's code produces, but where the answer cannot be aligned
character by character with the original text, it is cut from the original document
with the tokenizer's character offsets (Google returned the whole whitespace tokens
around the answer).

Example:
    >>> start_logits, end_logits = model.predict(features.arrays())   # [N, 384] each
    >>> result = compute_predictions(examples, features, start_logits, end_logits)
    >>> write_predictions(result, "results/")  # predictions.json, nbest_predictions.json
"""

import dataclasses
import functools
import json
import math
import os

import numpy as np
from tokenizers import pre_tokenizers

from bert import files
from bert.text import tokenization

PREDICTIONS_FILE = "predictions.json"
NBEST_FILE = "nbest_predictions.json"
NULL_ODDS_FILE = "null_odds.json"


@dataclasses.dataclass
class SquadPredictions:
    """What the three SQuAD output files hold, keyed by question id in example order.

    `predictions`: id -> answer text ("" for no answer).
    `nbest`: id -> list of {"text", "probability", "start_logit", "end_logit"}, best first.
    `null_odds`: v2 only (else None): id -> null score minus best non-null score.
    """

    predictions: dict
    nbest: dict
    null_odds: dict = None


def compute_predictions(examples, features, start_logits, end_logits, unique_ids=None, n_best_size=20,
                        max_answer_length=30, version_2_with_negative=False, null_score_diff_threshold=0.0):
    """Turns per-window logits into each question's answer, as Google's `write_predictions`.

    Candidate spans of a window pair one of its `n_best_size` highest start logits
    with one of its `n_best_size` highest end logits, both inside the document part,
    start <= end, at most `max_answer_length` tokens, and the start token having its
    maximum context in this window. Candidates of all windows are ranked by start +
    end logit; the top `n_best_size` distinct texts form the n-best list with softmax
    probabilities. A span's text is cut from the original context (see `span_text`).

    With `version_2_with_negative`, the null answer scores start + end logit at [CLS]
    (lowest over the windows) and is predicted ("") when it beats the best non-null
    candidate by more than `null_score_diff_threshold`.

    Args:
        examples, features: as passed to and returned by `convert_examples_to_features`.
        start_logits, end_logits: float arrays [num_windows, max_seq_length].
        unique_ids: [num_windows] unique id of each logits row; default: the rows are
            in the order of `features`.

    Returns:
        `SquadPredictions`.

    Raises:
        ValueError: the examples or logits do not belong to `features`.
    """
    if len(examples) != features.num_examples:
        raise ValueError(f"{len(examples)} examples but the features were built from {features.num_examples}")
    start_logits = np.asarray(start_logits, dtype=np.float64)
    end_logits = np.asarray(end_logits, dtype=np.float64)
    if unique_ids is not None:
        rows = _rows_of_features(features, unique_ids)
        start_logits, end_logits = start_logits[rows], end_logits[rows]
    expected_shape = (len(features), features.max_seq_length)
    if start_logits.shape != expected_shape or end_logits.shape != expected_shape:
        raise ValueError(
            f"logits have shapes {start_logits.shape} and {end_logits.shape}, expected {expected_shape}")
    # Google's `_get_best_indexes`: highest first, ties to the lower position.
    top_starts = np.argsort(-start_logits, axis=1, kind="stable")[:, :n_best_size]
    top_ends = np.argsort(-end_logits, axis=1, kind="stable")[:, :n_best_size]

    result = SquadPredictions({}, {}, {} if version_2_with_negative else None)
    for example_index, example in enumerate(examples):
        first, last = features.example_feature_offsets[example_index:example_index + 2]
        windows = range(first, last)
        candidates = _candidate_spans(features, example_index, windows, start_logits, end_logits,
                                      top_starts, top_ends, max_answer_length)
        null = None  # (start_logit, end_logit) of the null answer
        if version_2_with_negative:
            null = (0.0, 0.0)
            if len(windows):
                lowest = first + int(np.argmin(start_logits[first:last, 0] + end_logits[first:last, 0]))
                null = (float(start_logits[lowest, 0]), float(end_logits[lowest, 0]))
        nbest = _nbest(example, features, candidates, null, n_best_size)
        probabilities = _softmax([entry[1] + entry[2] for entry in nbest])
        result.nbest[example.qas_id] = [
            {"text": text, "probability": probability, "start_logit": start, "end_logit": end}
            for (text, start, end, _), probability in zip(nbest, probabilities)]
        if not version_2_with_negative:
            result.predictions[example.qas_id] = nbest[0][0]
            continue
        best_non_null = next(entry for entry in nbest if entry[0])
        score_diff = null[0] + null[1] - best_non_null[1] - best_non_null[2]
        result.null_odds[example.qas_id] = score_diff
        is_placeholder = best_non_null[3]
        answer_is_null = is_placeholder or score_diff > null_score_diff_threshold
        result.predictions[example.qas_id] = "" if answer_is_null else best_non_null[0]
    return result


def _rows_of_features(features, unique_ids):
    """For each window of `features`, the row of `unique_ids` holding its logits."""
    row_of_id = {int(unique_id): row for row, unique_id in enumerate(np.asarray(unique_ids).reshape(-1))}
    missing = [int(u) for u in features.unique_ids if int(u) not in row_of_id]
    if missing:
        raise ValueError(f"no logits for {len(missing)} window(s), e.g. unique id {missing[0]}")
    return np.asarray([row_of_id[int(u)] for u in features.unique_ids], dtype=np.int64)


def _candidate_spans(features, example_index, windows, start_logits, end_logits, top_starts, top_ends,
                     max_answer_length):
    """Valid (window, start, end) spans of one example, in Google's order, and their logits.

    Returns:
        (window, start, end, start_logit, end_logit): five equal-length arrays.
    """
    owner = features.max_context_span(example_index) if len(windows) else None
    parts = []
    for i in windows:
        offset = int(features.query_length[i]) + 2
        length = int(features.doc_length[i])
        starts, ends = top_starts[i], top_ends[i]
        start_in_doc = (starts >= offset) & (starts < offset + length)
        sub_token = np.clip(features.doc_start[i] + starts - offset, 0, len(owner) - 1)
        start_ok = start_in_doc & (owner[sub_token] == features.doc_span_index[i])
        end_ok = (ends >= offset) & (ends < offset + length)
        span_length = ends[None, :] - starts[:, None] + 1
        valid = start_ok[:, None] & end_ok[None, :] & (span_length >= 1) & (span_length <= max_answer_length)
        start_rank, end_rank = np.nonzero(valid)  # row-major: Google's nested loop order
        start, end = starts[start_rank], ends[end_rank]
        parts.append((np.full(len(start), i), start, end, start_logits[i, start], end_logits[i, end]))
    if not parts:
        return tuple(np.zeros(0, dtype=dtype) for dtype in (np.int64,) * 3 + (np.float64,) * 2)
    return tuple(np.concatenate(column) for column in zip(*parts))


def _nbest(example, features, candidates, null, n_best_size):
    """The n-best list: (text, start_logit, end_logit, is_placeholder) tuples, best first.

    `null` is None (v1.1) or the (start_logit, end_logit) of the null answer, which
    competes as a candidate and is always listed. Google's "empty" placeholder (logits
    0) is added when no text was found, or in v2 when no non-null text was.
    """
    window, start, end, start_logit, end_logit = candidates
    scores = start_logit + end_logit
    if null is not None:  # ranked after real spans of equal score, as Google appends it last
        scores = np.append(scores, null[0] + null[1])
    nbest, seen = [], set()
    for k in np.argsort(-scores, kind="stable"):
        if len(nbest) >= n_best_size:
            break
        if k == len(window):
            nbest.append(("", null[0], null[1], False))
            seen.add("")
            continue
        text = span_text(example, features, int(window[k]), int(start[k]), int(end[k]))
        if text in seen:
            continue
        seen.add(text)
        nbest.append((text, float(start_logit[k]), float(end_logit[k]), False))
    if null is not None and "" not in seen:
        nbest.append(("", null[0], null[1], False))
    if not any(entry[0] for entry in nbest):
        nbest.append(("empty", 0.0, 0.0, True))
    return nbest


def _softmax(scores):
    if not scores:
        return []
    top = max(scores)
    exps = [math.exp(score - top) for score in scores]
    total = sum(exps)
    return [value / total for value in exps]


def span_text(example, features, window, start, end):
    """The original-document text of positions `start..end` (inclusive) of window `window`.

    Google's `get_final_text`: the de-tokenized WordPiece span ("##" pieces joined) is
    found in the basic-tokenized text of the whitespace tokens it covers and projected
    back onto their characters, so the answer keeps the document's case, accents and
    inner punctuation but not punctuation attached outside it. When that alignment
    fails ([UNK] pieces, characters whose normalisation changes length), the text is cut
    with the tokenizer's character offsets instead.
    """
    document = features.document(int(features.example_index[window]))
    offset = int(features.query_length[window]) + 2
    first = int(features.doc_start[window]) + start - offset
    last = int(features.doc_start[window]) + end - offset
    pieces = " ".join(features.tokenizer.convert_ids_to_tokens(document.sub_token_ids[first:last + 1].tolist()))
    pred_text = " ".join(pieces.replace(" ##", "").replace("##", "").split())
    orig_first, orig_last = int(document.tok_to_orig_index[first]), int(document.tok_to_orig_index[last])
    orig_tokens = example.doc_tokens[orig_first:orig_last + 1]
    tok_text = " ".join(piece for token in orig_tokens for piece in _basic_tokens(token, features.do_lower_case))
    projected = _project_onto_original(pred_text, " ".join(orig_tokens), tok_text)
    if projected is not None:
        return projected
    # Offsets of the first and last sub-token inside their whitespace tokens.
    (first_encoding, last_encoding) = features.tokenizer.encode_batch([orig_tokens[0], orig_tokens[-1]])
    char_start = first_encoding.offsets[first - int(document.orig_to_tok_index[orig_first])][0]
    char_end = last_encoding.offsets[last - int(document.orig_to_tok_index[orig_last])][1]
    if orig_first == orig_last:
        return orig_tokens[0][char_start:char_end]
    return " ".join([orig_tokens[0][char_start:]] + orig_tokens[1:-1] + [orig_tokens[-1][:char_end]])


def _project_onto_original(pred_text, orig_text, tok_text):
    """Google's `get_final_text` alignment; None where Google fell back to `orig_text`.

    `tok_text` is the basic-tokenized `orig_text`, pieces joined by spaces. The two
    texts must have the same characters apart from spaces; the span of `pred_text` in
    `tok_text` is carried over by counting non-space characters.
    """
    start = tok_text.find(pred_text)
    if start < 0 or not pred_text:
        return None
    end = start + len(pred_text) - 1
    if len(orig_text) - orig_text.count(" ") != len(tok_text) - tok_text.count(" "):
        return None
    orig_start = _position_of_non_space(orig_text, start - tok_text.count(" ", 0, start))
    orig_end = _position_of_non_space(orig_text, end - tok_text.count(" ", 0, end))
    return orig_text[orig_start:orig_end + 1]


def _position_of_non_space(text, rank):
    """Position in `text` of its non-space character number `rank` (from 0)."""
    position = 0
    for part in text.split(" "):
        if rank < len(part):
            return position + rank
        rank -= len(part)
        position += len(part) + 1
    raise ValueError(f"{text!r} has no non-space character {rank}")


@functools.lru_cache(maxsize=1 << 16)
def _basic_tokens(text, do_lower_case):
    """Google's `BasicTokenizer` pieces (cleaning, CJK split, case/accents, punctuation split)."""
    normalizer, pre_tokenizer = _basic_tokenizer(do_lower_case)
    return tuple(piece for piece, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))


@functools.lru_cache(maxsize=None)
def _basic_tokenizer(do_lower_case):
    return tokenization.bert_normalizer(do_lower_case), pre_tokenizers.BertPreTokenizer()


def write_predictions(result, output_dir):
    """Writes predictions.json, nbest_predictions.json and (v2) null_odds.json.

    The formats are Google's: JSON objects keyed by question id, indented by 4. Each
    file is written to a temporary file in `output_dir` and renamed into place, so a
    reader never sees a half-written file.

    Returns:
        The list of paths written.
    """
    os.makedirs(output_dir, exist_ok=True)
    outputs = [(PREDICTIONS_FILE, result.predictions), (NBEST_FILE, result.nbest)]
    if result.null_odds is not None:
        outputs.append((NULL_ODDS_FILE, result.null_odds))
    paths = []
    for name, content in outputs:
        path = os.path.join(output_dir, name)
        files.write_text_atomically(path, json.dumps(content, indent=4) + "\n")
        paths.append(path)
    return paths
