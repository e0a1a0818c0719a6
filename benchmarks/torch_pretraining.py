"""The PyTorch side of pretraining_parity.py: transformers' BertForPreTraining pretrained from scratch.

Runs in the reference virtualenv (torch + transformers, no TensorFlow), as a child process:

    .venv-reference/bin/python -m benchmarks.torch_pretraining --bert_config_file=CONFIG \\
        --train_npz=train.npz --eval_npz=eval.npz --output_dir=OUT --optimizer_type=lamb \\
        --learning_rate=1e-2 --num_train_steps=900 --num_warmup_steps=90 --eval_steps=0,300,600,900 --seed=1

It repeats run_pretraining.py's recipe (bert/train/) in a plain PyTorch loop:

- model: `BertForPreTraining` from the same config JSON (post-LayerNorm, exact GELU,
  LayerNorm epsilon 1e-12, masked-LM decoder tied to the word embeddings), every weight
  matrix and embedding redrawn from a normal of stddev `initializer_range` truncated at 2
  stddevs, as Keras's `TruncatedNormal` draws ours (transformers' own init is an untruncated
  normal), biases zero, LayerNorm 1 and 0; dropout as in the config;
- loss (bert/train/losses.py): the masked-LM head only at `masked_lm_positions`; masked-LM
  cross-entropy summed with `masked_lm_weights` and divided by (their sum + 1e-5), plus
  the next-sentence cross-entropy averaged over the batch;
- update (bert/train/training.py, optimization.py): gradients clipped to global norm 1.0;
  `torch.optim.AdamW` (betas 0.9/0.999, epsilon 1e-6) or `Lamb` below (a port of Keras's),
  weight decay 0.01 except on biases and LayerNorm weights; learning rate of update u
  (0-based, so the first update has rate 0, as in Keras) linear warmup `lr * u / W`, then
  Google's `lr * (1 - u / T) ** power`;
- input: the whole train set, a new seeded permutation each epoch (batches may straddle
  epochs), the same batch size; `--seed` draws the weights, the dropout and the order.

Evaluation at each of --eval_steps (step 0: the initialisation) runs over every record of
--eval_npz in order, with run_pretraining.py's sums: masked-LM loss and accuracy weighted by
`masked_lm_weights`, next-sentence loss and accuracy over sequences. Writes
<output_dir>/results.json: the evaluations (each with the training seconds spent until
then, evaluation excluded), the seconds per update and the training-loss log.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import transformers
from transformers import BertConfig, BertForPreTraining

FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
            "next_sentence_labels")
WEIGHT_DECAY = 0.01
CLIP_NORM = 1.0
EPSILON = 1e-6
BETAS = (0.9, 0.999)


class Lamb(torch.optim.Optimizer):
    """Keras 3's `keras.optimizers.Lamb` with its base optimizer's weight decay, for torch parameters.

    One update of a parameter w with gradient g at learning rate lr, update count t (from 1),
    in the order Keras runs it:
      1. decoupled weight decay, before and outside the update (keras/src/optimizers/
         base_optimizer.py `_apply_weight_decay`, called by `apply` before `update_step`):
         w <- w - w * weight_decay * lr, for parameters in a group with weight_decay > 0;
      2. moments (keras/src/optimizers/lamb.py `update_step`): m <- m + (g - m)(1 - beta_1),
         v <- v + (g^2 - v)(1 - beta_2);
      3. Adam direction with epsilon after the bias correction:
         u = (m / (1 - beta_1^t)) / (sqrt(v / (1 - beta_2^t)) + epsilon);
      4. trust ratio of the whole tensor: r = ||w|| / ||u||, with w as decayed in step 1
         (so the decay is not part of u nor of the ratio); r = 1 if either norm is 0;
      5. w <- w - r * lr * u.
    Every tensor is one LAMB "layer", biases and LayerNorm weights included, as in Keras.
    (Ours fuses query, key and value into one variable, hence one ratio for the three; here
    they are three tensors with a ratio each.)
    """

    def __init__(self, params, lr, betas=BETAS, eps=EPSILON, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; `closure` is not supported."""
        if closure is not None:
            raise ValueError("Lamb.step: closures are not supported")
        for group in self.param_groups:
            lr, (beta_1, beta_2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for w in group["params"]:
                if w.grad is None:
                    continue
                state = self.state[w]
                if not state:
                    state["step"] = 0
                    state["m"] = torch.zeros_like(w)
                    state["v"] = torch.zeros_like(w)
                state["step"] += 1
                t, m, v, g = state["step"], state["m"], state["v"], w.grad
                if decay:
                    w.sub_(w * decay * lr)
                m.add_((g - m) * (1 - beta_1))
                v.add_((g * g - v) * (1 - beta_2))
                u = (m / (1 - beta_1 ** t)) / ((v / (1 - beta_2 ** t)).sqrt() + eps)
                w_norm, u_norm = w.norm(), u.norm()
                ratio = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, torch.ones_like(w_norm))
                w.sub_(ratio * lr * u)


