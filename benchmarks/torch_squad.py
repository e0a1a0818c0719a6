"""The PyTorch side of squad_real_comparison.py: transformers' BertForQuestionAnswering, set up as run_qa.py.

Runs in the reference virtualenv (torch + transformers, no TensorFlow), as a child process:

    .venv-reference/bin/python -m benchmarks.torch_squad --model_dir=MODEL --train_file=train.json \\
        --predict_file=dev.json --output_dir=OUT --seed=1

Everything between the JSON files and the predictions is transformers' own way, as its
`examples/pytorch/question-answering/run_qa.py` does it (re-implemented here without the
`datasets` and `accelerate` packages):

- windows: `BertTokenizerFast(question.lstrip(), context, truncation="only_second",
  max_length=--max_seq_length, stride=--doc_stride, return_overflowing_tokens=True,
  return_offsets_mapping=True, padding="max_length")`. transformers' `stride` is the
  overlap between consecutive windows, where run_squad.py's `--doc_stride` is the step
  between their starts, so with a context too long for one window the two make
  different windows from the same flag value;
- training labels: the first answer's character span mapped to tokens through the offsets;
  a window that does not hold the whole answer points at [CLS] (index 0);
- the model: `BertForQuestionAnswering.from_pretrained` (its span head drawn by transformers'
  `_init_weights`, normal with std initializer_range, after `torch.manual_seed(seed)`),
  dropout 0.1 on, loss the mean of the start and end cross-entropies over the batch; the word
  embeddings' `padding_idx` keeps [PAD]'s row frozen, where run_squad.py (as Google's BERT)
  trains it: the one difference in the training itself that squad_lockstep.py found;
- the optimizer: `torch.optim.AdamW` (betas 0.9/0.999, epsilon --adam_epsilon, weight decay
  --weight_decay except biases and LayerNorm weights, as Trainer groups them), gradients
  clipped to global norm --max_grad_norm, `get_linear_schedule_with_warmup` (linear warmup to
  the peak over int(updates * warmup_proportion) updates, then linear to 0);
- the order: int(windows / batch * epochs) updates, each epoch a new seeded permutation of the
  windows, batches straddling epochs as run_squad.py's `shuffle().repeat().batch()` does
  (Trainer would run ceil(windows / batch) updates per epoch, a partial batch at each end);
- the answers: for every window, the --n_best_size highest start and end logits; spans whose
  both ends fall in the context, end >= start and at most --max_answer_length tokens; the
  best start + end logit sum over the question's windows; the answer is the context's
  characters between the two tokens' offsets (run_qa's `postprocess_qa_predictions`).

Writes <output_dir>/predictions.json ({question id: answer}) and <output_dir>/results.json with
the windows, updates and timings: train_seconds from `from_pretrained` to the last update,
worker_seconds from the start of main (torch's import included) to the end.
"""

import argparse
import json
import os
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", required=True, help="Hugging Face BERT folder: config.json, "
                        "model.safetensors, vocab.txt (and the tokenizer files)")
    parser.add_argument("--train_file", required=True, help="SQuAD v1.1 JSON")
    parser.add_argument("--predict_file", required=True, help="SQuAD v1.1 JSON")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--max_seq_length", type=int, default=384)
    parser.add_argument("--doc_stride", type=int, default=128, help="tokens shared by consecutive windows")
    parser.add_argument("--train_batch_size", type=int, default=16)
    parser.add_argument("--predict_batch_size", type=int, default=16)
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--num_train_epochs", type=float, default=2.0)
    parser.add_argument("--warmup_proportion", type=float, default=0.1)
    parser.add_argument("--weight_decay", type=float, default=0.01)
    parser.add_argument("--adam_epsilon", type=float, default=1e-6)
    parser.add_argument("--max_grad_norm", type=float, default=1.0)
    parser.add_argument("--n_best_size", type=int, default=20)
    parser.add_argument("--max_answer_length", type=int, default=30, help="in tokens")
    parser.add_argument("--seed", type=int, default=12345, help="head initialisation, dropout and shuffling")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    return parser.parse_args(argv)


