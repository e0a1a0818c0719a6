"""Documents -> sentence-pair instances -> masked-LM inputs, as Google's create_pretraining_data.py.

The algorithm is Google's, step for step; only the bookkeeping differs so that a large
corpus fits in memory and runs fast:

* A corpus is one flat int32 array of WordPiece ids plus the token offset of every
  sentence and the sentence offset of every document (`Corpus`). A file, or a byte
  range of it, is read by `read_corpus`, tokenizing each distinct word once (`WordCache`).
* An instance is first only five numbers: the token spans of its segments A and B
  after truncation, and its label (`create_instance_spans`, a Python loop over
  chunks of sentences that makes Google's random choices: target length, A/B split,
  random or actual next, random document, truncation). All dupes cost 40 bytes per
  instance.
* Batches of spans are then turned into id matrices (`assemble_inputs`) and masked
  (`mask_instances`) with numpy, many instances at once.

Where Google draws a sequence of coin flips, the same distribution is drawn in one go:
truncating one token at a time from a random end removes a Binomial(n, 1/2) number of
tokens from the front; the k candidate positions with the smallest random keys are a
uniformly random k-subset. Google also shuffles its document list before the dupe
loop; that only reorders instances, which are shuffled before writing anyway, so it is
skipped. The random generators of each step (`instance_rng`, `shuffle_rng`,
`masking_rng`) are seeded from the random seed, the file's index and the step's index
alone, so that results never depend on which process draws them.

Example:
    >>> corpus = read_corpus("wiki_00.txt", tokenizer)
    >>> spans = create_instance_spans(corpus, max_seq_length=128, short_seq_prob=0.1,
    ...                               dupe_factor=5, rng=random.Random(0))
    >>> inputs = assemble_inputs(corpus.tokens, spans.take(range(32)), 128, cls_id, sep_id)
"""

import array
import bisect
import dataclasses
import itertools
import random
import re

import numpy as np

from bert.errors import InputError

READ_BYTES = 1 << 22


@dataclasses.dataclass
class Corpus:
    """A tokenized text file.

    Attributes:
        tokens: int32 [num_tokens], the WordPiece ids of every sentence, in file order.
        sentence_starts: int64 [num_sentences + 1], token offset of each sentence
            (the last entry is num_tokens). Sentences are never empty.
        document_starts: int64 [num_documents + 1], sentence offset of each document
            (the last entry is num_sentences). Documents are never empty.
    """

    tokens: np.ndarray
    sentence_starts: np.ndarray
    document_starts: np.ndarray

    @property
    def num_documents(self):
        return len(self.document_starts) - 1


