"""Documents -> sentence-pair instances -> masked-LM inputs, as Google's create_pretraining_data.py.

The algorithm is Google's, step for step; only the bookkeeping differs so that a large
corpus fits in memory and runs fast:

* A corpus is one flat int32 array of WordPiece ids plus the token offset of every
  sentence and the sentence offset of every document (`Corpus`).
* An instance is first only five numbers: the token spans of its segments A and B
  after truncation, and its label (`create_instance_spans`, a Python loop over
  sentences that makes Google's random choices: target length, A/B split, random or
  actual next, random document, truncation). All dupes of a shard cost 40 bytes per
  instance.
* Batches of spans are then turned into id matrices (`assemble_inputs`) and masked
  (`mask_instances`) with numpy, many instances at once.

Where Google draws a sequence of coin flips, the same distribution is drawn in one go:
truncating one token at a time from a random end removes a Binomial(n, 1/2) number of
tokens from the front; shuffling the candidate positions and taking the first k picks a
uniformly random k-subset. Google also shuffles its document list before the dupe
loop; that only reorders instances, which are shuffled before writing anyway, so it is
skipped.

Example:
    >>> corpus = read_corpus("wiki_00.txt", tokenizer)
    >>> spans = create_instance_spans(corpus, max_seq_length=128, short_seq_prob=0.1,
    ...                               dupe_factor=5, rng=random.Random(0))
    >>> inputs = assemble_inputs(corpus.tokens, spans.take(range(32)), 128, cls_id, sep_id)
"""

import array
import dataclasses
import itertools
import random
import re

import numpy as np

from errors import InputError

READ_BLOCK_BYTES = 1 << 22


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
    """Token ids of many lines, tokenizing each distinct word only once.

    Google's tokenizer works on each whitespace-separated word of the cleaned text
    separately, so a line's ids are the concatenation of its words' ids. Words are
    split with `str.split`, which also splits at a few control characters that
    Google's cleaning deletes instead (joining their neighbours); a line holding one
    of those is tokenized whole. Real text repeats its words (Zipf's law), so most
    words come from the cache; when it holds `max_words` words it starts afresh.

    Args:
        tokenizer: a `tokenization.FullTokenizer`.
        max_words: cache size bound.
    """

    _SPLIT_BUT_DELETED = re.compile("[\x0b\x0c\x1c-\x1f\x85]")

    def __init__(self, tokenizer, max_words=1 << 18):
        self.tokenizer = tokenizer
        self.max_words = max_words
        self._clear()

    def _clear(self):
        self._index = {}  # word -> its number; word n's ids are _pool[_starts[n]:_starts[n] + _lengths[n]]
        self._pool = array.array("i")
        self._starts = array.array("q")
        self._lengths = array.array("q")

    def token_ids(self, lines):
        """Tokenizes lines (stripped of surrounding whitespace).

        Returns:
            (tokens, lengths): int32 [total tokens], all lines' ids in order, and
            int64 [len(lines)], each line's number of tokens.
        """
        if self._SPLIT_BUT_DELETED.search("\n".join(lines)):
            parts = [[line] if self._SPLIT_BUT_DELETED.search(line) else line.split() for line in lines]
        else:
            parts = [line.split() for line in lines]
        words = list(itertools.chain.from_iterable(parts))
        words_per_line = list(map(len, parts))
        missing = set(words).difference(self._index)
        if len(self._index) + len(missing) > self.max_words:
            self._clear()
            missing = set(words)
        missing = list(missing)
        for word, ids in zip(missing, self.tokenizer.batch_token_ids(missing)):
            self._index[word] = len(self._lengths)
            self._starts.append(len(self._pool))
            self._lengths.append(len(ids))
            self._pool.extend(ids)
        word_numbers = np.fromiter(map(self._index.__getitem__, words), np.int64, len(words))
        starts = np.frombuffer(self._starts, dtype=np.int64)[word_numbers]
        word_lengths = np.frombuffer(self._lengths, dtype=np.int64)[word_numbers]
        tokens_before_word = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum(word_lengths, out=tokens_before_word[1:])
        # Token t of the output is _pool[starts[w] + (t - tokens_before_word[w])] for its word w.
        source = np.repeat(starts - tokens_before_word[:-1], word_lengths) + np.arange(tokens_before_word[-1])
        tokens = np.frombuffer(self._pool, dtype=np.int32)[source] if len(source) else np.zeros(0, np.int32)
        words_before_line = np.zeros(len(lines) + 1, dtype=np.int64)
        np.cumsum(words_per_line, out=words_before_line[1:])
        return tokens, np.diff(tokens_before_word[words_before_line])


