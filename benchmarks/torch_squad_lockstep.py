"""The PyTorch side of squad_lockstep.py: transformers' QA fine-tuning on the draws the TensorFlow side made.

Runs in the reference virtualenv (torch + transformers, no TensorFlow), as a child process:

    .venv-reference/bin/python -m benchmarks.torch_squad_lockstep --model_dir=MODEL \\
        --inputs=inputs.npz --outputs=outputs.npz --threads=2

`inputs.npz` (written by squad_lockstep.py) holds run_squad.py's training and dev windows
(`train_*`, `dev_*`: input_ids, input_mask, segment_ids [windows, seq]; train_start_positions,
train_end_positions [windows]), the rows of every update (`order` [updates, batch]), the span
head's initial weights (`head_weight` [2, hidden], `head_bias` [2]) and the recipe's scalars
(learning_rate, num_warmup_steps, weight_decay, adam_epsilon, max_grad_norm, dropout,
train_pad_row).

`BertForQuestionAnswering.from_pretrained` loads the encoder with both dropout rates set to
`dropout`; its span head is then overwritten with the given one. transformers builds the word
embeddings with `padding_idx` = [PAD]'s id, so [PAD]'s row gets no gradient; with
`train_pad_row` true the padding index is removed and that row trains, as in Google's BERT
and ours (the logits at padded positions are in both frameworks' softmax, so the row does
get a gradient). Each update is
torch_squad.py's (AdamW grouped as Trainer does, linear warmup and decay, clipping).
Writes `outputs.npz`: `losses` [updates] (each batch's loss before its update),
`update_seconds` [updates], and the trained model's `start_logits`, `end_logits`
[dev windows, seq] in evaluation mode.
"""

import argparse
import os
import sys
import time

from benchmarks.torch_squad import create_optimizer, train_update


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", required=True, help="Hugging Face BERT folder (config.json, model.safetensors)")
    parser.add_argument("--inputs", required=True, help="squad_lockstep.py's inputs.npz")
    parser.add_argument("--outputs", required=True, help="where outputs.npz goes")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--predict_batch_size", type=int, default=16)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import numpy as np
    import torch
    from transformers import BertForQuestionAnswering

    assert "tensorflow" not in sys.modules, "the PyTorch side must not load TensorFlow"
    torch.set_num_threads(args.threads)
    inputs = np.load(args.inputs)
    scalar = {name: inputs[name].item() for name in ("learning_rate", "num_warmup_steps", "weight_decay",
                                                     "adam_epsilon", "max_grad_norm", "dropout",
                                                     "train_pad_row")}
    torch.manual_seed(int(inputs["seed"]))
    model = BertForQuestionAnswering.from_pretrained(args.model_dir, hidden_dropout_prob=scalar["dropout"],
                                                     attention_probs_dropout_prob=scalar["dropout"])
    with torch.no_grad():
        model.qa_outputs.weight.copy_(torch.from_numpy(inputs["head_weight"]))
        model.qa_outputs.bias.copy_(torch.from_numpy(inputs["head_bias"]))
    if scalar["train_pad_row"]:
        model.bert.embeddings.word_embeddings.padding_idx = None
    order = inputs["order"]
    optimizer, scheduler = create_optimizer(model, scalar["learning_rate"], scalar["weight_decay"],
                                            scalar["adam_epsilon"], int(scalar["num_warmup_steps"]), len(order))
    train = {"input_ids": inputs["train_input_ids"], "attention_mask": inputs["train_input_mask"],
             "token_type_ids": inputs["train_segment_ids"], "start_positions": inputs["train_start_positions"],
             "end_positions": inputs["train_end_positions"]}
    train = {name: torch.from_numpy(value.astype(np.int64)) for name, value in train.items()}
    model.train()
    losses, seconds = [], []
    for update, rows in enumerate(order):
        started = time.perf_counter()
        rows = torch.from_numpy(rows.astype(np.int64))
        losses.append(train_update(model, optimizer, scheduler, {name: value[rows] for name, value in train.items()},
                                   scalar["max_grad_norm"]))
        seconds.append(time.perf_counter() - started)
        if (update + 1) % 20 == 0 or update + 1 == len(order):
            print(f"update {update + 1}/{len(order)}: loss {losses[-1]:.6f}", flush=True)

    model.eval()
    start_logits, end_logits = [], []
    dev = {"input_ids": inputs["dev_input_ids"], "attention_mask": inputs["dev_input_mask"],
           "token_type_ids": inputs["dev_segment_ids"]}
    with torch.inference_mode():
        for begin in range(0, len(dev["input_ids"]), args.predict_batch_size):
            outputs = model(**{name: torch.from_numpy(value[begin:begin + args.predict_batch_size].astype(np.int64))
                               for name, value in dev.items()})
            start_logits.append(outputs.start_logits.float().numpy())
            end_logits.append(outputs.end_logits.float().numpy())
    temporary = f"{args.outputs}.{os.getpid()}.tmp"  # renamed when complete: no half-written outputs
    with open(temporary, "wb") as f:
        np.savez(f, losses=np.array(losses, np.float64), update_seconds=np.array(seconds),
                 start_logits=np.concatenate(start_logits), end_logits=np.concatenate(end_logits),
                 torch_version=np.array(torch.__version__))
    os.replace(temporary, args.outputs)


if __name__ == "__main__":
    main()