def read_questions(path):
    """[{"id", "question", "context", "answers": [{"text", "answer_start"}]}] of a SQuAD v1.1 file, in file order."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)["data"]
    return [{"id": qa["id"], "question": qa["question"].lstrip(), "context": paragraph["context"],
             "answers": qa["answers"]}
            for article in data for paragraph in article["paragraphs"] for qa in paragraph["qas"]]


def tokenize_windows(tokenizer, questions, args):
    """transformers' BatchEncoding of every question's windows (run_qa's call), with offsets and sample mapping."""
    return tokenizer([q["question"] for q in questions], [q["context"] for q in questions], truncation="only_second",
                     max_length=args.max_seq_length, stride=args.doc_stride, return_overflowing_tokens=True,
                     return_offsets_mapping=True, padding="max_length")


def training_labels(encoded, questions):
    """(start_positions, end_positions), one per window: the first answer's tokens, or 0 ([CLS]) if the
    window does not hold the whole answer."""
    starts, ends = [], []
    for window, offsets in enumerate(encoded["offset_mapping"]):
        sequence_ids = encoded.sequence_ids(window)
        answer = questions[encoded["overflow_to_sample_mapping"][window]]["answers"][0]
        first_char = answer["answer_start"]
        last_char = first_char + len(answer["text"])  # exclusive
        context_tokens = [i for i, sequence in enumerate(sequence_ids) if sequence == 1]
        first_token, last_token = context_tokens[0], context_tokens[-1]
        last_context_token = last_token
        if not (offsets[first_token][0] <= first_char and offsets[last_token][1] >= last_char):
            starts.append(0)
            ends.append(0)
            continue
        # run_qa.py walks up to len(offsets): past the context, [SEP] and the padding (offsets (0, 0))
        # would move a start on the window's last context token to the last position.
        while first_token <= last_context_token and offsets[first_token][0] <= first_char:
            first_token += 1
        while offsets[last_token][1] >= last_char:
            last_token -= 1
        starts.append(first_token - 1)
        ends.append(last_token + 1)
    return starts, ends


def best_answers(questions, encoded, start_logits, end_logits, n_best_size, max_answer_length):
    """{question id: answer text}: the best-scoring valid span over each question's windows (run_qa's way)."""
    import numpy as np

    best = {}  # question index -> (score, first char, last char)
    for window, offsets in enumerate(encoded["offset_mapping"]):
        index = encoded["overflow_to_sample_mapping"][window]
        in_context = [sequence == 1 for sequence in encoded.sequence_ids(window)]
        top_starts = np.argsort(start_logits[window])[-1:-n_best_size - 1:-1]
        top_ends = np.argsort(end_logits[window])[-1:-n_best_size - 1:-1]
        for start in top_starts:
            for end in top_ends:
                if not (in_context[start] and in_context[end]) or end < start or end - start + 1 > max_answer_length:
                    continue
                score = float(start_logits[window][start] + end_logits[window][end])
                if index not in best or score > best[index][0]:
                    best[index] = (score, offsets[start][0], offsets[end][1])
    answers = {}
    for index, question in enumerate(questions):
        if index in best:
            _, first_char, last_char = best[index]
            answers[question["id"]] = question["context"][first_char:last_char]
        else:
            answers[question["id"]] = "empty"  # run_qa's answer when no span is valid
    return answers


def create_optimizer(model, learning_rate, weight_decay, epsilon, num_warmup_steps, num_train_steps):
    """(torch AdamW, get_linear_schedule_with_warmup's scheduler) for `model`, parameters grouped as Trainer does:
    no weight decay on biases and LayerNorm weights."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    named = list(model.named_parameters())
    no_decay = [p for n, p in named if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in named if not (n.endswith("bias") or "LayerNorm" in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=learning_rate, betas=(0.9, 0.999), eps=epsilon)
    return optimizer, get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_train_steps)


def train_update(model, optimizer, scheduler, batch, max_grad_norm):
    """One update on `batch` (model keyword arguments, labels included): loss, backward, clipping to global norm
    `max_grad_norm`, optimizer and schedule step. Returns the batch's loss (float, before the update)."""
    import torch

    outputs = model(**batch)
    outputs.loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return outputs.loss.detach().item()


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    import numpy as np
    import torch
    from transformers import BertForQuestionAnswering, BertTokenizerFast

    assert "tensorflow" not in sys.modules, "the PyTorch side must not load TensorFlow"
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tokenizer = BertTokenizerFast.from_pretrained(args.model_dir)

    train_questions = read_questions(args.train_file)
    train = tokenize_windows(tokenizer, train_questions, args)
    starts, ends = training_labels(train, train_questions)
    tensors = {"input_ids": torch.tensor(train["input_ids"]), "attention_mask": torch.tensor(train["attention_mask"]),
               "token_type_ids": torch.tensor(train["token_type_ids"]),
               "start_positions": torch.tensor(starts), "end_positions": torch.tensor(ends)}
    num_windows = len(starts)
    num_train_steps = int(num_windows / args.train_batch_size * args.num_train_epochs)
    num_warmup_steps = int(num_train_steps * args.warmup_proportion)
    print(f"{len(train_questions)} questions, {num_windows} training windows ({sum(s == 0 for s in starts)} without "
          f"the answer); {num_train_steps} updates of {args.train_batch_size}, {num_warmup_steps} of warmup",
          flush=True)

    train_started = time.perf_counter()
    model = BertForQuestionAnswering.from_pretrained(args.model_dir)
    model.train()
    optimizer, scheduler = create_optimizer(model, args.learning_rate, args.weight_decay, args.adam_epsilon,
                                            num_warmup_steps, num_train_steps)
    rng = np.random.default_rng(args.seed)
    order = np.zeros(0, np.int64)
    step_seconds = []
    for step in range(num_train_steps):
        step_started = time.perf_counter()
        while len(order) < args.train_batch_size:  # a new shuffle each epoch; batches may straddle epochs
            order = np.concatenate([order, rng.permutation(num_windows)])
        rows, order = torch.from_numpy(order[:args.train_batch_size]), order[args.train_batch_size:]
        last_loss = train_update(model, optimizer, scheduler, {name: tensor[rows] for name, tensor in tensors.items()},
                                 args.max_grad_norm)
        step_seconds.append(time.perf_counter() - step_started)
        if (step + 1) % 10 == 0 or step + 1 == num_train_steps:
            print(json.dumps({"step": step + 1, "loss": round(last_loss, 6),
                              "learning_rate": scheduler.get_last_lr()[0],
                              "elapsed_seconds": round(time.perf_counter() - train_started, 1)}), flush=True)
    train_seconds = time.perf_counter() - train_started
    print(f"Finished training at step {num_train_steps}", flush=True)

    predict_started = time.perf_counter()
    questions = read_questions(args.predict_file)
    encoded = tokenize_windows(tokenizer, questions, args)
    model.eval()
    start_logits, end_logits = [], []
    with torch.inference_mode():
        for begin in range(0, len(encoded["input_ids"]), args.predict_batch_size):
            batch = {name: torch.tensor(encoded[name][begin:begin + args.predict_batch_size])
                     for name in ("input_ids", "attention_mask", "token_type_ids")}
            outputs = model(**batch)
            start_logits.append(outputs.start_logits.float().numpy())
            end_logits.append(outputs.end_logits.float().numpy())
    answers = best_answers(questions, encoded, np.concatenate(start_logits), np.concatenate(end_logits),
                           args.n_best_size, args.max_answer_length)
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "predictions.json"), "w", encoding="utf-8") as f:
        json.dump(answers, f, ensure_ascii=False, indent=1)
    results = {"train_windows": num_windows, "predict_windows": len(encoded["input_ids"]), "updates": num_train_steps,
               "train_seconds": train_seconds, "predict_seconds": time.perf_counter() - predict_started,
               "seconds_per_update_median": sorted(step_seconds)[len(step_seconds) // 2], "final_loss": last_loss,
               "worker_seconds": time.perf_counter() - started, "torch": torch.__version__,
               "threads": torch.get_num_threads()}
    with open(os.path.join(args.output_dir, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
