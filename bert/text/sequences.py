"""Texts and text pairs -> BERT's fixed-length inputs, `[CLS] A [SEP] (B [SEP])`, as Google builds them.

A pair longer than the length is cut from the end of its longer text, one token at a
time (Google's `_truncate_seq_pair`); a single text keeps its first tokens.

Example:
    >>> tokens, arrays = encode_texts(tokenizer, [("Who was Jim Henson?", "A puppeteer."), ("Hi", None)], 128)
    >>> arrays["input_ids"].shape, tokens[1]
    ((2, 128), ['[CLS]', 'hi', '[SEP]'])
"""

import numpy as np

INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")


def truncate_pair(tokens_a, tokens_b, max_length):
    """Drops tokens from the end of the longer list (of `tokens_b` on a tie) until both fit in `max_length`."""
    while len(tokens_a) + len(tokens_b) > max_length:
        (tokens_a if len(tokens_a) > len(tokens_b) else tokens_b).pop()


def encode_texts(tokenizer, pairs, max_seq_length):
    """The tokens of each (text_a, text_b or None) and int32 `INPUT_NAMES` arrays [N, max_seq_length].

    Args:
        tokenizer: a `tokenization.FullTokenizer`.
        pairs: (text_a, text_b) per example; text_b None for a single text.
        max_seq_length: tokens per row after WordPiece, [CLS] and [SEP] included; zero-padded.

    Returns:
        (tokens, arrays): each example's token strings, [CLS] and [SEP] included; and
        `input_ids`, `input_mask` (1 = real token), `segment_ids` (1 for text_b's tokens).
    """
    encoded_a = tokenizer.encode_batch([a for a, _ in pairs])
    encoded_b = tokenizer.encode_batch([b or "" for _, b in pairs])
    all_tokens = []
    arrays = {name: np.zeros([len(pairs), max_seq_length], np.int32) for name in INPUT_NAMES}
    for i, ((_, text_b), a, b) in enumerate(zip(pairs, encoded_a, encoded_b)):
        tokens_a, tokens_b = list(a.tokens), list(b.tokens) if text_b is not None else []
        if text_b is not None:
            truncate_pair(tokens_a, tokens_b, max_seq_length - 3)
        else:
            tokens_a = tokens_a[: max_seq_length - 2]
        tokens = ["[CLS]"] + tokens_a + ["[SEP]"] + (tokens_b + ["[SEP]"] if text_b is not None else [])
        arrays["input_ids"][i, : len(tokens)] = tokenizer.convert_tokens_to_ids(tokens)
        arrays["input_mask"][i, : len(tokens)] = 1
        arrays["segment_ids"][i, len(tokens_a) + 2: len(tokens)] = 1
        all_tokens.append(tokens)
    return all_tokens, arrays
