"""Inputs of the golden cases, shared by make_golden.py (the PyTorch side) and the tests (the TensorFlow side).

Pure Python and numpy: importing this module loads neither framework. The golden files keep
only the references' outputs; the inputs are made again here, from fixed seeds.
"""

import hashlib
import random
import zlib

import numpy as np

TINY_CONFIG = {
    "vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 64, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64, "type_vocab_size": 2,
    "initializer_range": 0.02,
}

TOKENIZER_EDGE_CASES = [
    "Héllo, WORLD! Ça va? naïve café",
    "Привет, мир! Съешь ещё этих мягких французских булок.",
    "中文字符和日本語のテキスト한국어",
    "emoji 😀👍🏽 inside wörds😀x",
    "control\x00chars\x07and\ufffdreplacement\u200bzero-width\ttab\nnewline\u00a0nbsp",
    "[CLS] special [SEP] strings [MASK] stay text",
    "x" * 199 + " " + "y" * 200 + " " + "z" * 201,
    "unaffable running dogs' 3.14159 e-mail@example.com $100 (a) [b] {c} <d> ~`^|\\",
    "Ǆemo İstanbul ß ﬁ ＡＢＣ ΣΑΣ",
    "",
    "   \t\n  ",
]

FEATURE_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Who was Jim Henson? ||| Jim Henson was a puppeteer.",
    "Naïve café owners in Zürich serve crème brûlée; Привет, 中文!",
    "word " * 200,  # longer than max_seq_length: truncated
]
FEATURE_MAX_SEQ_LENGTH = 64


def _random_multilingual_text(rng, length):
    alphabets = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "áéíóúàèçñüöäÅÉÎØ",
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГД",
        "的一是不了人我在有他这中大来上们",
        "ΣσςΑΒΓαβγΆάΈέ",
        "😀🎉👍🏽",
        ".,;:!?'\"()[]{}-_/\\@#$%^&*+=<>~`|¿¡«»—…",
        "\x00\x01\x7f\u200b\ufffd\u00ad",
        "      \t\n\u3000",
    ]
    return "".join(rng.choice(rng.choice(alphabets)) for _ in range(length))


def _random_english_like_text(rng, length):
    """Mostly printable ASCII with typographic punctuation (the tokenizer's fast paths), sometimes other text."""
    words = ["the", "The", "unaffable", "running", "dogs", "3.14", "e-mail", "don't", "x" * 201, "Naïve",
             "co-operate", "USA", "“quoted”", "it’s", "—", "…", "«»", "¿Qué?", "Σ", "ΣΑΣ", "中文"]
    separators = [" ", " ", " ", "  ", "\t", "\n", "\r", "\u00a0", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u3000"]
    parts = []
    for _ in range(length):
        parts.append(rng.choice(words) if rng.random() < 0.7 else
                     "".join(chr(rng.randint(0x21, 0x7E)) for _ in range(rng.randint(1, 12))))
        parts.append(rng.choice(separators) if rng.random() < 0.2 else " ")
    return "".join(parts)


def tokenizer_text_sets():
    """{set name: [text]}: edge cases and random multilingual text, then English-like text."""
    multilingual_rng, english_rng = random.Random(0), random.Random(1)
    return {
        "multilingual": TOKENIZER_EDGE_CASES + [
            _random_multilingual_text(multilingual_rng, multilingual_rng.randint(1, 300)) for _ in range(400)],
        "english_like": [_random_english_like_text(english_rng, english_rng.randint(0, 40)) for _ in range(600)],
    }


def texts_sha256(texts):
    return hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest()


def tiny_pretraining_batch(batch_size=2, seq_length=16, num_predictions=3, seed=0,
                           vocab_size=TINY_CONFIG["vocab_size"]):
    """A random pretraining batch of int32 arrays: each row has 8-16 real tokens, two segments."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(seq_length // 2, seq_length + 1, batch_size)
    mask = (np.arange(seq_length)[None] < lengths[:, None]).astype(np.int32)
    return {
        "input_ids": rng.integers(0, vocab_size, (batch_size, seq_length)).astype(np.int32) * mask,
        "input_mask": mask,
        "segment_ids": (np.arange(seq_length)[None] >= lengths[:, None] // 2).astype(np.int32) * mask,
        "masked_lm_positions": np.sort(rng.integers(1, seq_length // 2, (batch_size, num_predictions)),
                                       axis=1).astype(np.int32),
    }


def seeded_weights(shapes, scale=0.05):
    """{name: float32 array of `shape`}: N(0, scale) noise, plus 1 for LayerNorm scales.

    Each array is seeded by the CRC-32 of its name, so the values do not depend on the
    order or the set of the other names.
    """
    weights = {}
    for name, shape in shapes.items():
        noise = np.random.default_rng(zlib.crc32(name.encode("utf-8"))).normal(0.0, scale, shape)
        offset = 1.0 if name.endswith(("LayerNorm.weight", "LayerNorm.gamma")) else 0.0
        weights[name] = (noise + offset).astype(np.float32)
    return weights
