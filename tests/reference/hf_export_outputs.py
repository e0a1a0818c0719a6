"""Loads an `export_model.py --format=hf` folder with transformers and writes what it computes.

Runs in the reference virtualenv (PyTorch and transformers, no TensorFlow), offline. The
folder is opened as a newcomer would: `AutoTokenizer.from_pretrained`, `AutoModel` for the
encoder, and the Auto class of its `architectures` entry for the head; any missing,
unexpected or mismatched weight is an error (for AutoModel, the head's own weights are
rightly left unused). The .npz written holds, for the texts given
(one per line, or all pairs written `A ||| B`), padded to --max_seq_length:
    input_ids, attention_mask, token_type_ids   int64 [N, L], from the exported tokenizer
    last_hidden_state                           float32 [N, L, hidden], from AutoModel
    and the head's float32 outputs: prediction_logits [N, L, vocab] and
    seq_relationship_logits [N, 2] (pretraining), start_logits and end_logits [N, L]
    (question answering), or logits [N, labels] (sequence classification) or [N, L, labels]
    (token classification).

    python -m tests.reference.hf_export_outputs --model_dir=DIR --texts_file=texts.txt \
        --max_seq_length=32 --output_file=outputs.npz
"""

import argparse
import json
import os
import sys

import numpy as np

HEAD_OUTPUTS = {
    "BertForPreTraining": ("AutoModelForPreTraining", ("prediction_logits", "seq_relationship_logits")),
    "BertForQuestionAnswering": ("AutoModelForQuestionAnswering", ("start_logits", "end_logits")),
    "BertForSequenceClassification": ("AutoModelForSequenceClassification", ("logits",)),
    "BertForTokenClassification": ("AutoModelForTokenClassification", ("logits",)),
    "BertModel": ("AutoModel", ()),
}

# transformers' span and tagging heads have no pooler, so its encoder is loaded without one.
ENCODER_OPTIONS = {"BertForQuestionAnswering": {"add_pooling_layer": False},
                   "BertForTokenClassification": {"add_pooling_layer": False}}


def load_cleanly(auto_class, model_dir, head_keys_unused=False, **model_options):
    """The model in eval mode; exits with the loading report if any weight did not match.

    `head_keys_unused`: the encoder alone is loaded from a folder with a head, whose own
    weights (keys outside `bert.`) are then rightly unused.
    """
    model, loading = auto_class.from_pretrained(model_dir, output_loading_info=True, **model_options)
    if head_keys_unused:
        loading["unexpected_keys"] = {key for key in loading["unexpected_keys"] if key.startswith("bert.")}
    problems = {kind: sorted(loading[kind]) for kind in ("missing_keys", "unexpected_keys", "mismatched_keys")
                if loading[kind]}
    if problems:
        raise SystemExit(f"{auto_class.__name__} did not load {model_dir} cleanly: {json.dumps(problems)}")
    return model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--texts_file", required=True)
    parser.add_argument("--max_seq_length", type=int, required=True)
    parser.add_argument("--output_file", required=True)
    args = parser.parse_args()
    if "tensorflow" in sys.modules:
        raise SystemExit("TensorFlow is loaded: run this in the reference virtualenv only")
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    import transformers

    with open(args.texts_file, encoding="utf-8") as f:
        texts = [line.rstrip("\n").split(" ||| ") for line in f]
    tokenizer = transformers.AutoTokenizer.from_pretrained(args.model_dir)
    if len({len(text) for text in texts}) != 1:
        raise SystemExit(f"{args.texts_file}: mixes single texts and pairs")
    encoded = tokenizer([text[0] for text in texts], [text[1] for text in texts] if len(texts[0]) == 2 else None,
                        padding="max_length", truncation=True, max_length=args.max_seq_length, return_tensors="pt")
    inputs = {name: encoded[name] for name in ("input_ids", "attention_mask", "token_type_ids")}
    config = transformers.AutoConfig.from_pretrained(args.model_dir)
    auto_name, head_outputs = HEAD_OUTPUTS[config.architectures[0]]
    results = {name: value.numpy() for name, value in inputs.items()}
    with torch.no_grad():
        results["last_hidden_state"] = load_cleanly(transformers.AutoModel, args.model_dir, bool(head_outputs),
                                                     **ENCODER_OPTIONS.get(config.architectures[0], {}))(**inputs) \
            .last_hidden_state.numpy()
        if head_outputs:
            outputs = load_cleanly(getattr(transformers, auto_name), args.model_dir)(**inputs)
            results.update({name: getattr(outputs, name).numpy() for name in head_outputs})
    np.savez(args.output_file, tokenizer_class=type(tokenizer).__name__, **results)


if __name__ == "__main__":
    main()