class WordCache:
    """Token ids of the lines of a text, tokenizing each distinct word only once.

    Google's tokenizer works on each whitespace-separated word of the cleaned text
    separately, so a line's ids are the concatenation of its words' ids. Words are
    split with `str.split`, which also splits at a few control characters that
    Google's cleaning deletes instead (joining their neighbours); a line holding one
    of those (or NUL) is tokenized whole. Real text repeats its words (Zipf's law), so
    most words come from the cache; when it holds `max_words` words it starts afresh.

    Args:
        tokenizer: a `tokenization.FullTokenizer`.
        max_words: cache size bound.
    """

    _SPLIT_BUT_DELETED_CHARS = "\x00\x0b\x0c\x1c\x1d\x1e\x1f\x85"
    _SPLIT_BUT_DELETED = re.compile(f"[{_SPLIT_BUT_DELETED_CHARS}]")
    # Marks the end of each line among the words. No word can equal it: a text holding
    # NUL is split line by line, and a line tokenized whole is cached under "\n" + line.
    _LINE_END = "\x00"

    def __init__(self, tokenizer, max_words=1 << 18):
        self.tokenizer = tokenizer
        self.max_words = max_words
        self._clear()

    def _clear(self):
        # word -> its number; word n's ids are _pool[_starts[n]:_starts[n] + _lengths[n]]. Number 0 is _LINE_END.
        self._index = {self._LINE_END: 0}
        self._pool = array.array("i")
        self._starts = array.array("q", [0])
        self._lengths = array.array("q", [0])

    def line_tokens(self, text):
        """Tokenizes every line of `text` ("\\n"-separated; a final "\\n" ends the last line).

        Returns:
            (tokens, line_lengths, blank): int32 [total tokens], all lines' ids in order;
            int64 [num_lines], each line's number of tokens; bool [num_lines], True for
            a line of whitespace only.
        """
        if text.endswith("\n"):
            text = text[:-1]
        if any(char in text for char in self._SPLIT_BUT_DELETED_CHARS):  # str.find is much faster than re
            words = []
            for line in text.split("\n"):
                line = line.strip()
                if self._SPLIT_BUT_DELETED.search(line):
                    words.append("\n" + line)  # "\n" tokenizes to nothing
                else:
                    words += line.split()
                words.append(self._LINE_END)
        else:
            words = text.replace("\n", " \x00 ").split()
            words.append(self._LINE_END)
        numbers = self._word_numbers(words)
        starts = np.frombuffer(self._starts, dtype=np.int64)[numbers]
        word_lengths = np.frombuffer(self._lengths, dtype=np.int64)[numbers]
        tokens_before_word = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum(word_lengths, out=tokens_before_word[1:])
        # Token t of the output is _pool[starts[w] + (t - tokens_before_word[w])] for its word w.
        source = np.repeat(starts - tokens_before_word[:-1], word_lengths) + np.arange(tokens_before_word[-1])
        tokens = np.frombuffer(self._pool, dtype=np.int32)[source] if len(source) else np.zeros(0, np.int32)
        line_ends = np.flatnonzero(numbers == 0)
        return tokens, np.diff(tokens_before_word[line_ends], prepend=0), np.diff(line_ends, prepend=-1) == 1

    def _word_numbers(self, words):
        """int64 [len(words)], each word's number in the cache, tokenizing the words missing from it."""
        numbers = np.fromiter(map(self._index.get, words, itertools.repeat(-1)), np.int64, len(words))
        unknown = np.flatnonzero(numbers < 0)
        if not len(unknown):
            return numbers
        missing = set(map(words.__getitem__, unknown.tolist()))
        if len(self._index) + len(missing) > self.max_words:
            self._clear()
            missing = set(words)
            missing.discard(self._LINE_END)
            unknown = np.arange(len(words))
        missing = list(missing)
        for word, ids in zip(missing, self.tokenizer.batch_token_ids(missing)):
            self._index[word] = len(self._lengths)
            self._starts.append(len(self._pool))
            self._lengths.append(len(ids))
            self._pool.extend(ids)
        numbers[unknown] = np.fromiter(map(self._index.__getitem__, map(words.__getitem__, unknown.tolist())),
                                       np.int64, len(unknown))
        return numbers


