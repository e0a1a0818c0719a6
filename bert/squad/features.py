"""Featurizing SQuAD examples: WordPiece windows `[CLS] question [SEP] document window [SEP]`.

`read_windows` reads a SQuAD file and featurizes it in one call;
`convert_examples_to_features` cuts every `SquadExample` into windows of
`max_seq_length` tokens with Google's sliding window (`doc_stride`) and "max context"
bookkeeping; the windows, positions and answer spans are the ones Google's
`run_squad.py` produces. `SquadFeatures` stores them compactly and builds the model
inputs on demand (`arrays`), or one window in Google's `InputFeatures` form (`window`).

Example:
    >>> tokenizer = tokenization.FullTokenizer("vocab.txt", do_lower_case=True)
    >>> examples, features = read_windows("dev-v1.1.json", tokenizer, max_seq_length=384,
    ...                                   doc_stride=128, max_query_length=64, is_training=False)
    >>> inputs = features.arrays()             # {"input_ids": [N, 384] int32, ...}
"""

import collections
import dataclasses
import itertools

import numpy as np
from absl import logging

from bert.errors import InputError
from bert.squad.examples import DOC_TOKEN, read_squad_examples

FIRST_UNIQUE_ID = 1000000000
# The model inputs among `SquadFeatures.arrays()`, each int32 [windows, max_seq_length].
INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")


@dataclasses.dataclass
class TokenizedDocument:
    """The WordPiece sub-tokens of one context, with maps to its whitespace tokens.

    All arrays are int32. Sub-token `t` comes from document token `tok_to_orig_index[t]`;
    `orig_to_tok_index[i]` is the first sub-token of document token `i`.
    """

    sub_token_ids: np.ndarray
    tok_to_orig_index: np.ndarray
    orig_to_tok_index: np.ndarray


@dataclasses.dataclass
class FeatureWindow:
    """One window in the form of Google's `InputFeatures` (for inspection and logging).

    `token_to_orig_map` and `token_is_max_context` are keyed by position in `tokens`
    and hold the document positions only.
    """

    unique_id: int
    example_index: int
    doc_span_index: int
    tokens: list
    input_ids: list
    input_mask: list
    segment_ids: list
    token_to_orig_map: dict
    token_is_max_context: dict
    start_position: int = None
    end_position: int = None
    is_impossible: bool = False


