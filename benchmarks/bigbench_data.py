"""Real English text and human-written SQuAD questions from the `bigbench==1.0.0` sdist on PyPI.

The BIG-bench source distribution (358 MB) carries, among its task files:

- `squad_shifts/`: SQuAD v1.1-format JSON with human-written questions, each with 2 to 5
  answers: the SQuAD v1.1 dev set (`squaddev`, 48 Wikipedia articles, 10,565 questions,
  CC BY-SA 4.0) and SQuADShifts' `new_wiki` (7,936 questions on newer Wikipedia
  articles), `nyt`, `reddit` and `amazon` (CC BY 4.0);
- `paragraph_segmentation/task.json`: 9,000 Wikipedia articles in several languages, one
  sentence per line, of which 1,004 are English (about 1.46M words).

`fetch(cache_dir)` downloads the sdist with `pip download` (no dependencies, nothing
installed), keeps only those files (their SHA-256 checked) and deletes the archive.
BIG-bench asks that its files stay out of language-model training corpora: they are
fetched into the git-ignored `data/download/bigbench/`, never committed, and the
benchmarks use them only to fine-tune and score QA models and to pretrain throwaway
models for a parity measurement.

Some `answer_start` offsets do not point at their answer text (8 of new_wiki's answers,
15 of squaddev's, 947 of amazon's). `clean_answers` moves such an offset to the
occurrence of the text nearest to it, or drops the answer when the context lacks the
text; the official metric reads only the answer texts, so dev files keep theirs.

    python -m benchmarks.bigbench_data --work_dir=/tmp/real_qa --num_train_questions=1000 \\
        --num_dev_questions=500
"""

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tarfile

from bert.files import atomic_output

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIGBENCH_VERSION = "1.0.0"
DEFAULT_CACHE_DIR = os.path.join(REPO, "data", "download", "bigbench")
_TASKS = f"bigbench-{BIGBENCH_VERSION}/bigbench/benchmark_tasks"
MEMBERS = {  # file name in the cache -> (member of the sdist, SHA-256)
    "squaddev_v1.1.json": (f"{_TASKS}/squad_shifts/squaddev_v1.1.json",
                           "45089eff3cf52004b1dca6814cde5c57082fdb09872f18c79a5d944d45be523a"),
    "new_wiki_v1.0.json": (f"{_TASKS}/squad_shifts/new_wiki_v1.0.json",
                           "428104b87438d9059eb5df2883267cf9d30f6f4fcaed92e72107c8b913eaea40"),
    "nyt_v1.0.json": (f"{_TASKS}/squad_shifts/nyt_v1.0.json",
                      "a770cdc1b460e3bd256a9f95aae021ed6502768b1713be777f3dd8740a4a1965"),
    "reddit_v1.0.json": (f"{_TASKS}/squad_shifts/reddit_v1.0.json",
                         "db57c9269e4965fdb5dc045afb00e02f03668790ad6f66ab0354bf74b0fc63fe"),
    "amazon_reviews_v1.0.json": (f"{_TASKS}/squad_shifts/amazon_reviews_v1.0.json",
                                 "3d3b16b874aefef754d04c1cbd64457b3a6456aa2e946a6132b8254c17e34c4a"),
    "paragraph_segmentation.json": (f"{_TASKS}/paragraph_segmentation/task.json",
                                    "734b3a4213f1990c994951f8ff01545e392c4d46c43b21dcfbb684bb292eb524"),
}
SQUAD_SETS = {"squaddev": "squaddev_v1.1.json", "new_wiki": "new_wiki_v1.0.json", "nyt": "nyt_v1.0.json",
              "reddit": "reddit_v1.0.json", "amazon": "amazon_reviews_v1.0.json"}
# Share of these words among an article's words that marks it as English (German, French... articles score
# under 0.05, English ones 0.2 to 0.3).
_ENGLISH_MARKERS = frozenset(["the", "and", "of", "to", "is", "in", "was", "a", "that"])
_ENGLISH_SHARE = 0.15