def read_corpus(path, tokenizer, start=0, end=None, read_bytes=READ_BYTES, word_cache=None):
    """Tokenizes a text file, or its bytes [start, end): a sentence per line, blank lines between documents.

    As Google's script: each line is stripped of surrounding whitespace, a blank line
    ends the current document, a line that tokenizes to nothing is dropped, and empty
    documents are dropped. Only "\\n" separates lines. The text is read and tokenized
    in pieces of about `read_bytes`, so memory holds one piece of text at a time. A
    range should start at the beginning of a line (offset 0, or after a "\\n").

    Args:
        path: the text file.
        tokenizer: a `tokenization.FullTokenizer`.
        start, end: byte range to read (default: the whole file).
        read_bytes: read size.
        word_cache: a `WordCache` to reuse across calls (default: a new one).

    Returns:
        a `Corpus`, with no documents if the range holds only blank lines.

    Raises:
        InputError: the file is missing or empty, or the range is not UTF-8 (naming the
            file's byte offset and line).
    """
    word_cache = word_cache or WordCache(tokenizer)
    token_blocks = [np.zeros(0, dtype=np.int32)]
    sentence_lengths = array.array("q")
    document_starts = array.array("q")
    in_document = False
    try:
        reader = open(path, "rb")
    except OSError as error:
        raise InputError(f"{path}: cannot read input file ({error.strerror})") from None
    with reader:
        reader.seek(start)
        remaining = float("inf") if end is None else end - start
        offset = start
        newlines = 0  # in the range, before `offset`
        pending = b""
        while True:
            data = reader.read(int(min(read_bytes, remaining)))
            remaining -= len(data)
            piece = pending + data
            if not piece:
                break
            if data:
                cut = piece.rfind(b"\n") + 1
                if cut == 0:  # a line longer than a piece: read on
                    pending = piece
                    continue
                piece, pending = piece[:cut], piece[cut:]
            else:
                pending = b""
            try:
                text = piece.decode("utf-8")
            except UnicodeDecodeError as error:
                line = 1 + _count_newlines(path, start) + newlines + piece.count(b"\n", 0, error.start)
                raise InputError(f"{path}: invalid UTF-8 at byte offset {offset + error.start} (line {line})") from None
            offset += len(piece)
            newlines += piece.count(b"\n")
            tokens, line_lengths, blank = word_cache.line_tokens(text)
            # A sentence is a line with tokens; it starts a document unless the line
            # before it that is blank or a sentence is a sentence.
            is_sentence = line_lengths > 0
            blanks_before = np.cumsum(blank)[is_sentence]
            starts_document = np.empty(len(blanks_before), dtype=bool)
            starts_document[1:] = blanks_before[1:] != blanks_before[:-1]
            if len(blanks_before):
                starts_document[0] = not in_document or blanks_before[0] > 0
                in_document = bool(blanks_before[-1] == blank.sum())
            else:
                in_document = in_document and not blank.any()
            document_starts.extend((np.flatnonzero(starts_document) + len(sentence_lengths)).tolist())
            sentence_lengths.extend(line_lengths[is_sentence].tolist())
            token_blocks.append(tokens)
    if offset == 0:
        raise InputError(f"{path}: input file is empty")
    sentence_starts = np.zeros(len(sentence_lengths) + 1, dtype=np.int64)
    np.cumsum(np.frombuffer(sentence_lengths, dtype=np.int64), out=sentence_starts[1:])
    document_starts.append(len(sentence_lengths))
    return Corpus(
        tokens=np.concatenate(token_blocks),
        sentence_starts=sentence_starts,
        document_starts=np.frombuffer(document_starts, dtype=np.int64).copy(),
    )


def _count_newlines(path, end):
    """Number of "\\n" bytes in the first `end` bytes of a file (for error messages)."""
    count = 0
    with open(path, "rb") as reader:
        while end > 0:
            data = reader.read(min(READ_BYTES, end))
            if not data:
                break
            count += data.count(b"\n")
            end -= len(data)
    return count


@dataclasses.dataclass
class InstanceSpans:
    """Token spans of segments A and B of many instances (offsets into `Corpus.tokens`).

    Attributes (all int64 [num_instances]): a_start, a_length, b_start, b_length,
    is_random_next (1 when B comes from a random document).
    """

    a_start: np.ndarray
    a_length: np.ndarray
    b_start: np.ndarray
    b_length: np.ndarray
    is_random_next: np.ndarray

    def __len__(self):
        return len(self.a_start)

    def columns(self):
        return tuple(getattr(self, field.name) for field in dataclasses.fields(self))  # astuple would copy

    def take(self, indices):
        return InstanceSpans(*(column[indices] for column in self.columns()))

    def shifted(self, tokens):
        """The same spans in a token array where this one's tokens start at offset `tokens`."""
        return InstanceSpans(self.a_start + tokens, self.a_length, self.b_start + tokens, self.b_length,
                             self.is_random_next)

    @classmethod
    def concatenate(cls, spans):
        return cls(*(np.concatenate(columns) for columns in zip(*(part.columns() for part in spans))))