@dataclasses.dataclass
class SquadFeatures:
    """All windows of all examples, stored compactly; `arrays()` builds model inputs.

    Window `i` is `[CLS] query [SEP] document[doc_start[i] : doc_start[i] + doc_length[i]]
    [SEP]` with the query and document taken from its example; windows come grouped by
    example, in example order, and `example_feature_offsets[e]:example_feature_offsets[e + 1]`
    are the windows of example `e`. Per-window arrays have shape [num_features];
    `start_positions` / `end_positions` (training only) index into the window, 0 being
    [CLS] (answer outside the window, or impossible question).
    """

    max_seq_length: int
    is_training: bool
    tokenizer: object = dataclasses.field(repr=False)
    unique_ids: np.ndarray
    example_index: np.ndarray
    doc_span_index: np.ndarray
    doc_start: np.ndarray
    doc_length: np.ndarray
    query_length: np.ndarray
    start_positions: np.ndarray
    end_positions: np.ndarray
    is_impossible: np.ndarray
    example_feature_offsets: np.ndarray = dataclasses.field(repr=False)
    query_ids: list = dataclasses.field(repr=False)  # [num_examples] int32 arrays
    document_of_example: np.ndarray = dataclasses.field(repr=False)
    documents: list = dataclasses.field(repr=False)  # TokenizedDocument per distinct context

    def __len__(self):
        return len(self.unique_ids)

    @property
    def do_lower_case(self):
        return self.tokenizer.do_lower_case

    @property
    def num_examples(self):
        return len(self.document_of_example)

    def document(self, example_index):
        return self.documents[self.document_of_example[example_index]]

    def arrays(self, start=0, stop=None):
        """Model inputs for windows `start:stop` as a dict of int32 numpy arrays.

        Returns:
            `unique_ids` [n], `input_ids`, `input_mask`, `segment_ids` [n, max_seq_length]
            (zero-padded), and when training also `start_positions`, `end_positions`,
            `is_impossible` [n]. Ready for `tf.data.Dataset.from_tensor_slices`.
        """
        rows = range(len(self))[start:stop]
        seq = self.max_seq_length
        cls_id, sep_id = self.tokenizer.vocab["[CLS]"], self.tokenizer.vocab["[SEP]"]
        input_ids = np.zeros((len(rows), seq), dtype=np.int32)
        for row, i in enumerate(rows):
            query = self.query_ids[self.example_index[i]]
            doc_ids = self.document(self.example_index[i]).sub_token_ids
            q, ds, dl = len(query), self.doc_start[i], self.doc_length[i]
            input_ids[row, 0] = cls_id
            input_ids[row, 1:q + 1] = query
            input_ids[row, q + 1] = sep_id
            input_ids[row, q + 2:q + 2 + dl] = doc_ids[ds:ds + dl]
            input_ids[row, q + 2 + dl] = sep_id
        positions = np.arange(seq, dtype=np.int32)[None, :]
        used = (self.query_length[rows.start:rows.stop] + self.doc_length[rows.start:rows.stop] + 3)[:, None]
        doc_begin = (self.query_length[rows.start:rows.stop] + 2)[:, None]
        result = {
            "unique_ids": self.unique_ids[rows.start:rows.stop].copy(),
            "input_ids": input_ids,
            "input_mask": (positions < used).astype(np.int32),
            "segment_ids": ((positions >= doc_begin) & (positions < used)).astype(np.int32),
        }
        if self.is_training:
            for name in ("start_positions", "end_positions", "is_impossible"):
                result[name] = getattr(self, name)[rows.start:rows.stop].astype(np.int32)
        return result

    def max_context_span(self, example_index):
        """For each sub-token of the example's document, the doc span giving it most context.

        Google's rule: a token's score in a window is min(tokens left of it, tokens
        right of it) + 0.01 * window length; the first window with the highest score
        wins. Returns an int array [num_sub_tokens] of `doc_span_index` values.
        """
        first, last = self.example_feature_offsets[example_index:example_index + 2]
        num_sub_tokens = len(self.document(example_index).sub_token_ids)
        scores = np.full((last - first, num_sub_tokens), -np.inf)
        for span, i in enumerate(range(first, last)):
            begin, length = self.doc_start[i], self.doc_length[i]
            position = np.arange(begin, begin + length)
            left, right = position - begin, begin + length - 1 - position
            scores[span, begin:begin + length] = np.minimum(left, right) + 0.01 * length
        return np.argmax(scores, axis=0)

    def window(self, i):
        """Window `i` as a `FeatureWindow` (Google's `InputFeatures` fields)."""
        e = int(self.example_index[i])
        document = self.document(e)
        inputs = self.arrays(i, i + 1)
        used = int(inputs["input_mask"].sum())
        offset = int(self.query_length[i]) + 2
        owner = self.max_context_span(e)
        token_to_orig_map, token_is_max_context = {}, {}
        for k in range(int(self.doc_length[i])):
            sub_token = int(self.doc_start[i]) + k
            token_to_orig_map[offset + k] = int(document.tok_to_orig_index[sub_token])
            token_is_max_context[offset + k] = bool(owner[sub_token] == self.doc_span_index[i])
        input_ids = inputs["input_ids"][0].tolist()
        window = FeatureWindow(
            unique_id=int(self.unique_ids[i]),
            example_index=e,
            doc_span_index=int(self.doc_span_index[i]),
            tokens=self.tokenizer.convert_ids_to_tokens(input_ids[:used]),
            input_ids=input_ids,
            input_mask=inputs["input_mask"][0].tolist(),
            segment_ids=inputs["segment_ids"][0].tolist(),
            token_to_orig_map=token_to_orig_map,
            token_is_max_context=token_is_max_context,
        )
        if self.is_training:
            window.start_position = int(self.start_positions[i])
            window.end_position = int(self.end_positions[i])
            window.is_impossible = bool(self.is_impossible[i])
        return window


def read_windows(path, tokenizer, max_seq_length, doc_stride, max_query_length, is_training, windows_to_log=0):
    """The `SquadExample`s of the SQuAD file `path` and their windows (`SquadFeatures`).

    Logs the counts, and the first `windows_to_log` windows in full (`SquadFeatures.window`).
    The other arguments are those of `read_squad_examples` and `convert_examples_to_features`.

    Raises:
        InputError: the file is unreadable or malformed, or it has no questions.
    """
    examples = read_squad_examples(path, is_training=is_training)
    if not examples:
        raise InputError(f"{path}: the file has no questions")
    features = convert_examples_to_features(
        examples, tokenizer, max_seq_length=max_seq_length, doc_stride=doc_stride,
        max_query_length=max_query_length, is_training=is_training)
    logging.info("%s: %d questions in %d windows of %d tokens", path, len(examples), len(features), max_seq_length)
    for i in range(min(windows_to_log, len(features))):
        logging.info("window %d of %s: %s", i, path, features.window(i))
    return examples, features


