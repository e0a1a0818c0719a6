"""The PyTorch side of classifier_comparison.py: transformers' BertForSequenceClassification fine-tuned on train.tsv.

Runs in the reference virtualenv (torch + transformers, no TensorFlow), as a child process:

    .venv-reference/bin/python -m benchmarks.torch_classifier --model_dir=MODEL --data_dir=DIR \\
        --output_dir=OUT --seed=1

The recipe is run_classifier.py's: the pretrained encoder and pooler with a new 2-way head
(`from_pretrained(..., num_labels=2)`, the head drawn after `torch.manual_seed(seed)`), dropout
0.1 on during training, mean cross-entropy over the batch, `torch.optim.AdamW` (weight decay
0.01 except biases and LayerNorm weights, epsilon 1e-6, betas 0.9/0.999), gradients clipped to
global norm 1.0, transformers' `get_linear_schedule_with_warmup` (linear warmup to the peak,
then linear to 0), int(examples / batch * epochs) updates of which int(updates * warmup_proportion)
warm up, each epoch a new seeded permutation (batches may straddle epochs, as our tf.data
pipeline's `shuffle().repeat().batch()` does). Inputs are [CLS] sentence [SEP] padded to
--max_seq_length by transformers' tokenizer from the model folder (the same ids as our
FullTokenizer for this uncased vocab). The labels are the sorted set of train.tsv's labels,
as run_classifier.py's tsv task orders them.

Writes <output_dir>/eval_results.txt (Google's `key = value` lines: eval_accuracy, eval_loss,
global_step) and <output_dir>/results.json with the timings: train_seconds from
`from_pretrained` to the last update, worker_seconds from the start of main (the imports of
torch and transformers included) to the end.
"""

import argparse
import json
import os
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", required=True, help="Hugging Face BERT folder: config.json, model.safetensors, "
                        "vocab.txt (and the tokenizer files)")
    parser.add_argument("--data_dir", required=True, help="train.tsv and dev.tsv (header sentence\\tlabel)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--max_seq_length", type=int, default=64)
    parser.add_argument("--train_batch_size", type=int, default=32)
    parser.add_argument("--eval_batch_size", type=int, default=64)
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--num_train_epochs", type=float, default=2.0)
    parser.add_argument("--warmup_proportion", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=12345, help="head initialisation, dropout and shuffling")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    import numpy as np
    import torch
    from transformers import BertForSequenceClassification, BertTokenizerFast, get_linear_schedule_with_warmup

    from benchmarks import sentence_polarity

    assert "tensorflow" not in sys.modules, "the PyTorch side must not load TensorFlow"
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    splits = {split: sentence_polarity.read_tsv(os.path.join(args.data_dir, f"{split}.tsv"))
              for split in ("train", "dev")}
    label_list = sorted({label for _, label in splits["train"]})
    tokenizer = BertTokenizerFast.from_pretrained(args.model_dir)

    def encode(rows):
        encoded = tokenizer([sentence for sentence, _ in rows], padding="max_length", truncation=True,
                            max_length=args.max_seq_length, return_tensors="pt")
        labels = torch.tensor([label_list.index(label) for _, label in rows], dtype=torch.int64)
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                "token_type_ids": encoded["token_type_ids"], "labels": labels}

    train, dev = encode(splits["train"]), encode(splits["dev"])
    num_examples = len(splits["train"])
    num_train_steps = int(num_examples / args.train_batch_size * args.num_train_epochs)
    num_warmup_steps = int(num_train_steps * args.warmup_proportion)
    print(f"labels {label_list}; {num_examples} train, {len(splits['dev'])} dev examples; {num_train_steps} updates "
          f"of {args.train_batch_size}, {num_warmup_steps} of warmup", flush=True)

    train_started = time.perf_counter()
    model = BertForSequenceClassification.from_pretrained(args.model_dir, num_labels=len(label_list))
    model.train()
    named = list(model.named_parameters())
    no_decay = [p for n, p in named if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in named if not (n.endswith("bias") or "LayerNorm" in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.learning_rate, betas=(0.9, 0.999), eps=1e-6)
    scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_train_steps)
    rng = np.random.default_rng(args.seed)
    order = np.zeros(0, np.int64)
    step_seconds = []
    for step in range(num_train_steps):
        step_started = time.perf_counter()
        while len(order) < args.train_batch_size:  # a new shuffle each epoch; batches may straddle epochs
            order = np.concatenate([order, rng.permutation(num_examples)])
        rows, order = torch.from_numpy(order[:args.train_batch_size]), order[args.train_batch_size:]
        outputs = model(**{name: tensor[rows] for name, tensor in train.items()})
        outputs.loss.backward()
        last_loss = outputs.loss.detach().item()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step_seconds.append(time.perf_counter() - step_started)
        if (step + 1) % 10 == 0 or step + 1 == num_train_steps:
            print(json.dumps({"step": step + 1, "loss": round(last_loss, 6),
                              "learning_rate": scheduler.get_last_lr()[0],
                              "elapsed_seconds": round(time.perf_counter() - train_started, 1)}), flush=True)
    train_seconds = time.perf_counter() - train_started
    print(f"Finished training at step {num_train_steps}", flush=True)

    model.eval()
    logits = []
    with torch.inference_mode():
        for begin in range(0, len(dev["labels"]), args.eval_batch_size):
            batch = {name: tensor[begin:begin + args.eval_batch_size]
                     for name, tensor in dev.items() if name != "labels"}
            logits.append(model(**batch).logits.float())
    logits = torch.cat(logits)
    results = {"eval_accuracy": float((logits.argmax(-1) == dev["labels"]).float().mean()),
               "eval_loss": float(torch.nn.functional.cross_entropy(logits, dev["labels"])),
               "global_step": num_train_steps}
    os.makedirs(args.output_dir, exist_ok=True)
    lines = [f"{key} = {value}" for key, value in sorted(results.items())]
    with open(os.path.join(args.output_dir, "eval_results.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    timings = {"train_seconds": train_seconds, "updates": num_train_steps,
               "seconds_per_update_median": sorted(step_seconds)[len(step_seconds) // 2], "final_loss": last_loss,
               "worker_seconds": time.perf_counter() - started, "torch": torch.__version__,
               "threads": torch.get_num_threads()}
    with open(os.path.join(args.output_dir, "results.json"), "w", encoding="utf-8") as f:
        json.dump({**results, **timings}, f, indent=1)


if __name__ == "__main__":
    main()