def read_corpus(path, tokenizer, block_bytes=READ_BLOCK_BYTES, word_cache=None):
    """Reads and tokenizes a text file: one sentence per line, blank lines between documents.

    As Google's script: each line is stripped of surrounding whitespace, a blank line
    ends the current document, a line that tokenizes to nothing is dropped, and empty
    documents are dropped. Only "\\n" separates lines. The file is read and tokenized
    in blocks of about `block_bytes`, so memory holds one block of text at a time.

    Args:
        path: the text file.
        tokenizer: a `tokenization.FullTokenizer`.
        block_bytes: read size.
        word_cache: a `WordCache` to reuse across files (default: a new one).

    Raises:
        InputError: the file is missing, empty, not UTF-8 (naming the byte offset and
            line), or has no text.
    """
    word_cache = word_cache or WordCache(tokenizer)
    token_blocks = []
    sentence_lengths = array.array("q")
    document_starts = array.array("q")
    in_document = False
    try:
        reader = open(path, "rb")
    except OSError as error:
        raise InputError(f"{path}: cannot read input file ({error.strerror})") from None
    with reader:
        block_offset = 0
        line_number = 1
        pending = b""
        while True:
            data = reader.read(block_bytes)
            block = pending + data
            if not block:
                break
            if data:
                cut = block.rfind(b"\n") + 1
                if cut == 0:  # a line longer than a block: read on
                    pending = block
                    continue
                block, pending = block[:cut], block[cut:]
            else:
                pending = b""
            try:
                text = block.decode("utf-8")
            except UnicodeDecodeError as error:
                bad_line = line_number + block.count(b"\n", 0, error.start)
                raise InputError(
                    f"{path}: invalid UTF-8 at byte offset {block_offset + error.start} (line {bad_line})"
                ) from None
            block_offset += len(block)
            line_number += block.count(b"\n")
            lines = [line.strip() for line in text.split("\n")]
            if text.endswith("\n"):
                lines.pop()
            texts = [line for line in lines if line]
            tokens, lengths = word_cache.token_ids(texts)
            lengths = iter(lengths.tolist())
            for line in lines:
                if not line:
                    in_document = False
                    continue
                length = next(lengths)
                if not length:
                    continue
                if not in_document:
                    document_starts.append(len(sentence_lengths))
                    in_document = True
                sentence_lengths.append(length)
            token_blocks.append(tokens)
    if block_offset == 0:
        raise InputError(f"{path}: input file is empty")
    if not sentence_lengths:
        raise InputError(f"{path}: input file has no text (only blank lines)")
    sentence_starts = np.zeros(len(sentence_lengths) + 1, dtype=np.int64)
    np.cumsum(np.frombuffer(sentence_lengths, dtype=np.int64), out=sentence_starts[1:])
    document_starts.append(len(sentence_lengths))
    return Corpus(
        tokens=np.concatenate(token_blocks),
        sentence_starts=sentence_starts,
        document_starts=np.frombuffer(document_starts, dtype=np.int64).copy(),
    )


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

    def take(self, indices):
        return InstanceSpans(*(field[indices] for field in dataclasses.astuple(self)))


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
    # rng.randint costs ~0.4 us in Python; a + int(random() * n) is uniform on a..a+n-1 up to 2**-53.
    for _ in range(dupe_factor):
        for document in range(num_documents):
            first_sentence = document_starts[document]
            end_sentence = document_starts[document + 1]
            target_length = max_num_tokens
            if random_float() < short_seq_prob:
                target_length = 2 + int(random_float() * (max_num_tokens - 1))
            chunk_first = first_sentence
            i = first_sentence
            while i < end_sentence:
                if i == end_sentence - 1 or starts[i + 1] - starts[chunk_first] >= target_length:
                    chunk_size = i - chunk_first + 1
                    a_end = chunk_first + (1 + int(random_float() * (chunk_size - 1)) if chunk_size >= 2 else 1)
                    a_start = starts[chunk_first]
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
                        b_end = b_first + 1
                        target_b_length = target_length - a_length
                        while b_end < other_end and starts[b_end] - b_start < target_b_length:
                            b_end += 1
                        b_length = starts[b_end] - b_start
                        i = a_end - 1  # the chunk's unused sentences go back
                    else:
                        is_random_next = 0
                        b_start = starts[a_end]
                        b_length = starts[i + 1] - b_start
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
                    chunk_first = i + 1
                i += 1
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
        dict of int32 [batch, S] arrays `input_ids`, `input_mask`, `segment_ids`
        (zero padded) and bool [batch, S] `is_content` (True on A and B tokens, the
        positions that may be masked).
    """
    position = np.arange(max_seq_length, dtype=np.int32)
    a_length = spans.a_length.astype(np.int32)[:, None]
    b_first = a_length + 2  # position of B's first token
    last = b_first + spans.b_length.astype(np.int32)[:, None]  # position of the final [SEP]
    in_a = (position >= 1) & (position <= a_length)
    in_b = (position >= b_first) & (position < last)
    is_content = in_a | in_b
    source = np.where(in_a, spans.a_start[:, None] - 1, spans.b_start[:, None] - b_first) + position
    source[~is_content] = 0
    input_ids = tokens[source]
    input_ids[~is_content] = 0
    rows = np.arange(len(spans))
    input_ids[:, 0] = cls_id
    input_ids[rows, a_length[:, 0] + 1] = sep_id
    input_ids[rows, last[:, 0]] = sep_id
    input_mask = position <= last
    return {
        "input_ids": input_ids,
        "input_mask": input_mask.astype(np.int32),
        "segment_ids": ((position >= b_first) & input_mask).astype(np.int32),
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
        input_ids, input_mask: int32 [batch, S].
        is_content: bool [batch, S], positions that may be masked.
        masked_lm_prob: fraction of tokens to predict.
        max_predictions_per_seq: P.
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
    if do_whole_word_mask:
        selected = _choose_whole_words(input_ids, is_content, num_to_predict, masking_vocab.is_subword, rng)
    else:
        # The num_to_predict content positions with the smallest random keys.
        keys = rng.random((batch, seq_length))
        keys[~is_content] = 2.0
        threshold = np.sort(keys, axis=1)[np.arange(batch), num_to_predict - 1]
        selected = keys <= threshold[:, None]
    slot = np.cumsum(selected, axis=1, dtype=np.int32) - 1  # prediction index of each selected position
    selected &= slot < num_to_predict[:, None]  # (a tie of two float64 keys would select one more)

    rows, positions = np.nonzero(selected)  # row-major: positions ascend within a row
    slot = slot[rows, positions]
    labels = input_ids[rows, positions]
    draw = rng.random(len(rows))
    keep_draw = rng.random(len(rows))
    random_ids = masking_vocab.replacement_ids[rng.integers(0, len(masking_vocab.replacement_ids), len(rows))]
    replacement = np.where(draw < 0.8, masking_vocab.mask_id, np.where(keep_draw < 0.5, labels, random_ids))
    masked_ids = input_ids.copy()
    masked_ids[rows, positions] = replacement

    masked_lm_positions = np.zeros((batch, max_predictions_per_seq), dtype=np.int32)
    masked_lm_ids = np.zeros((batch, max_predictions_per_seq), dtype=np.int32)
    masked_lm_weights = np.zeros((batch, max_predictions_per_seq), dtype=np.float32)
    masked_lm_positions[rows, slot] = positions
    masked_lm_ids[rows, slot] = labels
    masked_lm_weights[rows, slot] = 1.0
    return {
        "input_ids": masked_ids,
        "masked_lm_positions": masked_lm_positions,
        "masked_lm_ids": masked_lm_ids,
        "masked_lm_weights": masked_lm_weights,
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


def shard_rngs(random_seed, file_index):
    """The two random generators of one input file, seeded from (random_seed, file index).

    Returns:
        (random.Random for the instance loop, numpy Generator for shuffling and masking).
    """
    sequence = np.random.SeedSequence([random_seed % (1 << 64), file_index])
    python_sequence, numpy_sequence = sequence.spawn(2)
    python_seed = int.from_bytes(python_sequence.generate_state(4, np.uint64).tobytes(), "little")
    return random.Random(python_seed), np.random.default_rng(numpy_sequence)