def convert_examples_to_features(examples, tokenizer, max_seq_length, doc_stride, max_query_length, is_training):
    """Cuts every example into windows of `max_seq_length` WordPiece tokens.

    The question keeps its first `max_query_length` tokens; the document is covered
    by windows of `max_seq_length - len(question) - 3` tokens, each starting
    `doc_stride` tokens after the previous one, the last one ending at the document's
    end. For training, the answer span is narrowed to the tokens of the answer text
    (Google's `_improve_answer_span`), and points at [CLS] in windows that do not hold
    all of it.

    Sub-tokens are exactly `tokenizer.tokenize(doc_token)` for each whitespace token.
    Questions and answers are tokenized the same way, token by token, which equals
    `tokenizer.tokenize(text)` since the tokenizer splits at every character the
    document reader splits at. Each distinct token is tokenized once, all in one call
    of the Rust batch encoder.

    Args:
        examples: `SquadExample`s from `read_squad_examples`.
        tokenizer: a `tokenization.FullTokenizer`.
        max_seq_length, doc_stride, max_query_length: in WordPiece tokens.
        is_training: compute `start_positions` / `end_positions` from the answers.

    Returns:
        `SquadFeatures`, unique ids counting up from 1000000000.

    Raises:
        InputError: the lengths leave no room for the document.
    """
    if max_seq_length <= max_query_length + 3:
        raise InputError(
            f"max_seq_length ({max_seq_length}) must exceed max_query_length ({max_query_length}) + 3 "
            "to leave room for the document")
    if doc_stride < 1:
        raise InputError(f"doc_stride must be positive, got {doc_stride}")
    documents, document_of_example, query_ids, answer_ids = _tokenize_examples(examples, tokenizer, is_training)
    query_ids = [ids[:max_query_length] for ids in query_ids]

    columns = collections.defaultdict(list)
    example_feature_offsets = [0]
    for example_index, example in enumerate(examples):
        document = documents[document_of_example[example_index]]
        num_sub_tokens = len(document.sub_token_ids)
        query_length = len(query_ids[example_index])
        max_tokens_for_doc = max_seq_length - query_length - 3
        if is_training and not example.is_impossible:
            answer_start, answer_end = _answer_sub_tokens(example, document, answer_ids[example_index])
        span_start, span_index = 0, 0
        while span_start < num_sub_tokens:
            length = min(num_sub_tokens - span_start, max_tokens_for_doc)
            columns["example_index"].append(example_index)
            columns["doc_span_index"].append(span_index)
            columns["doc_start"].append(span_start)
            columns["doc_length"].append(length)
            columns["query_length"].append(query_length)
            start_position = end_position = 0
            if is_training and not example.is_impossible:
                if span_start <= answer_start and answer_end < span_start + length:
                    start_position = answer_start - span_start + query_length + 2
                    end_position = answer_end - span_start + query_length + 2
            columns["start_positions"].append(start_position)
            columns["end_positions"].append(end_position)
            columns["is_impossible"].append(bool(is_training and example.is_impossible))
            if span_start + length == num_sub_tokens:
                break
            span_start += min(length, doc_stride)
            span_index += 1
        example_feature_offsets.append(len(columns["example_index"]))

    num_features = example_feature_offsets[-1]
    column = {name: np.asarray(columns[name], dtype=np.int32) for name in (
        "example_index", "doc_span_index", "doc_start", "doc_length", "query_length",
        "start_positions", "end_positions")}
    return SquadFeatures(
        max_seq_length=max_seq_length,
        is_training=is_training,
        tokenizer=tokenizer,
        unique_ids=np.arange(FIRST_UNIQUE_ID, FIRST_UNIQUE_ID + num_features, dtype=np.int32),
        is_impossible=np.asarray(columns["is_impossible"], dtype=bool),
        example_feature_offsets=np.asarray(example_feature_offsets, dtype=np.int64),
        query_ids=query_ids,
        document_of_example=document_of_example,
        documents=documents,
        **column,
    )