def learning_rate_factor(update, num_train_steps, num_warmup_steps, power=1.0):
    """Multiplier of the peak rate at update `update` (0-based), as ours `WarmupPolynomialDecay` (Google's decay)."""
    if update < num_warmup_steps:
        return update / max(num_warmup_steps, 1)
    return (1.0 - min(update, num_train_steps) / num_train_steps) ** power


def no_weight_decay(name):
    """True for biases and LayerNorm weights (ours excludes Keras variables named gamma, beta, *bias)."""
    return name.endswith("bias") or "LayerNorm" in name


def create_optimizer(optimizer_type, named_parameters, learning_rate, num_train_steps, num_warmup_steps,
                     decay_power=1.0):
    """(optimizer, LambdaLR scheduler): 'lamb' (`Lamb`) or 'adam' (`torch.optim.AdamW`), ours' settings."""
    named_parameters = list(named_parameters)
    groups = [{"params": [p for n, p in named_parameters if not no_weight_decay(n)], "weight_decay": WEIGHT_DECAY},
              {"params": [p for n, p in named_parameters if no_weight_decay(n)], "weight_decay": 0.0}]
    if optimizer_type == "lamb":
        optimizer = Lamb(groups, lr=learning_rate)
    elif optimizer_type == "adam":
        optimizer = torch.optim.AdamW(groups, lr=learning_rate, betas=BETAS, eps=EPSILON)
    else:
        raise ValueError(f"optimizer_type: expected 'lamb' or 'adam', got {optimizer_type!r}")
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda u: learning_rate_factor(u, num_train_steps, num_warmup_steps, decay_power))
    return optimizer, scheduler


def optimizer_steps(optimizer_type, weights, gradients, learning_rate, num_train_steps, num_warmup_steps):
    """Runs `create_optimizer`'s optimizer on given gradients, without clipping; returns the final weights.

    `weights` is {parameter name: float32 array}, `gradients` a list (one per update) of such
    dicts. For checking the port against Keras (tests/test_pretraining_parity.py).
    """
    params = {name: torch.nn.Parameter(torch.tensor(value, dtype=torch.float32)) for name, value in weights.items()}
    optimizer, scheduler = create_optimizer(optimizer_type, params.items(), learning_rate, num_train_steps,
                                            num_warmup_steps)
    for step_gradients in gradients:
        for name, param in params.items():
            param.grad = torch.tensor(step_gradients[name], dtype=torch.float32)
        optimizer.step()
        scheduler.step()
    return {name: param.detach().numpy() for name, param in params.items()}


