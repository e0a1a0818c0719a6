"""Writing a model as a Hugging Face transformers folder, without importing PyTorch.

The folder holds what `AutoModel.from_pretrained` and `AutoTokenizer.from_pretrained` read
offline:
    config.json              HF's BertConfig keys, `model_type` "bert" and `architectures`
    model.safetensors        float32 weights under HF's names (`bert.encoder.layer.0...`),
                             linear kernels transposed to PyTorch's [out, in]
    vocab.txt, tokenizer_config.json, special_tokens_map.json
                             a WordPiece tokenizer with the model's casing

The names are the exact inverse of `checkpoints.huggingface_to_google_name`, so loading the
folder back with `--init_checkpoint` restores every weight bit for bit.

Example:
    >>> write_huggingface_model(model, config, "export/hf", "vocab.txt", do_lower_case=True)
    >>> # transformers.AutoModelForPreTraining.from_pretrained("export/hf")
"""

import json
import os
import re
import shutil

import numpy as np
import safetensors.numpy

from bert import checkpoints
from bert.files import write_text_atomically

_GOOGLE_SPECIAL = {google: hf for hf, google in checkpoints.HF_SPECIAL_NAMES.items()}
_GOOGLE_SPECIAL.update({"cls/ner/output_weights": "classifier/weight", "cls/ner/output_bias": "classifier/bias"})
_GOOGLE_LAYER = re.compile(r"/layer_(\d+)/")
# Google's `hidden_act` values and HF's names for the same functions.
_HF_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_new", "gelu_approximate": "gelu_new", "relu": "relu"}
SPECIAL_TOKENS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                  "mask_token": "[MASK]"}


def google_to_huggingface_name(google_name, base_prefix="bert."):
    """(HF key, transpose?) for a Google variable name.

    `base_prefix` goes before the encoder's names: "bert." in a model with a head, "" in a
    bare `BertModel` folder. Head names (`cls/...`, `output_weights`) keep HF's own keys.
    """
    if google_name in _GOOGLE_SPECIAL:
        return _GOOGLE_SPECIAL[google_name].replace("/", "."), False
    name = _GOOGLE_LAYER.sub(lambda match: f"/layer/{match.group(1)}/", google_name)
    transpose = False
    if name.endswith("/gamma") or name.endswith("/beta"):
        name = name[: name.rindex("/")] + ("/weight" if name.endswith("/gamma") else "/bias")
    elif name.endswith("_embeddings"):
        name += "/weight"
    elif name.endswith("/kernel"):
        name, transpose = name[: -len("kernel")] + "weight", True
    if name.startswith("bert/"):
        name = base_prefix.replace(".", "/") + name[len("bert/"):]
    return name.replace("/", "."), transpose


def huggingface_config(config, architecture, pad_token_id=0, labels=None):
    """HF's config.json content for `config` (a `BertConfig`) and an architecture name.

    `labels`, for a classifier or tagger, names the classes in logit order.
    """
    values = {
        "architectures": [architecture],
        "model_type": "bert",
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "intermediate_size": config.intermediate_size,
        "hidden_act": _HF_ACTIVATIONS[config.hidden_act],
        "hidden_dropout_prob": config.hidden_dropout_prob,
        "attention_probs_dropout_prob": config.attention_probs_dropout_prob,
        "max_position_embeddings": config.max_position_embeddings,
        "type_vocab_size": config.type_vocab_size,
        "initializer_range": config.initializer_range,
        "layer_norm_eps": 1e-12,
        "pad_token_id": pad_token_id,
        "position_embedding_type": "absolute",
    }
    if labels is not None:
        values["id2label"] = {str(i): str(label) for i, label in enumerate(labels)}
        values["label2id"] = {str(label): i for i, label in enumerate(labels)}
    return values


def huggingface_tensors(model, base_prefix="bert."):
    """{HF key: float32 numpy array} of every weight of `model` (which has `google_weights()`)."""
    tensors = {}
    for google_name, value in checkpoints.google_named_tensors(model).items():
        key, transpose = google_to_huggingface_name(google_name, base_prefix)
        array = np.asarray(value, dtype=np.float32)
        tensors[key] = np.ascontiguousarray(array.T if transpose else array)
    return tensors


def _write_json(folder, name, values):
    write_text_atomically(os.path.join(folder, name), json.dumps(values, indent=2, sort_keys=True) + "\n")


def _vocab_tokens(vocab_file):
    with open(vocab_file, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def write_huggingface_model(model, config, output_dir, vocab_file, do_lower_case, architecture, labels=None):
    """Writes config.json, model.safetensors and the tokenizer files into `output_dir` (which exists).

    Args:
        model: a built model of this toolkit whose head matches `architecture`.
        config: its `BertConfig`.
        vocab_file: the WordPiece vocabulary, one token per line; copied as vocab.txt.
        do_lower_case: whether the tokenizer lower-cases and strips accents.
        architecture: HF's class name ("BertModel", "BertForPreTraining", ...).
        labels: class names of a classifier or tagger, in logit order (default LABEL_0, LABEL_1, ...).
    """
    if architecture in ("BertForSequenceClassification", "BertForTokenClassification") and labels is None:
        labels = [f"LABEL_{i}" for i in range(model.num_labels)]
    tokens = _vocab_tokens(vocab_file)
    base_prefix = "" if architecture == "BertModel" else "bert."
    pad_token_id = tokens.index("[PAD]") if "[PAD]" in tokens else 0
    safetensors.numpy.save_file(huggingface_tensors(model, base_prefix), os.path.join(output_dir, "model.safetensors"),
                                metadata={"format": "pt"})
    _write_json(output_dir, "config.json", huggingface_config(config, architecture, pad_token_id, labels))
    _write_json(output_dir, "tokenizer_config.json", {
        "tokenizer_class": "BertTokenizer", "do_lower_case": do_lower_case, "strip_accents": None,
        "tokenize_chinese_chars": True, "model_max_length": config.max_position_embeddings, **SPECIAL_TOKENS})
    _write_json(output_dir, "special_tokens_map.json", SPECIAL_TOKENS)
    shutil.copyfile(vocab_file, os.path.join(output_dir, "vocab.txt"))
