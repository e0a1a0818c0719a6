"""create_pretraining_data.py against Google's original: marginal throughput, peak memory, NSP rate.

One "copy" is --corpus repeated to about --copy_kb KB. Each tool runs on one input file
holding --small_copies copies and on one holding --large_copies copies, at the same
flags (ours with its default --num_workers, one per usable CPU, unless --num_workers is
given). The marginal time per copy, (t_large - t_small) / (large - small), leaves out
start-up (Python, TensorFlow, vocab, worker processes) and measures the work per unit of
text. Each measurement is the fastest of --repeats runs (other jobs on the machine only
ever slow a run down). Peak memory is the largest resident set of the whole process
tree, sampled from /proc every 20 ms.

--vary_copies makes every copy different (sentences shuffled within documents, some
words altered), so that no tool can profit from text repeated verbatim.
--memory_mb N also writes an N MB corpus (one file, varied copies) and reports our
time and peak memory on it.

Google's script is not part of this repository; pass its path. It is TF1 code: with
TF 2.x replace `import tensorflow as tf` by `import tensorflow.compat.v1 as tf` in its
create_pretraining_data.py and tokenization.py (see benchmarks/README.md).

Run:
    python -m benchmarks.create_pretraining_data_benchmark --vocab_file=vocab.txt \\
        --google_script=/tmp/google_bert/create_pretraining_data.py
"""

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_documents(path):
    documents = [[]]
    with open(path, encoding="utf-8") as reader:
        for line in reader:
            line = line.strip()
            if line:
                documents[-1].append(line)
            elif documents[-1]:
                documents.append([])
    return [document for document in documents if document]


def render(documents):
    return "\n\n".join("\n".join(document) for document in documents) + "\n"


def varied(documents, rng, tag):
    """The documents with sentences shuffled inside each and about 1 word in 20 altered."""
    out = []
    for document in documents:
        sentences = document[:]
        rng.shuffle(sentences)
        new = []
        for sentence in sentences:
            words = sentence.split()
            for index in range(len(words)):
                if rng.random() < 0.05:
                    words[index] = words[index] + tag + str(rng.randint(0, 999))
            new.append(" ".join(words))
        out.append(new)
    return out


def write_copies(documents, path, num_copies, copy_bytes, vary, seed=0):
    """Writes num_copies copies of the documents, each about copy_bytes, into one file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = random.Random(seed)
    base = render(documents)
    repeats = max(1, round(copy_bytes / len(base.encode("utf-8"))))
    with open(path, "w", encoding="utf-8") as writer:
        for copy in range(num_copies):
            for r in range(repeats):
                writer.write(render(varied(documents, rng, f"x{copy}r{r}")) if vary else base)
                writer.write("\n")
    return path


def tree_rss_bytes(root_pid):
    """Resident memory of a process and all its descendants (Linux /proc)."""
    parents = {}
    rss_pages = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as reader:
                fields = reader.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        rss_pages[int(entry)] = int(fields[21])
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss_pages.get(pid, 0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total * os.sysconf("SC_PAGE_SIZE")


def run_measured(command, log_path):
    """Runs a command; returns (wall seconds, CPU seconds, peak RSS of its process tree in bytes).

    CPU seconds (user + system, all descendants) are less disturbed than wall time when
    other jobs share the machine.
    """
    peak = [0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log_path, "w") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss_bytes(process.pid))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        returncode = process.wait()
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if returncode != 0:
        with open(log_path) as reader:
            tail = reader.read()[-2000:]
        raise SystemExit(f"command failed ({returncode}): {' '.join(command)}\n{tail}")
    return seconds, cpu_seconds, peak[0]


def flags_for(args):
    return [f"--vocab_file={args.vocab_file}", f"--dupe_factor={args.dupe_factor}",
            f"--max_seq_length={args.max_seq_length}", f"--max_predictions_per_seq={args.max_predictions_per_seq}",
            f"--random_seed={args.random_seed}"]


def run_ours(path, output_file, args, log_path):
    command = [sys.executable, os.path.join(REPO_ROOT, "create_pretraining_data.py"), f"--input_file={path}",
               f"--output_file={output_file}", *flags_for(args)]
    if args.num_workers:
        command.append(f"--num_workers={args.num_workers}")
    return run_measured(command, log_path)


def run_google(path, output_file, args, log_path):
    command = [sys.executable, args.google_script, f"--input_file={path}", f"--output_file={output_file}",
               *flags_for(args)]
    return run_measured(command, log_path)


def label_stats(files, max_seq_length, max_predictions_per_seq):
    """Instances, NSP random rate, mean length, predictions per instance, from TFRecord files."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from bert.pretraining import input_pipeline as pretraining_input

    spec = pretraining_input.feature_spec(max_seq_length, max_predictions_per_seq)
    labels, lengths, predictions = [], [], []
    for batch in tf.data.TFRecordDataset(files).batch(4096):
        parsed = tf.io.parse_example(batch, spec)
        labels.append(parsed["next_sentence_labels"].numpy()[:, 0])
        lengths.append(parsed["input_mask"].numpy().sum(axis=1))
        predictions.append(parsed["masked_lm_weights"].numpy().sum(axis=1))
    labels, lengths, predictions = map(np.concatenate, (labels, lengths, predictions))
    return {"instances": len(labels), "nsp_random": labels.mean(), "mean_length": lengths.mean(),
            "predictions": predictions.mean()}


