"""FullTokenizer against Google's pure-Python tokenizer, one pass over the same real text.

Google's algorithm is the port kept in `transformers` (`BasicTokenizer` + `WordpieceTokenizer`
from `tokenization_bert_legacy`, 200-character limit). Each tokenizer starts fresh (empty
caches) and tokenizes every non-empty line of the corpus files once, one `tokenize(line)`
call per line as Google's scripts do; the script checks that the outputs are identical and
prints wall and CPU seconds and the ratios. `--rounds` repeats the whole comparison with
fresh tokenizers, alternating the order, and the fastest of each counts.

    python -m benchmarks.tokenizer_benchmark --vocab_file VOCAB --corpus 'texts/*.txt'
"""

import argparse
import glob
import os
import sys
import time


from bert.text import tokenization


def read_lines(patterns):
    """Non-empty lines of every file the comma-separated globs match, in sorted order."""
    paths = sorted(path for pattern in patterns.split(",") for path in glob.glob(pattern))
    if not paths:
        sys.exit(f"--corpus={patterns}: no file matches")
    lines = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines += [line for line in f.read().splitlines() if line.strip()]
    return paths, lines


def google_tokenizer(vocab_file, do_lower_case):
    """Google's tokenize(text), from the pure-Python port in `transformers`."""
    from transformers.models.bert import tokenization_bert_legacy as legacy

    basic = legacy.BasicTokenizer(do_lower_case=do_lower_case, never_split=None)
    wordpiece = legacy.WordpieceTokenizer(vocab=legacy.load_vocab(vocab_file), unk_token="[UNK]",
                                          max_input_chars_per_word=200)
    return lambda text: [piece for token in basic.tokenize(text) for piece in wordpiece.tokenize(token)]


def timed_pass(tokenize, lines):
    """(tokens of every line, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    tokens = [tokenize(line) for line in lines]
    return tokens, time.perf_counter() - wall, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab_file", required=True)
    parser.add_argument("--corpus", required=True, help="comma-separated globs of UTF-8 text files")
    parser.add_argument("--cased", action="store_true", help="do_lower_case=False for both")
    parser.add_argument("--rounds", type=int, default=3, help="comparisons with fresh tokenizers (default: 3)")
    args = parser.parse_args()
    paths, lines = read_lines(args.corpus)
    times = {"google": [], "ours": []}
    for round_index in range(args.rounds):
        makers = {"google": lambda: google_tokenizer(args.vocab_file, not args.cased),
                  "ours": lambda: tokenization.FullTokenizer(args.vocab_file, not args.cased).tokenize}
        order = ("ours", "google") if round_index % 2 == 0 else ("google", "ours")
        outputs = {}
        for name in order:
            outputs[name], wall, cpu = timed_pass(makers[name](), lines)
            times[name].append((wall, cpu))
        if outputs["ours"] != outputs["google"]:
            sys.exit("outputs differ")
    google_wall, google_cpu = (min(t[i] for t in times["google"]) for i in (0, 1))
    ours_wall, ours_cpu = (min(t[i] for t in times["ours"]) for i in (0, 1))
    print(f"{len(paths)} file(s), {len(lines)} lines, {sum(map(len, lines)) / 1e6:.2f} M characters, "
          f"{sum(map(len, outputs['ours'])):,} tokens, identical; fastest of {args.rounds} rounds; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"Google pure Python      {google_wall:7.3f} s wall {google_cpu:7.3f} s CPU")
    print(f"FullTokenizer.tokenize  {ours_wall:7.3f} s wall {ours_cpu:7.3f} s CPU   "
          f"{google_wall / ours_wall:5.1f}x wall {google_cpu / ours_cpu:5.1f}x CPU")


if __name__ == "__main__":
    main()