def _tokenize_examples(examples, tokenizer, is_training):
    """WordPiece ids of every context, question and (training) answer.

    Contexts are identified by their `doc_tokens` object, so a paragraph's questions
    share one `TokenizedDocument`.

    Returns:
        (documents, document_of_example, query_ids, answer_ids): the distinct contexts'
        `TokenizedDocument`s, the index of each example's context in them (int32
        [num_examples]), and per example the int32 ids of its question and of its
        answer (None unless training).
    """
    document_of_key, token_lists, document_of_example = {}, [], []
    for example in examples:
        key = id(example.doc_tokens)
        if key not in document_of_key:
            document_of_key[key] = len(token_lists)
            token_lists.append(example.doc_tokens)
        document_of_example.append(document_of_key[key])
    num_documents = len(token_lists)
    questions = list(dict.fromkeys(example.question_text for example in examples))
    token_lists += [DOC_TOKEN.findall(text) for text in questions]
    if is_training:
        answers = list(dict.fromkeys(example.orig_answer_text or "" for example in examples))
        token_lists += [DOC_TOKEN.findall(text) for text in answers]
    ids, piece_counts = _tokenize_token_lists(token_lists, tokenizer)

    documents = []
    for doc_ids, counts in zip(ids[:num_documents], piece_counts[:num_documents]):
        documents.append(TokenizedDocument(
            sub_token_ids=doc_ids,
            tok_to_orig_index=np.repeat(np.arange(len(counts), dtype=np.int32), counts),
            orig_to_tok_index=(np.cumsum(counts) - counts).astype(np.int32),
        ))
    ids_of_question = dict(zip(questions, ids[num_documents:num_documents + len(questions)]))
    query_ids = [ids_of_question[example.question_text] for example in examples]
    answer_ids = None
    if is_training:
        ids_of_answer = dict(zip(answers, ids[num_documents + len(questions):]))
        answer_ids = [ids_of_answer[example.orig_answer_text or ""] for example in examples]
    return documents, np.asarray(document_of_example, dtype=np.int32), query_ids, answer_ids


def _tokenize_token_lists(token_lists, tokenizer):
    """`tokenizer.tokenize` of every token of every list, each distinct token encoded once.

    Returns:
        (ids, piece_counts): per list, an int32 array of the concatenated sub-token ids
        and an int64 array of the number of sub-tokens of each of its tokens.
    """
    distinct = list(dict.fromkeys(itertools.chain.from_iterable(token_lists)))
    number_of_token = {token: number for number, token in enumerate(distinct)}
    numbers = np.fromiter(map(number_of_token.__getitem__, itertools.chain.from_iterable(token_lists)),
                          dtype=np.int64)
    encoded = tokenizer.batch_token_ids(distinct)
    counts = np.fromiter((len(token_ids) for token_ids in encoded), dtype=np.int64, count=len(encoded))
    flat_ids = np.fromiter(itertools.chain.from_iterable(encoded), dtype=np.int32, count=int(counts.sum()))

    piece_counts = counts[numbers]  # [all token occurrences]
    first_piece = np.cumsum(piece_counts) - piece_counts
    total = int(piece_counts.sum())
    # Position of each output sub-token in `flat_ids`.
    source = np.repeat((np.cumsum(counts) - counts)[numbers] - first_piece, piece_counts) + np.arange(total)
    ids = flat_ids[source]

    token_bounds = np.cumsum([len(tokens) for tokens in token_lists])[:-1]
    piece_bounds = np.append(first_piece, total)[token_bounds]
    return np.split(ids, piece_bounds), np.split(piece_counts, token_bounds)


def _answer_sub_tokens(example, document, answer_ids):
    """The answer's first and last sub-token, narrowed to the tokenized answer text.

    Document tokens are coarser than sub-tokens: for "(1895-1943)." with answer
    "1895" the whole token is the span. Like Google's `_improve_answer_span`, take the
    first sub-token range inside it that equals the tokenized answer, if any.
    """
    orig_to_tok = document.orig_to_tok_index
    tok_start = int(orig_to_tok[example.start_position])
    if example.end_position < len(example.doc_tokens) - 1:
        tok_end = int(orig_to_tok[example.end_position + 1]) - 1
    else:
        tok_end = len(document.sub_token_ids) - 1
    span, answer = document.sub_token_ids[tok_start:tok_end + 1].tolist(), answer_ids.tolist()
    if answer:
        for offset in range(len(span) - len(answer) + 1):
            if span[offset:offset + len(answer)] == answer:
                return tok_start + offset, tok_start + offset + len(answer) - 1
    return tok_start, tok_end