def mb(num_bytes):
    return num_bytes / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab_file", required=True)
    parser.add_argument("--google_script", help="path of Google's create_pretraining_data.py (TF-2 shimmed)")
    parser.add_argument("--corpus", default=os.path.join(REPO_ROOT, "data", "sample", "sample_corpus.txt"))
    parser.add_argument("--copy_kb", type=float, default=360)
    parser.add_argument("--small_copies", type=int, default=2)
    parser.add_argument("--large_copies", type=int, default=6)
    parser.add_argument("--vary_copies", action="store_true")
    parser.add_argument("--num_workers", type=int, default=None, help="ours; default: the script's default")
    parser.add_argument("--dupe_factor", type=int, default=5)
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--max_predictions_per_seq", type=int, default=20)
    parser.add_argument("--random_seed", type=int, default=12345)
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement; the fastest counts")
    parser.add_argument("--memory_mb", type=float, default=0, help="also measure ours on a corpus of this size")
    parser.add_argument("--work_dir", default=None)
    args = parser.parse_args()

    work_dir = args.work_dir or tempfile.mkdtemp(prefix="cpd_benchmark_")
    documents = read_documents(args.corpus)
    print(f"corpus {args.corpus}: {len(documents)} documents; work dir {work_dir}")
    results = {}
    tools = [("ours", run_ours)] + ([("google", run_google)] if args.google_script else [])
    inputs = {}
    for copies in (args.small_copies, args.large_copies):
        inputs[copies] = write_copies(documents, os.path.join(work_dir, f"text_{copies}.txt"), copies,
                                      args.copy_kb * 1000, args.vary_copies)
    runs = {}
    for _ in range(args.repeats):  # interleaved, so a busy spell on the machine hits both tools
        for copies, path in inputs.items():
            for name, runner in tools:
                output = os.path.join(work_dir, f"{name}_{copies}.tfrecord")
                runs.setdefault((name, copies), []).append(
                    runner(path, output, args, os.path.join(work_dir, f"{name}_{copies}.log")))
    for copies, path in inputs.items():
        text_bytes = os.path.getsize(path)
        for name, _ in tools:
            measured = runs[name, copies]
            seconds, cpu, peak = (min(run[0] for run in measured), min(run[1] for run in measured),
                                  max(run[2] for run in measured))
            stats = label_stats([os.path.join(work_dir, f"{name}_{copies}.tfrecord")], args.max_seq_length,
                                args.max_predictions_per_seq)
            results[name, copies] = (seconds, cpu, peak, stats)
            print(f"{name:6s} {copies} copies ({mb(text_bytes):.2f} MB): {seconds:7.2f} s wall, {cpu:7.2f} s CPU, "
                  f"peak RSS {mb(peak):6.1f} MB, {stats['instances']:,} instances, "
                  f"NSP random {stats['nsp_random']:.4f}, mean length {stats['mean_length']:.1f}, "
                  f"predictions/instance {stats['predictions']:.2f}", flush=True)

    extra = args.large_copies - args.small_copies
    marginal = {}
    for name, _ in tools:
        small, large = results[name, args.small_copies], results[name, args.large_copies]
        wall, cpu = ((large[i] - small[i]) / extra for i in (0, 1))
        instances = (large[3]["instances"] - small[3]["instances"]) / extra
        marginal[name] = (wall, cpu)
        print(f"{name:6s} marginal per copy: {wall:.3f} s wall ({instances / wall:,.0f} instances/s), "
              f"{cpu:.3f} s CPU")
    if "google" in marginal:
        print(f"speed-up (marginal): {marginal['google'][0] / marginal['ours'][0]:.1f}x wall, "
              f"{marginal['google'][1] / marginal['ours'][1]:.1f}x CPU")
        nsp = {name: results[name, args.large_copies][3]["nsp_random"] for name, _ in tools}
        print(f"NSP random-label rate: ours {nsp['ours']:.4f}, google {nsp['google']:.4f}, "
              f"difference {100 * (nsp['ours'] - nsp['google']):+.2f} points")

    if args.memory_mb:
        copies = max(1, round(args.memory_mb * 1e6 / (args.copy_kb * 1000)))
        big = write_copies(documents, os.path.join(work_dir, "big.txt"), copies, args.copy_kb * 1000, True)
        seconds, cpu, peak = run_ours(big, os.path.join(work_dir, "big.tfrecord"), args,
                                      os.path.join(work_dir, "big.log"))
        with open(os.path.join(work_dir, "big.log")) as reader:
            summary = reader.read().strip().splitlines()[-1]
        print(f"ours on one {mb(os.path.getsize(big)):.0f} MB file: {seconds:.1f} s wall, {cpu:.1f} s CPU, "
              f"peak RSS {mb(peak):.0f} MB (process tree)\n  {summary}")


if __name__ == "__main__":
    main()
