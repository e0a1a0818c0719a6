"""export_model.py: HF names and folder contents, exact round trips, SavedModel outputs, bad input.

Loading the `hf` folder with transformers itself is the reference tier's job
(tests/test_export_reference.py); here the HF key set is checked against the golden file
that transformers' own `save_pretrained` produced.
"""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert import checkpoints, export, hf_export, modeling
from conftest import REPO_ROOT, TINY_CONFIG, golden

ARCHITECTURES = ("BertForPreTraining", "BertForQuestionAnswering", "BertForSequenceClassification",
                 "BertForTokenClassification", "BertModel")


def tiny_model(architecture, seed=0, config=TINY_CONFIG):
    """A built tiny model of `architecture` with seeded random weights (3 labels for the classifiers)."""
    keras.utils.set_random_seed(seed)
    bert_config = modeling.BertConfig.from_dict(config)
    if architecture in ("BertForSequenceClassification", "BertForTokenClassification"):
        model = getattr(modeling, architecture)(bert_config, 3)
    else:
        model = getattr(modeling, architecture)(bert_config)
    modeling.build_model(model)
    for variable in model.weights:  # zero-initialised biases and LayerNorm would hide a swapped pair
        variable.assign(variable + tf.random.normal(variable.shape, stddev=0.05))
    return model


def write_checkpoint_folder(folder, architecture, vocab_file, seed=0):
    """A Google-layout folder (model.ckpt, bert_config.json, vocab.txt) of a tiny model; returns the model."""
    model = tiny_model(architecture, seed)
    export.export_google_model(model, modeling.BertConfig.from_dict(TINY_CONFIG), str(folder), str(vocab_file))
    return model


def run_export(*flags):
    return subprocess.run([sys.executable, str(REPO_ROOT / "export_model.py"), *flags],
                          capture_output=True, text=True, cwd=REPO_ROOT)


def checkpoint_tensors(prefix):
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_name_maps_back_to_the_same_google_name(architecture):
    base_prefix = "" if architecture == "BertModel" else "bert."
    for google_name, slot in tiny_model(architecture).google_weights().items():
        key, transpose = hf_export.google_to_huggingface_name(google_name, base_prefix)
        tagger = architecture == "BertForTokenClassification"
        assert checkpoints.huggingface_to_google_name(key, tagger) == (google_name, transpose), key
        assert transpose == (len(slot.shape) == 2 and google_name.endswith("/kernel"))


def test_pretraining_keys_and_shapes_are_those_transformers_saves():
    reference = golden("hf_pretraining_tiny.npz")
    expected = {str(name): tuple(int(n) for n in str(shape).split(","))
                for name, shape in zip(reference["weight_names"], reference["weight_shapes"])}
    ours = hf_export.huggingface_tensors(tiny_model("BertForPreTraining"))
    assert {name: value.shape for name, value in ours.items()} == expected


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_hf_export_round_trip_is_bit_identical(tmp_path, tiny_vocab_file, architecture):
    write_checkpoint_folder(tmp_path / "trained", architecture, tiny_vocab_file)
    exported = run_export(f"--init_checkpoint={tmp_path / 'trained'}", "--format=hf",
                          f"--output_dir={tmp_path / 'hf'}", "--do_lower_case=false")
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert f"Wrote {architecture} (hf)" in exported.stdout
    hf_config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert hf_config["architectures"] == [architecture] and hf_config["model_type"] == "bert"
    assert {key: hf_config[key] for key in TINY_CONFIG if key != "hidden_act"} == \
        {key: value for key, value in TINY_CONFIG.items() if key != "hidden_act"}
    tokenizer_config = json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())
    assert tokenizer_config["do_lower_case"] is False and tokenizer_config["tokenizer_class"] == "BertTokenizer"
    assert (tmp_path / "hf" / "vocab.txt").read_bytes() == tiny_vocab_file.read_bytes()

    back = run_export(f"--init_checkpoint={tmp_path / 'hf'}", "--format=google", f"--output_dir={tmp_path / 'back'}")
    assert back.returncode == 0, back.stderr[-2000:]
    original, returned = (checkpoint_tensors(tmp_path / folder / "model.ckpt") for folder in ("trained", "back"))
    assert sorted(original) == sorted(returned)
    for name, value in original.items():
        np.testing.assert_array_equal(returned[name], value, err_msg=name)
    assert json.loads((tmp_path / "back" / "bert_config.json").read_text()) == \
        json.loads((tmp_path / "trained" / "bert_config.json").read_text())