def build_model(config_file, seed):
    """transformers' BertForPreTraining from our config JSON, weights drawn as ours are (see the module docstring)."""
    with open(config_file, encoding="utf-8") as f:
        config = json.load(f)
    torch.manual_seed(seed)
    model = BertForPreTraining(BertConfig(**config, layer_norm_eps=1e-12))
    stddev = config.get("initializer_range", 0.02)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
                # The decoder's weight is the word embedding table: drawn once, with the embeddings.
                if module is not model.cls.predictions.decoder:
                    torch.nn.init.trunc_normal_(module.weight, std=stddev, a=-2 * stddev, b=2 * stddev)
                if isinstance(module, torch.nn.Linear) and module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, torch.nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()
        model.cls.predictions.bias.zero_()
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    return model


def pretraining_outputs(model, batch):
    """(masked_lm_logits [B, P, vocab], next_sentence_logits [B, 2]), the masked-LM head only at the positions."""
    outputs = model.bert(input_ids=batch["input_ids"], attention_mask=batch["input_mask"],
                         token_type_ids=batch["segment_ids"])
    sequence = outputs.last_hidden_state  # [B, S, H]
    positions = batch["masked_lm_positions"].unsqueeze(-1).expand(-1, -1, sequence.shape[-1])
    masked = torch.gather(sequence, 1, positions)  # [B, P, H]
    return model.cls.predictions(masked), model.cls.seq_relationship(outputs.pooler_output)


def loss_sums(batch, masked_lm_logits, next_sentence_logits):
    """Summed masked-LM cross-entropy (weighted), correct predictions and weight; NSP loss, correct, count."""
    weights = batch["masked_lm_weights"]
    ids = batch["masked_lm_ids"]
    token_losses = torch.nn.functional.cross_entropy(masked_lm_logits.flatten(0, 1), ids.flatten(),
                                                     reduction="none").view_as(weights)
    labels = batch["next_sentence_labels"].view(-1)
    return {"masked_lm_loss": (token_losses * weights).sum(),
            "masked_lm_correct": ((masked_lm_logits.argmax(-1) == ids).float() * weights).sum(),
            "masked_tokens": weights.sum(),
            "next_sentence_loss": torch.nn.functional.cross_entropy(next_sentence_logits, labels, reduction="sum"),
            "next_sentence_correct": (next_sentence_logits.argmax(-1) == labels).float().sum(),
            "sequences": torch.tensor(float(labels.shape[0]))}


def load_arrays(path):
    """{feature: tensor} of an .npz written by pretraining_parity.py (int64 ids, float32 weights)."""
    with np.load(path) as arrays:
        return {name: torch.from_numpy(arrays[name].astype(np.float32 if name == "masked_lm_weights" else np.int64))
                for name in FEATURES}


def evaluate(model, data, batch_size):
    """run_pretraining.py's evaluation metrics over every record of `data`, in order."""
    model.eval()
    totals = {}
    with torch.inference_mode():
        for begin in range(0, len(data["input_ids"]), batch_size):
            batch = {name: tensor[begin:begin + batch_size] for name, tensor in data.items()}
            for name, value in loss_sums(batch, *pretraining_outputs(model, batch)).items():
                totals[name] = totals.get(name, 0.0) + float(value)
    model.train()
    return {"masked_lm_accuracy": totals["masked_lm_correct"] / totals["masked_tokens"],
            "masked_lm_loss": totals["masked_lm_loss"] / totals["masked_tokens"],
            "next_sentence_accuracy": totals["next_sentence_correct"] / totals["sequences"],
            "next_sentence_loss": totals["next_sentence_loss"] / totals["sequences"],
            "eval_sequences": int(totals["sequences"])}


