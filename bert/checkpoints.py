"""Reading and writing model weights by Google's variable names.

One naming scheme joins every format: Google's TF1 names (`bert/encoder/layer_0/attention/
self/query/kernel`, `cls/predictions/output_bias`, ...). Sources that `--init_checkpoint`
accepts, all read lazily, one tensor at a time:
  - a TF checkpoint prefix: Google's released `bert_model.ckpt`, this project's training
    checkpoints (`ckpt-N`) and its Google-named exports (optimizer slots `*/adam_m`,
    `*/adam_v`, `global_step` and our training state are skipped);
  - a folder holding one of those, or a `checkpoint` pointer file (TF's CheckpointState,
    or the one-line `ckpt-N` form of earlier versions) naming the checkpoint to use;
  - a Hugging Face BERT folder (`config.json` + `model.safetensors`) or a `.safetensors`
    file, keys with or without the `bert.` prefix (renamed, and kernels transposed).

Example:
    >>> report = load_weights(model, "uncased_L-12_H-768_A-12/bert_model.ckpt")
    >>> print(report.summary())
    >>> export_google_checkpoint(model, "results/model.ckpt")
"""

import dataclasses
import glob
import json
import os
import re
import shutil
import tempfile

import numpy as np
import safetensors
import tensorflow as tf

from bert.errors import InputError

# Keys that belong to training state rather than to the model.
_SKIPPED_KEY = re.compile(r"(^|/)(adam_m|adam_v|global_step)$|^(optimizer|training|keras_state)/|^_CHECKPOINTABLE")
POINTER_FILE = "checkpoint"
_ONE_LINE_POINTER = re.compile(r'^[^\s:"]+$')  # a bare name, which CheckpointState text never is


class WeightSource:
    """Named float32 arrays from one checkpoint: `shapes` {name: shape} and `read(name)`."""

    def __init__(self, description, shapes, reader):
        self.description = description
        self.shapes = shapes
        self._reader = reader

    def read(self, name):
        return np.asarray(self._reader(name), dtype=np.float32)


def open_weights(path):
    """Opens any supported checkpoint form (see the module docstring) as a `WeightSource`."""
    path = str(path)
    if os.path.isdir(path):
        return open_weights(_checkpoint_in_folder(path))
    if path.endswith(".safetensors"):
        return _open_safetensors(path)
    if not tf.io.gfile.exists(path + ".index"):
        raise InputError(f"{path}: no checkpoint here (expected {path}.index, a folder, or a .safetensors file)")
    try:
        reader = tf.train.load_checkpoint(path)
    except (tf.errors.OpError, ValueError) as error:
        raise InputError(f"{path}: unreadable checkpoint ({error.__class__.__name__})") from None
    shapes = {name: tuple(shape) for name, shape in reader.get_variable_to_shape_map().items()
              if not _SKIPPED_KEY.search(name)}
    return WeightSource(f"TF checkpoint {path}", shapes, reader.get_tensor)


def latest_checkpoint(folder):
    """The prefix the `checkpoint` pointer file in `folder` names, or None.

    The file is TF's CheckpointState text, as `TrainState.save` and TF's own savers write it
    (`model_checkpoint_path: "ckpt-30"`), or the bare name `ckpt-30` on one line, as earlier
    versions of `TrainState.save` wrote it, so a run started before the change still resumes.
    """
    pointer = os.path.join(folder, POINTER_FILE)
    if not os.path.exists(pointer):
        return None
    with open(pointer, encoding="utf-8") as f:
        text = f.read().strip()
    if not text:
        return None
    if _ONE_LINE_POINTER.match(text):
        return os.path.join(folder, text)
    state = tf.train.get_checkpoint_state(folder)
    return state.model_checkpoint_path if state else None


def _checkpoint_in_folder(folder):
    candidates = [latest_checkpoint(folder)]
    candidates += [os.path.join(folder, name) for name in ("model.safetensors", "bert_model.ckpt", "model.ckpt")]
    for candidate in candidates:
        if candidate and (os.path.exists(candidate) or tf.io.gfile.exists(candidate + ".index")):
            return candidate
    indexes = sorted(glob.glob(os.path.join(folder, "*.index")))
    if len(indexes) == 1:
        return indexes[0][: -len(".index")]
    raise InputError(f"{folder}: no checkpoint found (looked for model.safetensors, bert_model.ckpt, a '{POINTER_FILE}' file)")


def _open_safetensors(path):
    try:
        handle = safetensors.safe_open(path, framework="numpy")
    except (OSError, safetensors.SafetensorError) as error:
        raise InputError(f"{path}: unreadable safetensors file ({error})") from None
    tagger = _architecture_beside(path) == "BertForTokenClassification"
    names = {}
    for key in handle.keys():
        google_name, transpose = huggingface_to_google_name(key, tagger)
        if google_name is not None:
            names[google_name] = (key, transpose)

    def shape_of(google_name):
        key, transpose = names[google_name]
        shape = tuple(handle.get_slice(key).get_shape())
        return shape[::-1] if transpose else shape

    def read(google_name):
        key, transpose = names[google_name]
        value = handle.get_tensor(key)
        return value.T if transpose else value

    shapes = {name: shape_of(name) for name in names}
    return WeightSource(f"Hugging Face safetensors {path}", shapes, read)


def _architecture_beside(path):
    """The first `architectures` entry of the config.json next to `path`, or None."""
    config = os.path.join(os.path.dirname(os.path.abspath(path)), "config.json")
    try:
        with open(config, encoding="utf-8") as f:
            architectures = json.load(f).get("architectures") or [None]
    except (OSError, ValueError, AttributeError):
        return None
    return architectures[0]


