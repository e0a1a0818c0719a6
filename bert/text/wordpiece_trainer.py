"""Trains a BERT WordPiece vocabulary with the `tokenizers` library and writes vocab.txt.

The text is normalized and pre-tokenized exactly as `tokenization.FullTokenizer` does
(BERT normalizer: control characters removed, CJK characters split off, lower-casing
and accent stripping when `do_lower_case`; BERT pre-tokenizer: whitespace and
punctuation splits), so every trained piece is reachable by FullTokenizer. The vocab
starts with [PAD] [UNK] [CLS] [SEP] [MASK] (ids 0 to 4), then every character seen,
then the learned pieces; continuation pieces carry the "##" prefix.

Example:
    >>> tokens = train_wordpiece_vocab(["corpus.txt"], vocab_size=30522)
    >>> write_vocab(tokens, "vocab.txt")
"""

import os

import tokenizers
from tokenizers import models, pre_tokenizers, trainers

from bert import files
from bert.errors import InputError
from bert.text.tokenization import bert_normalizer

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def train_wordpiece_vocab(files, vocab_size=30522, do_lower_case=True, min_frequency=2):
    """Learns WordPiece tokens from text files.

    Args:
        files: paths of UTF-8 text files.
        vocab_size: upper bound on the vocabulary size (the special tokens and the
            alphabet are always kept, even beyond it).
        do_lower_case: lower-case and strip accents, as for an uncased model.
        min_frequency: a merge must occur at least this often.

    Returns:
        the tokens, in id order.

    Raises:
        InputError: a file is missing, empty or not UTF-8, or vocab_size is too small.
    """
    if vocab_size <= len(SPECIAL_TOKENS):
        raise InputError(f"--vocab_size={vocab_size}: must be larger than the {len(SPECIAL_TOKENS)} special tokens")
    for path in files:
        try:
            if os.path.getsize(path) == 0:
                raise InputError(f"{path}: input file is empty")
        except OSError as error:
            raise InputError(f"{path}: cannot read input file ({error.strerror})") from None
    tokenizer = tokenizers.Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##"))
    tokenizer.normalizer = bert_normalizer(do_lower_case)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        continuing_subword_prefix="##",
        show_progress=False,
    )
    try:
        tokenizer.train([os.fspath(path) for path in files], trainer)
    except Exception as error:  # the Rust side raises a bare Exception without the file name
        raise InputError(_explain_training_error(files, error)) from None
    vocab = tokenizer.get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    # A token that a line-based vocab file cannot hold (never expected) is dropped.
    return [token for token in tokens if token and token == token.strip() and len(token.splitlines()) == 1]


def _explain_training_error(files, error):
    for path in files:
        with open(path, "rb") as reader:
            data = reader.read()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as decode_error:
            line = data.count(b"\n", 0, decode_error.start) + 1
            return f"{path}: invalid UTF-8 at byte offset {decode_error.start} (line {line})"
    return f"training the WordPiece vocabulary failed: {error}"


def write_vocab(tokens, path):
    """Writes one token per line to `path` atomically (a temporary file beside it, then rename).

    Raises:
        InputError: the file cannot be written.
    """
    try:
        with files.atomic_output(path, newline="\n") as writer:
            writer.write("".join(token + "\n" for token in tokens))
    except OSError as error:
        raise InputError(f"{path}: cannot write vocab file ({error.strerror})") from None