@pytest.mark.parametrize("architecture", ["BertForSequenceClassification", "BertForTokenClassification"])
def test_classifier_export_keeps_its_label_count(tmp_path, tiny_vocab_file, architecture):
    write_checkpoint_folder(tmp_path / "trained", architecture, tiny_vocab_file)
    result = run_export(f"--init_checkpoint={tmp_path / 'trained'}", f"--output_dir={tmp_path / 'hf'}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(json.loads((tmp_path / "hf" / "config.json").read_text())["id2label"]) == 3


@pytest.mark.parametrize("architecture,outputs", [("BertForQuestionAnswering", ("start_logits", "end_logits")),
                                                  ("BertForPreTraining", ("sequence_output", "pooled_output"))])
def test_savedmodel_serves_the_models_outputs(tmp_path, tiny_vocab_file, architecture, outputs):
    model = write_checkpoint_folder(tmp_path / "trained", architecture, tiny_vocab_file)
    result = run_export(f"--init_checkpoint={tmp_path / 'trained' / 'model.ckpt'}", "--format=savedmodel",
                        "--max_seq_length=16", f"--output_dir={tmp_path / 'served'}")
    assert result.returncode == 0, result.stderr[-2000:]
    rng = np.random.default_rng(1)
    inputs = {"input_ids": rng.integers(0, TINY_CONFIG["vocab_size"], (3, 16)).astype(np.int32),
              "input_mask": np.ones((3, 16), np.int32), "segment_ids": np.zeros((3, 16), np.int32)}
    inputs["input_mask"][1, 9:] = 0
    served = tf.saved_model.load(str(tmp_path / "served")).signatures["serving_default"](
        **{name: tf.constant(value) for name, value in inputs.items()})
    expected = (model.bert if architecture == "BertForPreTraining" else model)(inputs, training=False)
    assert sorted(served) == sorted(outputs)
    for name in outputs:
        np.testing.assert_allclose(served[name].numpy(), expected[name].numpy(), atol=1e-5, err_msg=name)


def test_bad_inputs_are_one_line_errors_with_no_output_folder(tmp_path, tiny_vocab_file):
    write_checkpoint_folder(tmp_path / "trained", "BertForPreTraining", tiny_vocab_file)
    (tmp_path / "empty").mkdir()
    (tmp_path / "three_layers.json").write_text(json.dumps({**TINY_CONFIG, "num_hidden_layers": 3}))
    (tmp_path / "one_layer.json").write_text(json.dumps({**TINY_CONFIG, "num_hidden_layers": 1}))
    (tmp_path / "wider.json").write_text(json.dumps({**TINY_CONFIG, "hidden_size": 64}))
    trained = f"--init_checkpoint={tmp_path / 'trained'}"
    cases = [
        ([f"--init_checkpoint={tmp_path / 'empty'}", f"--bert_config_file={tmp_path / 'three_layers.json'}"],
         "empty: no checkpoint found"),
        ([trained, f"--bert_config_file={tmp_path / 'three_layers.json'}"],
         "does not match the config: the checkpoint lacks 'bert/encoder/layer_2/"),
        ([trained, f"--bert_config_file={tmp_path / 'one_layer.json'}"],
         "the config, which has no place for the checkpoint's 'bert/encoder/layer_1/"),
        ([trained, f"--bert_config_file={tmp_path / 'wider.json'}"], "has shape (64, 32) in the checkpoint"),
        ([trained, "--format=onnx"], "--format: unknown format 'onnx' (choose from hf, google, savedmodel)"),
        ([trained, f"--vocab_file={tmp_path / 'absent.txt'}"], "absent.txt"),
    ]
    for flags, message in cases:
        result = run_export(*flags, f"--output_dir={tmp_path / 'out'}")
        assert result.returncode == 2, (flags, result.stderr[-2000:])
        lines = result.stderr.strip().splitlines()
        assert lines[-1].startswith("error: ") and message in lines[-1], (flags, lines[-1])
        assert not (tmp_path / "out").exists(), flags
        assert not [path for path in tmp_path.iterdir() if path.name.startswith(".out")], flags


def test_a_non_empty_output_dir_is_kept_unless_overwrite(tmp_path, tiny_vocab_file):
    write_checkpoint_folder(tmp_path / "trained", "BertForQuestionAnswering", tiny_vocab_file)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    refused = run_export(f"--init_checkpoint={tmp_path / 'trained'}", f"--output_dir={tmp_path / 'out'}")
    assert refused.returncode == 2
    assert "exists and is not empty (pass --overwrite" in refused.stderr.strip().splitlines()[-1]
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["notes.txt"]
    replaced = run_export(f"--init_checkpoint={tmp_path / 'trained'}", f"--output_dir={tmp_path / 'out'}",
                          "--overwrite")
    assert replaced.returncode == 0, replaced.stderr[-2000:]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "config.json", "model.safetensors", "special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]