def create_instance_spans(corpus, max_seq_length, short_seq_prob, dupe_factor, rng):
    """Google's `create_instances_from_document` for every document, `dupe_factor` times.

    For each document: the target length is max_seq_length - 3, or with probability
    `short_seq_prob` a random length in [2, max_seq_length - 3]. Sentences are gathered
    into a chunk until the target or the document's end; A is the first a_end of them
    (a_end random in [1, len(chunk) - 1]); B is the rest of the chunk, or, with
    probability 1/2 or when the chunk has one sentence, sentences from a random place
    in another random document (the chunk's unused sentences then start the next
    chunk). The longer of A and B loses a token from a random end until the pair fits.

    Args:
        corpus: a `Corpus`.
        max_seq_length: length of the final sequence, [CLS] A [SEP] B [SEP].
        short_seq_prob: probability of a shorter target length.
        dupe_factor: number of passes over the documents.
        rng: a `random.Random`.

    Returns:
        `InstanceSpans`, in creation order.
    """
    max_num_tokens = max_seq_length - 3
    starts = corpus.sentence_starts.tolist()
    document_starts = corpus.document_starts.tolist()
    num_documents = len(document_starts) - 1
    spans = array.array("q")
    add = spans.extend
    random_float = rng.random
    getrandbits = rng.getrandbits
    bisect_left = bisect.bisect_left
    # rng.randint costs ~0.4 us in Python; a + int(random() * n) is uniform on a..a+n-1 up to 2**-53.
    # Google adds sentences one at a time until the chunk reaches the target; `starts` ascends
    # strictly (sentences are never empty), so bisecting it finds the same last sentence.
    for _ in range(dupe_factor):
        for document in range(num_documents):
            end_sentence = document_starts[document + 1]
            target_length = max_num_tokens
            if random_float() < short_seq_prob:
                target_length = 2 + int(random_float() * (max_num_tokens - 1))
            chunk_first = document_starts[document]
            while chunk_first < end_sentence:
                a_start = starts[chunk_first]
                # One past the chunk's last sentence: the first that starts at or after the target.
                chunk_end = bisect_left(starts, a_start + target_length, chunk_first + 1, end_sentence)
                chunk_size = chunk_end - chunk_first
                a_end = chunk_first + (1 + int(random_float() * (chunk_size - 1)) if chunk_size >= 2 else 1)
                a_length = starts[a_end] - a_start
                if chunk_size == 1 or random_float() < 0.5:
                    is_random_next = 1
                    for _ in range(10):
                        other = int(random_float() * num_documents)
                        if other != document:
                            break
                    other_first = document_starts[other]
                    other_end = document_starts[other + 1]
                    b_first = other_first + int(random_float() * (other_end - other_first))
                    b_start = starts[b_first]
                    # B ends after the first sentence that reaches target_length - a_length.
                    b_end = bisect_left(starts, b_start + target_length - a_length, b_first + 1, other_end)
                    b_length = starts[b_end] - b_start
                    chunk_end = a_end  # the chunk's unused sentences go back
                else:
                    is_random_next = 0
                    b_start = starts[a_end]
                    b_length = starts[chunk_end] - b_start
                excess = a_length + b_length - max_num_tokens
                if excess > 0:
                    # Google pops from the longer segment (B on ties) one token at a
                    # time, from the front or the back with probability 1/2 each.
                    if a_length > b_length:
                        a_cut = min(excess, a_length - b_length)
                        b_cut = 0
                    else:
                        a_cut = 0
                        b_cut = min(excess, b_length - a_length)
                    rest = excess - a_cut - b_cut
                    b_cut += (rest + 1) // 2
                    a_cut += rest // 2
                    a_front = getrandbits(a_cut).bit_count() if a_cut else 0
                    b_front = getrandbits(b_cut).bit_count() if b_cut else 0
                    a_start += a_front
                    a_length -= a_cut
                    b_start += b_front
                    b_length -= b_cut
                add((a_start, a_length, b_start, b_length, is_random_next))
                chunk_first = chunk_end
    table = np.frombuffer(spans, dtype=np.int64).reshape(-1, 5)
    return InstanceSpans(*(table[:, column].copy() for column in range(5)))


def assemble_inputs(tokens, spans, max_seq_length, cls_id, sep_id):
    """Builds `[CLS] A [SEP] B [SEP]` and its masks for a batch of instances.

    Args:
        tokens: int32 [num_tokens], the corpus.
        spans: `InstanceSpans` of the batch (A and B already fit max_seq_length - 3).
        max_seq_length: padded length S.
        cls_id, sep_id: ids of [CLS] and [SEP].

    Returns:
        dict of int32 [batch, S] `input_ids` (zero padded), uint8 [batch, S] 0/1
        `input_mask` and `segment_ids`, and bool [batch, S] `is_content` (True on A and
        B tokens, the positions that may be masked).
    """
    position = np.arange(max_seq_length)
    a_length = spans.a_length[:, None]
    b_first = a_length + 2  # position of B's first token
    last = b_first + spans.b_length[:, None]  # position of the final [SEP]
    in_b = position >= b_first
    # Where each position's token is in `tokens` (clipped: positions not in A or B are set below).
    source = np.where(in_b, spans.b_start[:, None] - b_first, spans.a_start[:, None] - 1)
    source += position
    input_ids = np.take(tokens, source, mode="clip")
    input_mask = position <= last
    is_content = (position < last) & (position != a_length + 1)
    is_content[:, 0] = False
    input_ids *= is_content
    rows = np.arange(len(spans))
    input_ids[:, 0] = cls_id
    input_ids[rows, a_length[:, 0] + 1] = sep_id
    input_ids[rows, last[:, 0]] = sep_id
    return {
        "input_ids": input_ids,
        "input_mask": input_mask.view(np.uint8),
        "segment_ids": (in_b & input_mask).view(np.uint8),
        "is_content": is_content,
    }