_HF_LAYER = re.compile(r"(^|/)layer/(\d+)/")
HF_SPECIAL_NAMES = {
    "cls/predictions/bias": "cls/predictions/output_bias",
    "cls/seq_relationship/weight": "cls/seq_relationship/output_weights",
    "cls/seq_relationship/bias": "cls/seq_relationship/output_bias",
    "qa_outputs/weight": "cls/squad/output_weights",
    "qa_outputs/bias": "cls/squad/output_bias",
    "classifier/weight": "output_weights",
    "classifier/bias": "output_bias",
}


def huggingface_to_google_name(key, tagger=False):
    """Maps a Hugging Face BERT key to (Google name, transpose?), or (None, False) if it has none.

    `tagger`: the key is from a `BertForTokenClassification`, whose `classifier` is our
    `cls/ner/` head rather than Google's sentence classifier.

    Linear weights are [out, in] in PyTorch and [in, out] kernels in TF, so they transpose;
    the [2, hidden] head weights keep Google's [num_outputs, hidden] layout. The decoder
    weight tied to the word embeddings and buffers such as `position_ids` map to nothing.
    """
    name = key.replace(".", "/")
    if name.startswith("bert/"):
        name = name[len("bert/"):]
    if name in HF_SPECIAL_NAMES:
        google_name = HF_SPECIAL_NAMES[name]
        return ("cls/ner/" + google_name if tagger and name.startswith("classifier/") else google_name), False
    if name.startswith("cls/predictions/decoder") or name.endswith("position_ids"):
        return None, False
    name = _HF_LAYER.sub(lambda m: f"{m.group(1)}layer_{m.group(2)}/", name)
    if not name.startswith("cls/"):
        name = "bert/" + name
    if "LayerNorm/" in name:
        return name.replace("LayerNorm/weight", "LayerNorm/gamma").replace("LayerNorm/bias", "LayerNorm/beta"), False
    if name.startswith("bert/embeddings/") and name.endswith("_embeddings/weight"):
        return name[: -len("/weight")], False
    if name.endswith("/weight"):
        return name[: -len("weight")] + "kernel", True
    return name, False


@dataclasses.dataclass
class LoadReport:
    """What `load_weights` did, by Google name."""

    source: str
    restored: list
    missing: list
    unused: list

    def summary(self):
        lines = [f"Loaded {len(self.restored)} weights from {self.source}."]
        if self.missing:
            lines.append(f"  {len(self.missing)} model weights not in the checkpoint (kept as initialised): "
                         + ", ".join(self.missing))
        if self.unused:
            lines.append(f"  {len(self.unused)} checkpoint weights unused: " + ", ".join(self.unused))
        return "\n".join(lines)


def load_weights(model, path):
    """Assigns every model weight found by name in the checkpoint at `path`; returns a LoadReport.

    `model` must be built and have `google_weights()`. A shape mismatch raises InputError
    naming the variable and both shapes; nothing is assigned in that case.
    """
    source = open_weights(path)
    slots = model.google_weights()
    found = [name for name in slots if name in source.shapes]
    for name in found:
        if tuple(source.shapes[name]) != tuple(slots[name].shape):
            raise InputError(f"{path}: variable '{name}' has shape {tuple(source.shapes[name])} in the checkpoint "
                             f"but {tuple(slots[name].shape)} in the model")
    parts_by_variable = {}
    for name in found:
        slot = slots[name]
        parts_by_variable.setdefault(id(slot.variable), (slot, {}))[1][slot.part] = source.read(name)
    missing = [name for name in slots if name not in source.shapes]
    for slot, parts in parts_by_variable.values():
        if len(parts) == slot.num_parts:
            slot.variable.assign(np.concatenate([parts[i] for i in range(slot.num_parts)], axis=-1))
        else:  # a fused weight is only assigned when all of its parts are there
            missing += [name for name in slots if slots[name].variable is slot.variable and name in found]
    restored = [name for name in found if name not in missing]
    unused = sorted(name for name in source.shapes if name not in slots)
    return LoadReport(source.description, restored, missing, unused)


def google_named_tensors(model):
    """{Google name: float32 tensor} of every model weight."""
    return {name: slot.read() for name, slot in model.google_weights().items()}


def export_google_checkpoint(model, prefix):
    """Writes the model's weights as a TF checkpoint under Google's names, atomically."""
    save_tensors(prefix, google_named_tensors(model))


def save_tensors(prefix, tensors):
    """Writes {name: tensor} as a TF checkpoint bundle at `prefix`, atomically.

    The bundle is written in a temporary folder next to it, then moved: the data file
    first and the `.index` last, so an interrupted save never leaves an index that
    looks complete. Raises InputError if the folder cannot be written.
    """
    folder = os.path.dirname(os.path.abspath(prefix))
    try:
        os.makedirs(folder, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".saving-", dir=folder)
    except OSError as error:
        raise InputError(f"{folder}: cannot write checkpoint ({error.strerror})") from None
    try:
        staged_prefix = os.path.join(staging, os.path.basename(prefix))
        names = sorted(tensors)
        tf.raw_ops.SaveV2(prefix=staged_prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                          tensors=[tensors[name] for name in names])
        staged = sorted(glob.glob(staged_prefix + ".*"), key=lambda path: path.endswith(".index"))
        for path in staged:
            os.replace(path, os.path.join(folder, os.path.basename(path)))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
