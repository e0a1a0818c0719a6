"""Flags shared by the scripts, with Google's and NVIDIA's names and defaults.

Each `define_*` function declares one group; a script calls the groups it needs, then
`resolve_bert_config` to find the config when `--bert_config_file` is left out (or
`config_and_tokenizer` for the config and the checked tokenizer at once), and
`require` / `require_at_least_one` to check values before any work is done.

absl lists a flag in a script's `--help` when the script defined it. The training flags
are each script's own (their defaults and help differ per script), so this module
disclaims them and they count as defined by the script that calls
`define_training_flags`; the model and precision flags stay this module's, listed by
`--helpfull` under bert.flags.
"""

import os

from absl import flags

from bert import modeling
from bert.errors import InputError
from bert.text import tokenization

flags.disclaim_key_flags()
_THIS_MODULE = {"module_name": __name__}  # for the groups listed under bert.flags
OPTIMIZER_TYPES = ("adam", "lamb")


def define_model_flags(max_seq_length=128):
    flags.DEFINE_string("bert_config_file", None,
                        "BERT config JSON (Google's bert_config.json or Hugging Face's config.json). "
                        "Defaults to the one next to --init_checkpoint.", **_THIS_MODULE)
    flags.DEFINE_string("vocab_file", None, "WordPiece vocabulary the model was trained with.", **_THIS_MODULE)
    flags.DEFINE_string("init_checkpoint", None,
                        "Initial weights: a Google TF checkpoint prefix, one of ours, a Hugging Face folder "
                        "(config.json + model.safetensors) or a .safetensors file.", **_THIS_MODULE)
    flags.DEFINE_bool("do_lower_case", True, "Lower-case and strip accents (uncased models).", **_THIS_MODULE)
    flags.DEFINE_integer("max_seq_length", max_seq_length, "Tokens per sequence after WordPiece, padded.",
                         **_THIS_MODULE)


def define_precision_flags():
    flags.DEFINE_bool("amp", False, "Mixed precision (see --amp_dtype).", **_THIS_MODULE)
    flags.DEFINE_enum("amp_dtype", "float16", ["float16", "bfloat16"],
                      "What --amp uses: float16 with dynamic loss scaling, or bfloat16.", **_THIS_MODULE)
    flags.DEFINE_bool("use_xla", False, "Compile steps with XLA (declined for bf16 on CPU, where it is slower).",
                      **_THIS_MODULE)
    flags.DEFINE_bool("force_xla", False, "Compile with XLA even where the run-time plan declines it (bf16 on CPU).",
                      **_THIS_MODULE)
    flags.DEFINE_bool("onednn_inference", True, "On a CPU, a run that neither trains nor exports (no --do_train or "
                      "--export_dir) caches its weights in oneDNN's matmul layouts, uses its fused LayerNorm and "
                      "computes attention in chunks of examples (see --attention_chunk_kib).", **_THIS_MODULE)
    flags.DEFINE_integer("attention_chunk_kib", None, "With --onednn_inference: how many KiB of attention scores one "
                         "chunk of examples may hold (default: one core's L2 cache, as the CPU reports it; 0: the "
                         "whole batch at once).", lower_bound=0, **_THIS_MODULE)


def define_training_flags(train_batch_size, optimizer_type, help_texts):
    """The flags of a training run: output folder, batch, optimizer, logging, seed, Horovod.

    Args:
        train_batch_size: default of --train_batch_size (examples per replica per micro-batch).
        optimizer_type: default of --optimizer_type, "adam" or "lamb"; listed first.
        help_texts: the script's help of "output_dir", "do_train", "train_batch_size",
            "learning_rate", "optimizer_type", "save_checkpoints_steps" and "dllog_path".
    """
    flags.DEFINE_string("output_dir", None, help_texts["output_dir"])
    flags.DEFINE_bool("do_train", False, help_texts["do_train"])
    flags.DEFINE_integer("train_batch_size", train_batch_size, help_texts["train_batch_size"])
    flags.DEFINE_float("learning_rate", 5e-5, help_texts["learning_rate"])
    flags.DEFINE_enum("optimizer_type", optimizer_type,
                      [optimizer_type] + [name for name in OPTIMIZER_TYPES if name != optimizer_type],
                      help_texts["optimizer_type"])
    flags.DEFINE_integer("save_checkpoints_steps", 1000, help_texts["save_checkpoints_steps"])
    flags.DEFINE_integer("display_loss_steps", 10, "Updates between log lines.")
    flags.DEFINE_integer("num_accumulation_steps", 1, "Micro-batches per update.")
    flags.DEFINE_string("dllog_path", None, help_texts["dllog_path"])
    flags.DEFINE_integer("seed", 12345, "Seed of weight initialisation, dropout and input order.")
    flags.DEFINE_bool("horovod", False, "All-reduce with Horovod across the processes horovodrun starts (one per GPU) "
                      "instead of tf.distribute.")


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


def config_and_tokenizer(flag_values):
    """(BertConfig, FullTokenizer) from --bert_config_file (or the checkpoint's), --vocab_file, --do_lower_case.

    Raises:
        InputError: no config, --max_seq_length beyond the config's max_position_embeddings,
            or a vocabulary larger than the config's vocab_size.
    """
    config = modeling.BertConfig.from_json_file(
        resolve_bert_config(flag_values.bert_config_file, flag_values.init_checkpoint))
    if flag_values.max_seq_length > config.max_position_embeddings:
        raise InputError(f"--max_seq_length: {flag_values.max_seq_length} exceeds the config's "
                         f"max_position_embeddings ({config.max_position_embeddings})")
    tokenizer = tokenization.FullTokenizer(flag_values.vocab_file, flag_values.do_lower_case)
    if len(tokenizer.vocab) > config.vocab_size:
        raise InputError(f"--vocab_file: {flag_values.vocab_file} has {len(tokenizer.vocab)} tokens but the "
                         f"model's vocab_size is {config.vocab_size}")
    return config, tokenizer


def require(**values):
    """InputError naming the first flag in `values` that is unset."""
    for name, value in values.items():
        if value in (None, ""):
            raise InputError(f"--{name}: required")


def require_at_least_one(flag_values, *names):
    """InputError naming the first of the integer flags `names` whose value in `flag_values` is below 1."""
    for name in names:
        value = getattr(flag_values, name)
        if value < 1:
            raise InputError(f"--{name}: must be at least 1, got {value}")