@dataclasses.dataclass
class MaskingVocab:
    """What masking needs to know about the vocabulary.

    Attributes:
        mask_id: id of [MASK].
        replacement_ids: int32 array of the ids a random replacement is drawn from
            (every vocabulary entry, as Google's `vocab_words`).
        is_subword: bool [max id + 1], True for "##" continuation pieces.
    """

    mask_id: int
    replacement_ids: np.ndarray
    is_subword: np.ndarray

    @classmethod
    def from_vocab(cls, vocab):
        """From an ordered {token: id} dict such as `FullTokenizer.vocab`."""
        size = max(vocab.values()) + 1
        is_subword = np.zeros(size, dtype=bool)
        for token, index in vocab.items():
            if token.startswith("##"):
                is_subword[index] = True
        return cls(
            mask_id=vocab["[MASK]"],
            replacement_ids=np.fromiter(vocab.values(), dtype=np.int32, count=len(vocab)),
            is_subword=is_subword,
        )


def mask_instances(input_ids, input_mask, is_content, masked_lm_prob, max_predictions_per_seq,
                   masking_vocab, rng, do_whole_word_mask=False):
    """Google's `create_masked_lm_predictions` for a batch of instances.

    Each instance predicts num_to_predict = min(max_predictions_per_seq,
    max(1, round(length * masked_lm_prob))) tokens, length counting [CLS] and [SEP],
    chosen uniformly among the content tokens ([CLS] and [SEP] are never masked). With
    whole-word masking, a word (a token and the "##" pieces after it) is masked whole,
    words are tried in random order and a word that would overshoot num_to_predict is
    skipped. Each chosen token becomes [MASK] with probability 0.8, stays itself with
    probability 0.1, and becomes a random vocabulary entry with probability 0.1.

    Args:
        input_ids: int32 [batch, S].
        input_mask: [batch, S], nonzero on the sequence.
        is_content: bool [batch, S], positions that may be masked (never position 0).
        masked_lm_prob: fraction of tokens to predict.
        max_predictions_per_seq: P, at most S.
        masking_vocab: a `MaskingVocab`.
        rng: a `numpy.random.Generator`.
        do_whole_word_mask: mask whole words.

    Returns:
        dict with int32 [batch, S] `input_ids` (masked), int32 [batch, P]
        `masked_lm_positions` (ascending) and `masked_lm_ids` (original ids), float32
        [batch, P] `masked_lm_weights` (1.0 on predictions, zeros padding the rest).
    """
    batch, seq_length = input_ids.shape
    length = np.count_nonzero(input_mask, axis=1)
    num_to_predict = np.minimum(max_predictions_per_seq, np.maximum(1, np.round(length * masked_lm_prob)))
    num_to_predict = np.minimum(num_to_predict.astype(np.int64), np.count_nonzero(is_content, axis=1))
    slot = np.arange(max_predictions_per_seq)
    if do_whole_word_mask:
        selected = _choose_whole_words(input_ids, is_content, num_to_predict, masking_vocab.is_subword, rng)
        count = np.count_nonzero(selected, axis=1)
        # Sorting puts the positions of the selected tokens first, in ascending order.
        positions = np.sort(np.where(selected, np.arange(seq_length), seq_length), axis=1)[:, :max_predictions_per_seq]
    else:
        # The num_to_predict content positions with the smallest random keys. A key holds
        # its position in its low bits, so no two are equal, and reads back as a position.
        position_bits = max(seq_length - 1, 1).bit_length()
        keys = rng.bit_generator.random_raw(-(-batch * seq_length // 2)).view(np.uint32)[:batch * seq_length]
        keys = keys.reshape(batch, seq_length) >> 1  # below 2**31: below every non-content key
        keys &= np.uint32((0xFFFFFFFF << position_bits) & 0xFFFFFFFF)
        keys |= np.arange(seq_length, dtype=np.uint32)
        keys[~is_content] = 0xFFFFFFFF
        smallest = np.sort(keys, axis=1)[:, :max_predictions_per_seq]
        count = num_to_predict
        positions = np.sort(np.where(slot < count[:, None], smallest & ((1 << position_bits) - 1), seq_length), axis=1)
    predicted = slot < count[:, None]
    positions = np.where(predicted, positions, 0).astype(np.int32)
    labels = np.take_along_axis(input_ids, positions, axis=1)
    draw = rng.random((batch, max_predictions_per_seq), dtype=np.float32)  # [MASK] below 0.8, kept below 0.9
    random_ids = masking_vocab.replacement_ids[
        rng.integers(0, len(masking_vocab.replacement_ids), (batch, max_predictions_per_seq))
    ]
    replacement = np.where(draw < 0.8, masking_vocab.mask_id, np.where(draw < 0.9, labels, random_ids))
    masked_ids = input_ids.copy()
    # Unused slots point at position 0 ([CLS], never predicted) and write its own id back.
    np.put_along_axis(masked_ids, positions, np.where(predicted, replacement, labels), axis=1)
    return {
        "input_ids": masked_ids,
        "masked_lm_positions": positions,
        "masked_lm_ids": np.where(predicted, labels, 0).astype(np.int32),
        "masked_lm_weights": predicted.astype(np.float32),
    }


def _choose_whole_words(input_ids, is_content, num_to_predict, is_subword, rng):
    """Google's whole-word candidate loop, vectorized over the batch.

    A word starts at a content token that is not a "##" piece (or at the first content
    token, as in Google's loop, where a "##" piece with no word before it starts one).
    Words are visited in random order; a word is taken when it fits in what is left
    of num_to_predict.

    Returns:
        bool [batch, S], the chosen positions.
    """
    batch, seq_length = input_ids.shape
    starts_word = is_content & ~is_subword[input_ids]
    first_content = np.argmax(is_content, axis=1)
    starts_word[np.arange(batch), first_content] |= is_content[np.arange(batch), first_content]
    word = np.cumsum(starts_word, axis=1) - 1  # word index of each content position
    num_words = starts_word.sum(axis=1)
    flat_word = (np.arange(batch)[:, None] * seq_length + np.maximum(word, 0))[is_content]
    word_size = np.bincount(flat_word, minlength=batch * seq_length).reshape(batch, seq_length)
    keys = rng.random((batch, seq_length))
    keys[np.arange(seq_length)[None, :] >= num_words[:, None]] = 2.0
    visit_order = np.argsort(keys, axis=1)
    size_in_order = np.take_along_axis(word_size, visit_order, axis=1)
    taken_in_order = np.zeros((batch, seq_length), dtype=bool)
    count = np.zeros(batch, dtype=np.int64)
    for step in range(int(num_words.max(initial=0))):
        size = size_in_order[:, step]
        take = (size > 0) & (count + size <= num_to_predict)
        taken_in_order[:, step] = take
        count += np.where(take, size, 0)
    word_taken = np.zeros((batch, seq_length), dtype=bool)
    np.put_along_axis(word_taken, visit_order, taken_in_order, axis=1)
    return is_content & np.take_along_axis(word_taken, np.maximum(word, 0), axis=1)


def instance_rng(random_seed, file_index, block_index):
    """The generator of `create_instance_spans` for one block of an input file."""
    return random.Random(_seed_sequence(random_seed, file_index, 0, block_index).generate_state(4, np.uint64).tobytes())


def shuffle_rng(random_seed, file_index):
    """The generator that shuffles all instances of an input file."""
    return np.random.default_rng(_seed_sequence(random_seed, file_index, 1))


def masking_rng(random_seed, file_index, chunk_index):
    """The generator that masks one chunk of an input file's shuffled instances."""
    return np.random.default_rng(_seed_sequence(random_seed, file_index, 2, chunk_index))


def _seed_sequence(random_seed, file_index, *purpose):
    """An independent stream for every (random_seed, file index, purpose)."""
    return np.random.SeedSequence([random_seed % (1 << 64), file_index], spawn_key=purpose)
