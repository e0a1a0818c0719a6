"""Does pretraining pay off? A small BERT fine-tuned on real SQuAD questions, pretrained against random.

For every seed, run_squad.py fine-tunes two twins of one config on the same real,
human-written questions and scores both with `evaluate-v1.1.py` on the same dev questions:

- pretrained: the `model.ckpt` that run_pretraining.py exported into `<pretrained_dir>` (for
  example `benchmarks/pretraining_parity.py`'s runs over 1M words of English Wikipedia);
- random: the same config from run_squad.py's seeded random initialisation (no
  --init_checkpoint).

The questions come from `bigbench_data.py` (train: SQuADShifts new_wiki, dev: the SQuAD v1.1
dev set; whole paragraphs, --data_seed). A `{seed}` in --pretrained_dir picks the model
pretrained with that seed, so the spread over seeds covers pretraining and fine-tuning.

    python -m benchmarks.pretraining_payoff --work_dir=/tmp/payoff \\
        --pretrained_dir=/tmp/pretraining_parity/ours_lamb_seed{seed} --seeds=1,2,3

Results of other seeds with the same settings in <work_dir>/results.json are kept, also those that
another process running other seeds in the same --work_dir saves meanwhile: seeds can run in parallel
(give each process the same settings, --vocab_file included, as its default follows the first seed).

Recipe (the defaults): 7,000 questions, seq 128, stride 64, batch 32, lr 1e-3 (both twins), 3 epochs,
10% warmup. The 2-layer model of pretraining_parity.py with its own 8,192-piece vocabulary
(--own_vocab_size=8192), pretrained with LAMB for 6,000 updates, beats its random twin there; see
benchmarks/README.md for the figures.
"""

import argparse
import json
import os
import sys

from benchmarks import bigbench_data
from benchmarks.side_by_side import (REPO, comma_list, cpu_model, fresh_dir, load_average, mean_std, official_scores,
                                     run_seeds, run_timed, save_merged)
INITS = ("pretrained", "random")


def run_squad(args, data, seed, init):
    """Fine-tunes one twin with run_squad.py and scores it; returns its record."""
    pretrained = args.pretrained_dir.format(seed=seed)
    output_dir = fresh_dir(os.path.join(args.work_dir, f"{init}_seed{seed}"), args.overwrite)
    command = [sys.executable, os.path.join(REPO, "run_squad.py"), f"--output_dir={output_dir}",
               f"--vocab_file={args.vocab_file}", f"--bert_config_file={pretrained}/bert_config.json",
               "--do_lower_case", "--do_train", "--do_predict", f"--train_file={data['train']}",
               f"--predict_file={data['dev']}", f"--max_seq_length={args.max_seq_length}",
               f"--doc_stride={args.doc_stride}", f"--train_batch_size={args.train_batch_size}",
               f"--learning_rate={args.learning_rates[init]}", f"--num_train_epochs={args.num_train_epochs}",
               f"--warmup_proportion={args.warmup_proportion}", f"--seed={seed}", "--use_xla"]
    if init == "pretrained":
        command.append(f"--init_checkpoint={pretrained}/model.ckpt")
    started = load_average()
    total, _ = run_timed(command, os.path.join(args.work_dir, f"{init}_seed{seed}.log"))
    return {"command": " ".join(command), "seed": seed, "init": init, "total_seconds": total,
            "load_average": [started, load_average()],
            **official_scores(data["dev"], os.path.join(output_dir, "predictions.json"))}