def fetch(cache_dir=DEFAULT_CACHE_DIR):
    """{cache file name: path} for every file of `MEMBERS`, downloading the sdist once if one is missing.

    Raises:
      ValueError: pip could not download the sdist (the message ends with pip's last line), or
        a file is not the expected one (its SHA-256 differs).
    """
    paths = {name: os.path.join(cache_dir, name) for name in MEMBERS}
    if all(os.path.exists(path) for path in paths.values()):
        return paths
    os.makedirs(cache_dir, exist_ok=True)
    sdist = os.path.join(cache_dir, f"bigbench-{BIGBENCH_VERSION}.tar.gz")
    if not os.path.exists(sdist):
        print(f"Downloading bigbench=={BIGBENCH_VERSION}'s sdist (358 MB) into {cache_dir}", file=sys.stderr,
              flush=True)
        pip = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                              "--dest", cache_dir, f"bigbench=={BIGBENCH_VERSION}"], capture_output=True, text=True)
        if pip.returncode:
            said = [line for line in pip.stderr.splitlines() if line.startswith("ERROR")] or ["(nothing)"]
            raise ValueError(f"pip could not download bigbench=={BIGBENCH_VERSION} into {cache_dir}: {said[-1]}")
    with tarfile.open(sdist) as archive:
        for name, (member, expected) in MEMBERS.items():
            content = archive.extractfile(member).read()
            digest = hashlib.sha256(content).hexdigest()
            if digest != expected:
                raise ValueError(f"{sdist}: {member} has SHA-256 {digest}, expected {expected}")
            with atomic_output(paths[name], "wb") as output:
                output.write(content)
    os.remove(sdist)
    return paths


def english_articles(task_path):
    """The English articles of paragraph_segmentation's task.json: [[sentence, ...], ...] in file order."""
    with open(task_path, encoding="utf-8") as f:
        examples = json.load(f)["examples"]
    articles = []
    for example in examples:
        words = example["input"].lower().split()
        if words and sum(word in _ENGLISH_MARKERS for word in words) / len(words) >= _ENGLISH_SHARE:
            articles.append([line.strip() for line in example["input"].splitlines() if line.strip()])
    return articles


def write_pretraining_text(task_path, output_path, max_words):
    """Writes English articles, one sentence per line and a blank line after each article, in
    file order until `max_words` words; returns {"articles", "sentences", "words"}.

    That is create_pretraining_data.py's input format (documents separated by blank lines).
    """
    counts = {"articles": 0, "sentences": 0, "words": 0}
    with atomic_output(output_path) as output:
        for article in english_articles(task_path):
            if counts["words"] >= max_words:
                break
            output.write("\n".join(article) + "\n\n")
            counts["articles"] += 1
            counts["sentences"] += len(article)
            counts["words"] += sum(len(sentence.split()) for sentence in article)
    return counts


def clean_answers(paragraph):
    """`paragraph` with every answer's offset pointing at its text; returns (paragraph, moved, dropped).

    A wrong offset moves to the nearest occurrence of the answer text; an answer whose text
    the context lacks is dropped, and so is a question left without answers.
    """
    context = paragraph["context"]
    moved = dropped = 0
    questions = []
    for qa in paragraph["qas"]:
        answers = []
        for answer in qa["answers"]:
            text, start = answer["text"], answer["answer_start"]
            if context[start:start + len(text)] != text:
                found = [i for i in range(len(context)) if context.startswith(text, i)] if text else []
                if not found:
                    dropped += 1
                    continue
                start = min(found, key=lambda i: abs(i - answer["answer_start"]))
                moved += 1
            answers.append({"text": text, "answer_start": start})
        if answers:
            questions.append({**qa, "answers": answers})
    return {"context": context, "qas": questions}, moved, dropped


