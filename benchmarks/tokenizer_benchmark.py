"""FullTokenizer (Rust backend) against Google's pure-Python tokenizer, on the same text.

Google's algorithm is the port kept in `transformers` (`BasicTokenizer` + `WordpieceTokenizer`
from `tokenization_bert_legacy`, 200-character limit). Both tokenize every line of the
corpus `--repeats` times; the script checks the outputs agree and prints lines/s and the ratio.
    python benchmarks/tokenizer_benchmark.py --vocab_file VOCAB --corpus data/sample/sample_corpus.txt
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tokenization  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab_file", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    from transformers.models.bert import tokenization_bert_legacy as legacy

    with open(args.corpus, encoding="utf-8") as f:
        lines = [line for line in f.read().splitlines() if line.strip()] * args.repeats
    ours = tokenization.FullTokenizer(args.vocab_file, do_lower_case=True)
    basic = legacy.BasicTokenizer(do_lower_case=True, never_split=None)
    wordpiece = legacy.WordpieceTokenizer(vocab=legacy.load_vocab(args.vocab_file), unk_token="[UNK]",
                                          max_input_chars_per_word=200)

    start = time.perf_counter()
    ours_tokens = [ours.tokenize(line) for line in lines]
    ours_seconds = time.perf_counter() - start
    start = time.perf_counter()
    batch_tokens = [encoding.tokens for encoding in ours.encode_batch(lines)]
    batch_seconds = time.perf_counter() - start
    start = time.perf_counter()
    google_tokens = [[p for t in basic.tokenize(line) for p in wordpiece.tokenize(t)] for line in lines]
    google_seconds = time.perf_counter() - start
    assert ours_tokens == google_tokens == batch_tokens, "outputs differ"
    print(f"{len(lines)} lines, {sum(map(len, lines)) / 1e6:.2f} M characters, identical tokens")
    print(f"Google pure Python        {google_seconds:7.2f} s")
    print(f"FullTokenizer.tokenize    {ours_seconds:7.2f} s  {google_seconds / ours_seconds:5.1f}x")
    print(f"FullTokenizer.encode_batch{batch_seconds:7.2f} s  {google_seconds / batch_seconds:5.1f}x")


if __name__ == "__main__":
    main()
