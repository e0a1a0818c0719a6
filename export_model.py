"""Turns any checkpoint this toolkit reads into a folder other tools open.

    --format=hf          config.json, model.safetensors (HF names), vocab.txt and the tokenizer
                         config: `transformers.AutoModel.from_pretrained(DIR)` and
                         `AutoTokenizer.from_pretrained(DIR)` load it offline, no PyTorch needed here
    --format=google      model.ckpt (Google's TF1 variable names), bert_config.json, vocab.txt
    --format=savedmodel  a TF SavedModel, signature serving_default: int32 input_ids,
                         input_mask, segment_ids [batch, --max_seq_length] to float32 outputs

The head is whatever the checkpoint holds: pretraining (MLM + NSP), SQuAD spans, a
sequence classifier, or none. The output folder is written beside its final name and
moved into place when complete.

    python export_model.py --init_checkpoint=results/pretraining --vocab_file=vocab.txt \
        --format=hf --output_dir=results/my-bert-hf
"""

import os

from absl import app, flags

from bert import checkpoints, export, hf_export, modeling
from bert import flags as cli_flags
from bert.errors import InputError, run_main
from bert.files import staged_folder

FORMATS = ("hf", "google", "savedmodel")

cli_flags.define_model_flags(max_seq_length=384)
flags.DEFINE_string("format", "hf", f"What to write: {', '.join(FORMATS)}.")
flags.DEFINE_string("output_dir", None, "The folder to create.")
flags.DEFINE_bool("overwrite", False, "Replace a non-empty --output_dir.")
FLAGS = flags.FLAGS


def check_flags():
    cli_flags.require(init_checkpoint=FLAGS.init_checkpoint, output_dir=FLAGS.output_dir)
    if FLAGS.format not in FORMATS:
        raise InputError(f"--format: unknown format '{FLAGS.format}' (choose from {', '.join(FORMATS)})")
    if os.path.isfile(FLAGS.output_dir) or (os.path.isdir(FLAGS.output_dir) and os.listdir(FLAGS.output_dir)
                                            and not FLAGS.overwrite):
        raise InputError(f"--output_dir: {FLAGS.output_dir} exists and is not empty (pass --overwrite to replace it)")


def vocab_file(config):
    """--vocab_file, or the vocab.txt next to --init_checkpoint, checked against `config`'s vocab_size."""
    path = FLAGS.vocab_file
    if not path:
        folder = FLAGS.init_checkpoint if os.path.isdir(FLAGS.init_checkpoint) \
            else os.path.dirname(FLAGS.init_checkpoint)
        path = os.path.join(folder, "vocab.txt")
        if not os.path.exists(path):
            raise InputError(f"--vocab_file: not given, and no vocab.txt next to --init_checkpoint ({folder})")
    try:
        with open(path, encoding="utf-8") as f:
            size = sum(1 for _ in f)
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"--vocab_file: cannot read {path} ({getattr(error, 'strerror', None) or error})") from None
    if size > config.vocab_size:
        raise InputError(f"--vocab_file: {path} has {size} tokens but the model's vocab_size is {config.vocab_size}")
    return path


def label_names(num_labels):
    """The class names in the label_list.txt next to --init_checkpoint (run_classifier.py and run_ner.py write
    one), or None when there is none or it does not hold `num_labels` lines."""
    folder = FLAGS.init_checkpoint if os.path.isdir(FLAGS.init_checkpoint) else os.path.dirname(FLAGS.init_checkpoint)
    try:
        with open(os.path.join(folder, "label_list.txt"), encoding="utf-8") as f:
            labels = [line.rstrip("\n") for line in f]
    except (OSError, UnicodeDecodeError):
        return None
    return labels if len(labels) == num_labels else None


def main(argv):
    del argv
    check_flags()
    checkpoints.open_weights(FLAGS.init_checkpoint)  # a missing checkpoint is named before anything else
    config = modeling.BertConfig.from_json_file(
        cli_flags.resolve_bert_config(FLAGS.bert_config_file, FLAGS.init_checkpoint))
    vocab = vocab_file(config) if FLAGS.format in ("hf", "google") else None
    model, architecture = export.model_for_checkpoint(config, FLAGS.init_checkpoint)
    with staged_folder(FLAGS.output_dir) as staging:
        if FLAGS.format == "hf":
            labels = label_names(model.num_labels) if hasattr(model, "num_labels") else None
            hf_export.write_huggingface_model(model, config, staging, vocab, FLAGS.do_lower_case, architecture,
                                              labels)
        elif FLAGS.format == "google":
            export.export_google_model(model, config, staging, vocab_file=vocab)
        else:
            served, outputs = export.served_model(model, architecture)
            export.write_saved_model(served, staging, FLAGS.max_seq_length, outputs)
    print(f"Wrote {architecture} ({FLAGS.format}) to {os.path.abspath(FLAGS.output_dir)}", flush=True)


if __name__ == "__main__":
    app.run(lambda argv: run_main(main, argv))