def print_tables(results):
    settings = results["settings"]
    print(f"\nCPU: {results['cpu']}. Pretrained models: {settings['pretrained_dir']}. Recipe: seq "
          f"{settings['max_seq_length']}, stride {settings['doc_stride']}, batch {settings['train_batch_size']}, "
          f"{settings['num_train_epochs']} epochs, learning rates {settings['learning_rates']}")
    data = results["data"]
    print(f"Data: train {data['train']['questions']} questions of {data['train']['set']}, dev "
          f"{data['dev']['questions']} of {data['dev']['set']} (data seed {data['seed']})")
    print("\n| initialisation | seed | EM | F1 | total s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for init in INITS:
        for seed, run in sorted(results["runs"][init].items(), key=lambda item: int(item[0])):
            print(f"| {init} | {seed} | {run['exact_match']:.2f} | {run['f1']:.2f} | {run['total_seconds']:.0f} |")
    summary = results["summary"]
    print("\n| initialisation | EM, mean ± std | F1, mean ± std |")
    print("| --- | ---: | ---: |")
    for init, row in summary.items():
        print(f"| {init} | {row['exact_match'][0]:.2f} ± {row['exact_match'][1]:.2f} "
              f"| {row['f1'][0]:.2f} ± {row['f1'][1]:.2f} |")
    if len(summary) == 2:
        pairs = [results["runs"]["pretrained"][seed]["f1"] - results["runs"]["random"][seed]["f1"]
                 for seed in results["runs"]["pretrained"] if seed in results["runs"]["random"]]
        print(f"\npretrained - random, F1 per seed: {', '.join(f'{d:+.2f}' for d in pairs)}; mean "
              f"{summary['pretrained']['f1'][0] - summary['random']['f1'][0]:+.2f}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pretrained_dir", required=True,
                        help="run_pretraining.py's output folder (model.ckpt, bert_config.json); {seed} is replaced "
                             "by each seed")
    parser.add_argument("--vocab_file", default=None,
                        help="the vocabulary of the pretraining (default: <pretrained_dir>/vocab.txt)")
    parser.add_argument("--work_dir", default="/tmp/pretraining_payoff")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--inits", default=",".join(INITS), help="comma-separated: which twins to fine-tune")
    parser.add_argument("--overwrite", action="store_true", help="replace earlier output folders in --work_dir")
    parser.add_argument("--train_set", default="new_wiki", choices=sorted(bigbench_data.SQUAD_SETS))
    parser.add_argument("--dev_set", default="squaddev", choices=sorted(bigbench_data.SQUAD_SETS))
    parser.add_argument("--num_train_questions", type=int, default=7000)
    parser.add_argument("--num_dev_questions", type=int, default=500)
    parser.add_argument("--data_seed", type=int, default=12345)
    parser.add_argument("--cache_dir", default=bigbench_data.DEFAULT_CACHE_DIR)
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--doc_stride", type=int, default=64)
    parser.add_argument("--train_batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--random_learning_rate", type=float, default=None,
                        help="the random-init twin's learning rate (default: --learning_rate), so that each side can "
                             "use the rate that suits it best")
    parser.add_argument("--num_train_epochs", type=float, default=3.0)
    parser.add_argument("--warmup_proportion", type=float, default=0.1)
    args = parser.parse_args(argv)
    args.inits = comma_list(parser, "inits", args.inits, INITS)
    try:
        args.seeds = [int(seed) for seed in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds: {args.seeds!r} is not a comma-separated list of integers")
    for seed in args.seeds:
        pretrained = args.pretrained_dir.format(seed=seed)
        for name in ("model.ckpt.index", "bert_config.json") if "pretrained" in args.inits else ("bert_config.json",):
            if not os.path.exists(os.path.join(pretrained, name)):
                parser.error(f"--pretrained_dir: {pretrained}/{name} missing (run run_pretraining.py there first)")
    args.vocab_file = args.vocab_file or os.path.join(args.pretrained_dir.format(seed=args.seeds[0]), "vocab.txt")
    if not os.path.exists(args.vocab_file):
        parser.error(f"--vocab_file: {args.vocab_file} does not exist")
    args.work_dir = os.path.abspath(args.work_dir)
    args.learning_rates = {"pretrained": args.learning_rate,
                           "random": args.random_learning_rate or args.learning_rate}
    return args


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    settings = {name: getattr(args, name) for name in (
        "pretrained_dir", "vocab_file", "train_set", "dev_set", "num_train_questions", "num_dev_questions",
        "data_seed", "max_seq_length", "doc_stride", "train_batch_size", "learning_rates", "num_train_epochs",
        "warmup_proportion")}
    try:
        data, data_summary = bigbench_data.build_squad_split(
            os.path.join(args.work_dir, "data"), args.train_set, args.num_train_questions, args.dev_set,
            args.num_dev_questions, args.data_seed, args.cache_dir)
    except ValueError as error:
        raise SystemExit(f"error: {error}")
    results_path = os.path.join(args.work_dir, "results.json")
    results = {"settings": settings, "cpu": cpu_model(), "data": data_summary, "runs": {init: {} for init in INITS}}
    if os.path.exists(results_path):  # other seeds of the same settings are kept
        with open(results_path, encoding="utf-8") as f:
            earlier = json.load(f)
        if earlier["settings"] == settings:
            results["runs"] = earlier["runs"]
    print(f"Settings: {json.dumps(settings)}; seeds {args.seeds}; {results['cpu']}", flush=True)

    def summarize(runs):
        return {init: {key: list(mean_std([run[key] for run in runs[init].values()]))
                       for key in ("f1", "exact_match")} for init in INITS if runs[init]}

    def save():
        save_merged(results_path, results, summarize)

    run_seeds(args.seeds, {init: (lambda seed, init=init: run_squad(args, data, seed, init)) for init in args.inits},
              results, save, lambda record: f"F1 {record['f1']:.2f}, EM {record['exact_match']:.2f}")
    print_tables(results)


if __name__ == "__main__":
    main()
