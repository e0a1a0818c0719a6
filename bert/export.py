"""Writing a trained model for use elsewhere: a folder like Google's releases, and (SQuAD) a SavedModel.

    export_google_model   model.ckpt (Google's variable names), bert_config.json and, given
                          one, vocab.txt: what `--init_checkpoint` and Google-era tools read
    check_export_dir      refuses an --export_dir holding anything but an earlier export
    export_saved_model    a SavedModel whose `serving_default` maps int32 input_ids,
                          input_mask, segment_ids [batch, max_seq_length] to float32
                          start_logits, end_logits [batch, max_seq_length]

Example:
    >>> export_google_model(model, config, "results/squad", vocab_file="vocab.txt")
    >>> export_saved_model(model, "results/squad/export", max_seq_length=384)
"""

import os
import shutil
import tempfile

import tensorflow as tf

from bert import checkpoints
from bert.errors import InputError
from bert.squad.features import INPUT_NAMES


def export_google_model(model, config, output_dir, vocab_file=None):
    """Writes `model.ckpt`, `bert_config.json` and (with `vocab_file`) a copy of the vocabulary into `output_dir`."""
    checkpoints.export_google_checkpoint(model, os.path.join(output_dir, "model.ckpt"))
    config.to_json_file(os.path.join(output_dir, "bert_config.json"))
    if vocab_file:
        vocab_copy = os.path.join(output_dir, "vocab.txt")
        if not (os.path.exists(vocab_copy) and os.path.samefile(vocab_copy, vocab_file)):
            shutil.copyfile(vocab_file, vocab_copy)


class SquadServingModule(tf.Module):
    """The SavedModel's root: `serve` maps int32 input_ids, input_mask, segment_ids to the span logits."""

    def __init__(self, model, max_seq_length):
        super().__init__()
        self.model = model
        self.model_variables = [variable.value for variable in model.variables]
        specs = [tf.TensorSpec([None, max_seq_length], tf.int32, name=name) for name in INPUT_NAMES]
        self.serve = tf.function(self._serve, input_signature=specs)

    def _serve(self, input_ids, input_mask, segment_ids):
        outputs = self.model({"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids},
                             training=False)
        return {"start_logits": outputs["start_logits"], "end_logits": outputs["end_logits"]}


def check_export_dir(export_dir):
    """InputError unless `export_dir` is absent, empty or an earlier SavedModel (which an export replaces)."""
    if os.path.isdir(export_dir) and os.listdir(export_dir) \
            and not os.path.exists(os.path.join(export_dir, "saved_model.pb")):
        raise InputError(f"--export_dir: {export_dir} holds files that are not a SavedModel; "
                         "give an empty or new folder")


def export_saved_model(model, export_dir, max_seq_length):
    """Writes the SavedModel of a `BertForQuestionAnswering` into a sibling temporary folder, then moves it in place.

    An earlier export in `export_dir` is replaced (`check_export_dir` refuses any other
    content first). Returns the absolute path of `export_dir`.
    """
    export_dir = os.path.abspath(export_dir)
    parent = os.path.dirname(export_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        module = SquadServingModule(model, max_seq_length)
        tf.saved_model.save(module, staging, signatures={"serving_default": module.serve})
        if os.path.isdir(export_dir):
            shutil.rmtree(export_dir)
        os.replace(staging, export_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return export_dir