def sample_paragraphs(squad_path, num_questions, seed, first_answer_only=False):
    """Whole paragraphs drawn (seeded) from a SQuAD file until they hold `num_questions` questions or more.

    With `first_answer_only` each question keeps only its first (cleaned) answer, as SQuAD's
    training file has it and as run_squad.py and transformers' run_qa.py train on it.

    Returns SQuAD v1.1 JSON ({"version", "data": [{"title", "paragraphs"}]}) with articles in
    file order, plus {"questions", "paragraphs", "articles", "moved_offsets", "dropped_answers"}.
    Raises ValueError if the file holds fewer questions than asked for.
    """
    with open(squad_path, encoding="utf-8") as f:
        articles = json.load(f)["data"]
    slots = [(a, p) for a, article in enumerate(articles) for p in range(len(article["paragraphs"]))]
    random.Random(seed).shuffle(slots)
    chosen, total = [], 0
    for slot in slots:
        if total >= num_questions:
            break
        chosen.append(slot)
        total += len(articles[slot[0]]["paragraphs"][slot[1]]["qas"])
    if total < num_questions:
        raise ValueError(f"{squad_path}: {total} questions in all, fewer than the {num_questions} asked for")
    stats = {"questions": 0, "paragraphs": len(chosen), "articles": 0, "moved_offsets": 0, "dropped_answers": 0}
    data = []
    for a, article in enumerate(articles):
        paragraphs = []
        for p in sorted(p for chosen_a, p in chosen if chosen_a == a):
            paragraph, moved, dropped = clean_answers(article["paragraphs"][p])
            if first_answer_only:
                paragraph["qas"] = [{**qa, "answers": qa["answers"][:1]} for qa in paragraph["qas"]]
            stats["moved_offsets"] += moved
            stats["dropped_answers"] += dropped
            stats["questions"] += len(paragraph["qas"])
            paragraphs.append(paragraph)
        if paragraphs:
            data.append({"title": article["title"], "paragraphs": paragraphs})
    stats["articles"] = len(data)
    return {"version": "1.1", "data": data}, stats


def build_squad_split(work_dir, train_set, num_train_questions, dev_set, num_dev_questions, seed,
                      cache_dir=DEFAULT_CACHE_DIR):
    """Writes `<work_dir>/train.json` and `dev.json`; returns ({"train": path, "dev": path}, summary).

    Train and dev come from different sets (e.g. SQuADShifts new_wiki and the SQuAD v1.1 dev set),
    so no paragraph is in both. Training questions keep their first answer; dev questions all of
    theirs (the official metric takes the best over them). Raises ValueError for an unknown set name.
    """
    for name in (train_set, dev_set):
        if name not in SQUAD_SETS:
            raise ValueError(f"unknown SQuAD set {name!r}; choose from {', '.join(SQUAD_SETS)}")
    if train_set == dev_set:
        raise ValueError(f"train and dev both from {train_set!r}: choose two different sets")
    paths = fetch(cache_dir)
    os.makedirs(work_dir, exist_ok=True)
    outputs, summary = {}, {"seed": seed, "source": f"bigbench=={BIGBENCH_VERSION} sdist, squad_shifts/"}
    for split, name, count in (("train", train_set, num_train_questions), ("dev", dev_set, num_dev_questions)):
        squad, stats = sample_paragraphs(paths[SQUAD_SETS[name]], count, seed, first_answer_only=split == "train")
        outputs[split] = os.path.join(work_dir, f"{split}.json")
        with atomic_output(outputs[split]) as output:
            json.dump(squad, output, ensure_ascii=False)
        summary[split] = {"set": name, **stats}
    return outputs, summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", required=True, help="train.json, dev.json (and pretraining.txt) go here")
    parser.add_argument("--train_set", default="new_wiki", choices=sorted(SQUAD_SETS))
    parser.add_argument("--dev_set", default="squaddev", choices=sorted(SQUAD_SETS))
    parser.add_argument("--num_train_questions", type=int, default=1000)
    parser.add_argument("--num_dev_questions", type=int, default=500)
    parser.add_argument("--pretraining_words", type=int, default=0,
                        help="also write <work_dir>/pretraining.txt with this many words of English Wikipedia")
    parser.add_argument("--seed", type=int, default=12345, help="which paragraphs")
    parser.add_argument("--cache_dir", default=DEFAULT_CACHE_DIR,
                        help="the sdist's files are kept here (default: data/download/bigbench, git-ignored)")
    args = parser.parse_args(argv)
    try:
        _, summary = build_squad_split(args.work_dir, args.train_set, args.num_train_questions, args.dev_set,
                                       args.num_dev_questions, args.seed, args.cache_dir)
        if args.pretraining_words:
            summary["pretraining"] = write_pretraining_text(
                fetch(args.cache_dir)["paragraph_segmentation.json"], os.path.join(args.work_dir, "pretraining.txt"),
                args.pretraining_words)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
