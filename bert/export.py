"""Writing a trained model for use elsewhere: Google's folder layout, a SavedModel, and its head.

    export_google_model   model.ckpt (Google's variable names), bert_config.json and, given
                          one, vocab.txt: what `--init_checkpoint` and Google-era tools read
    check_export_dir      refuses an --export_dir holding anything but an earlier export
    export_saved_model    a SavedModel whose `serving_default` maps int32 input_ids,
                          input_mask, segment_ids [batch, max_seq_length] to float32 outputs:
                          start_logits and end_logits [batch, max_seq_length] (SQuAD), or
                          another model's named outputs
    architecture_of       which head a checkpoint's weights hold, by HF's class name
    model_for_checkpoint  the model of that architecture, built, with every weight loaded

Example:
    >>> export_google_model(model, config, "results/squad", vocab_file="vocab.txt")
    >>> export_saved_model(model, "results/squad/export", max_seq_length=384)
"""

import os
import shutil

import tensorflow as tf

from bert import checkpoints, modeling
from bert.errors import InputError
from bert.files import staged_folder
from bert.squad.features import INPUT_NAMES

SQUAD_OUTPUTS = ("start_logits", "end_logits")
# What a SavedModel serves per architecture: (attribute holding the served model or None, outputs).
SERVED = {
    "BertForQuestionAnswering": (None, SQUAD_OUTPUTS),
    "BertForSequenceClassification": (None, ("logits",)),
    "BertForTokenClassification": (None, ("logits",)),
    "BertForPreTraining": ("bert", ("sequence_output", "pooled_output")),
    "BertModel": (None, ("sequence_output", "pooled_output")),
}


def export_google_model(model, config, output_dir, vocab_file=None):
    """Writes `model.ckpt`, `bert_config.json` and (with `vocab_file`) a copy of the vocabulary into `output_dir`."""
    checkpoints.export_google_checkpoint(model, os.path.join(output_dir, "model.ckpt"))
    config.to_json_file(os.path.join(output_dir, "bert_config.json"))
    if vocab_file:
        vocab_copy = os.path.join(output_dir, "vocab.txt")
        if not (os.path.exists(vocab_copy) and os.path.samefile(vocab_copy, vocab_file)):
            shutil.copyfile(vocab_file, vocab_copy)


class ServingModule(tf.Module):
    """The SavedModel's root: `serve` maps int32 input_ids, input_mask, segment_ids to the named outputs."""

    def __init__(self, model, max_seq_length, output_names):
        super().__init__()
        self.model = model
        self.output_names = tuple(output_names)
        self.model_variables = [variable.value for variable in model.variables]
        specs = [tf.TensorSpec([None, max_seq_length], tf.int32, name=name) for name in INPUT_NAMES]
        self.serve = tf.function(self._serve, input_signature=specs)

    def _serve(self, input_ids, input_mask, segment_ids):
        outputs = self.model({"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids},
                             training=False)
        return {name: tf.cast(outputs[name], tf.float32) for name in self.output_names}


def check_export_dir(export_dir):
    """InputError unless `export_dir` is absent, empty or an earlier SavedModel (which an export replaces)."""
    if os.path.isdir(export_dir) and os.listdir(export_dir) \
            and not os.path.exists(os.path.join(export_dir, "saved_model.pb")):
        raise InputError(f"--export_dir: {export_dir} holds files that are not a SavedModel; "
                         "give an empty or new folder")


def export_saved_model(model, export_dir, max_seq_length, output_names=SQUAD_OUTPUTS):
    """Writes the SavedModel of `model` serving `output_names` into `export_dir`, atomically.

    An earlier export in `export_dir` is replaced (`check_export_dir` refuses any other
    content first). Returns the absolute path of `export_dir`.
    """
    with staged_folder(export_dir) as staging:
        write_saved_model(model, staging, max_seq_length, output_names)
    return os.path.abspath(export_dir)


def write_saved_model(model, folder, max_seq_length, output_names):
    """Writes the SavedModel (signature `serving_default`) into the existing empty `folder`."""
    module = ServingModule(model, max_seq_length, output_names)
    tf.saved_model.save(module, folder, signatures={"serving_default": module.serve})


def architecture_of(shapes):
    """(HF architecture name, number of labels or None) of a checkpoint's {Google name: shape}."""
    if "cls/squad/output_weights" in shapes:
        return "BertForQuestionAnswering", None
    if "cls/predictions/output_bias" in shapes:
        return "BertForPreTraining", None
    if "cls/ner/output_weights" in shapes:
        return "BertForTokenClassification", shapes["cls/ner/output_weights"][0]
    if "output_weights" in shapes:
        return "BertForSequenceClassification", shapes["output_weights"][0]
    return "BertModel", None


def model_for_checkpoint(config, init_checkpoint):
    """(model, architecture): the model whose weights are exactly the checkpoint's, all loaded.

    Raises:
        InputError: no checkpoint at `init_checkpoint`, or `config` does not match it (a
            weight of another shape, missing from it, or left over in it; a pooler is
            rightly left over for the span and tagging heads, which have none).
    """
    source = checkpoints.open_weights(init_checkpoint)
    architecture, num_labels = architecture_of(source.shapes)
    if num_labels is not None:
        model = getattr(modeling, architecture)(config, num_labels)
    else:
        model = getattr(modeling, architecture)(config)
    modeling.build_model(model)
    report = checkpoints.load_weights(model, init_checkpoint)
    if report.missing:
        raise InputError(f"{init_checkpoint}: does not match the config: the checkpoint lacks "
                         f"'{report.missing[0]}' ({len(report.missing)} model weights missing)")
    has_pooler = getattr(model, "bert", model).pooler is not None
    unused = [name for name in report.unused if has_pooler or not name.startswith("bert/pooler/")]
    if unused:
        raise InputError(f"{init_checkpoint}: does not match the config, which has no place for the checkpoint's "
                         f"'{unused[0]}' ({len(unused)} weights unused)")
    return model, architecture


def served_model(model, architecture):
    """(the Keras model a SavedModel of `architecture` serves, its output names)."""
    attribute, outputs = SERVED[architecture]
    return (getattr(model, attribute) if attribute else model), outputs
