"""Flags shared by the scripts, with Google's and NVIDIA's names and defaults.

Each `define_*` function declares one group; a script calls the groups it needs, then
`resolve_bert_config` to find the config when `--bert_config_file` is left out.
"""

import os

from absl import flags

from bert.errors import InputError


def define_model_flags(max_seq_length=128):
    flags.DEFINE_string("bert_config_file", None,
                        "BERT config JSON (Google's bert_config.json or Hugging Face's config.json). "
                        "Defaults to the one next to --init_checkpoint.")
    flags.DEFINE_string("vocab_file", None, "WordPiece vocabulary the model was trained with.")
    flags.DEFINE_string("init_checkpoint", None,
                        "Initial weights: a Google TF checkpoint prefix, one of ours, a Hugging Face folder "
                        "(config.json + model.safetensors) or a .safetensors file.")
    flags.DEFINE_bool("do_lower_case", True, "Lower-case and strip accents (uncased models).")
    flags.DEFINE_integer("max_seq_length", max_seq_length, "Tokens per sequence after WordPiece, padded.")


def define_precision_flags():
    flags.DEFINE_bool("amp", False, "Mixed precision (see --amp_dtype).")
    flags.DEFINE_enum("amp_dtype", "float16", ["float16", "bfloat16"],
                      "What --amp uses: float16 with dynamic loss scaling, or bfloat16.")
    flags.DEFINE_bool("use_xla", False, "Compile steps with XLA (declined for bf16 on CPU, where it is slower).")


def resolve_bert_config(bert_config_file, init_checkpoint):
    """`bert_config_file`, or the config next to `init_checkpoint`; InputError if there is none."""
    if bert_config_file:
        return bert_config_file
    if init_checkpoint:
        folder = init_checkpoint if os.path.isdir(init_checkpoint) else os.path.dirname(init_checkpoint)
        for name in ("bert_config.json", "config.json"):
            candidate = os.path.join(folder, name)
            if os.path.exists(candidate):
                return candidate
    raise InputError("--bert_config_file: not given, and no bert_config.json or config.json next to --init_checkpoint")


def require(**values):
    """InputError naming the first flag in `values` that is unset."""
    for name, value in values.items():
        if value in (None, ""):
            raise InputError(f"--{name}: required")