def train(args, model, train_data, eval_data):
    """Runs --num_train_steps updates, evaluating at --eval_steps; returns the result record."""
    optimizer, scheduler = create_optimizer(args.optimizer_type, model.named_parameters(), args.learning_rate,
                                            args.num_train_steps, args.num_warmup_steps, args.decay_power)
    rng = np.random.default_rng(args.seed)
    num_examples = len(train_data["input_ids"])
    order = np.zeros(0, np.int64)
    evals, log, step_seconds = [], [], []
    for step in range(args.num_train_steps + 1):
        if step in args.eval_steps:
            evals.append({"step": step, **evaluate(model, eval_data, args.eval_batch_size),
                          "train_seconds": sum(step_seconds)})
            print(json.dumps(evals[-1]), flush=True)
        if step == args.num_train_steps:
            break
        started = time.perf_counter()
        while len(order) < args.train_batch_size:  # a new shuffle each epoch; batches may straddle epochs
            order = np.concatenate([order, rng.permutation(num_examples)])
        rows, order = torch.from_numpy(order[:args.train_batch_size]), order[args.train_batch_size:]
        batch = {name: tensor[rows] for name, tensor in train_data.items()}
        sums = loss_sums(batch, *pretraining_outputs(model, batch))
        masked_lm_loss = sums["masked_lm_loss"] / (sums["masked_tokens"] + 1e-5)
        next_sentence_loss = sums["next_sentence_loss"] / sums["sequences"]
        loss = masked_lm_loss + next_sentence_loss
        if not math.isfinite(loss.item()):
            raise SystemExit(f"non-finite loss {loss.item()} at step {step + 1}; lower --learning_rate")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step_seconds.append(time.perf_counter() - started)
        if (step + 1) % 10 == 0 or step + 1 == args.num_train_steps:
            log.append({"step": step + 1, "loss": round(float(loss), 6),
                        "masked_lm_loss": round(float(masked_lm_loss), 6),
                        "next_sentence_loss": round(float(next_sentence_loss), 6),
                        "learning_rate": scheduler.get_last_lr()[0]})
            print(json.dumps(log[-1]), flush=True)
    return {"evals": evals, "train_seconds": sum(step_seconds),
            "seconds_per_update_median": sorted(step_seconds)[len(step_seconds) // 2], "log": log}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bert_config_file", required=True, help="our BERT config JSON (Google's fields)")
    parser.add_argument("--train_npz", required=True, help="training records (pretraining_parity.py writes them)")
    parser.add_argument("--eval_npz", required=True, help="evaluation records, evaluated in order")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--optimizer_type", choices=("lamb", "adam"), default="lamb")
    parser.add_argument("--learning_rate", type=float, required=True)
    parser.add_argument("--num_train_steps", type=int, required=True)
    parser.add_argument("--num_warmup_steps", type=int, required=True)
    parser.add_argument("--decay_power", type=float, default=1.0)
    parser.add_argument("--train_batch_size", type=int, default=32)
    parser.add_argument("--eval_batch_size", type=int, default=32)
    parser.add_argument("--eval_steps", default="", help="comma-separated updates after which to evaluate (0: init)")
    parser.add_argument("--seed", type=int, default=1, help="weights, dropout and input order")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    args.eval_steps = {int(step) for step in args.eval_steps.split(",") if step}
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    assert "tensorflow" not in sys.modules, "the PyTorch side must not load TensorFlow"
    torch.set_num_threads(args.threads)
    train_data, eval_data = load_arrays(args.train_npz), load_arrays(args.eval_npz)
    model = build_model(args.bert_config_file, args.seed)
    model.train()
    print(f"{len(train_data['input_ids'])} train, {len(eval_data['input_ids'])} eval sequences; "
          f"{args.optimizer_type}, lr {args.learning_rate}, {args.num_train_steps} updates of {args.train_batch_size}",
          flush=True)
    record = train(args, model, train_data, eval_data)
    record.update(worker_seconds=time.perf_counter() - started, torch=torch.__version__,
                  transformers=transformers.__version__, threads=torch.get_num_threads(),
                  attention=model.config._attn_implementation)
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "results.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    print(f"Finished at step {args.num_train_steps}", flush=True)


if __name__ == "__main__":
    main()
