"""Checkpoint loading by Google names: Google TF1 checkpoints, our exports, safetensors, errors."""

import numpy as np
import pytest
import tensorflow as tf

from bert import checkpoints
from bert import modeling
from conftest import TINY_CONFIG
from bert.errors import InputError


def google_variable_shapes(c):
    """Google's BERT variable names and shapes for config dict `c`, written out independently."""
    h, i = c["hidden_size"], c["intermediate_size"]
    shapes = {
        "bert/embeddings/word_embeddings": (c["vocab_size"], h),
        "bert/embeddings/position_embeddings": (c["max_position_embeddings"], h),
        "bert/embeddings/token_type_embeddings": (c["type_vocab_size"], h),
        "bert/embeddings/LayerNorm/gamma": (h,), "bert/embeddings/LayerNorm/beta": (h,),
        "bert/pooler/dense/kernel": (h, h), "bert/pooler/dense/bias": (h,),
        "cls/predictions/transform/dense/kernel": (h, h), "cls/predictions/transform/dense/bias": (h,),
        "cls/predictions/transform/LayerNorm/gamma": (h,), "cls/predictions/transform/LayerNorm/beta": (h,),
        "cls/predictions/output_bias": (c["vocab_size"],),
        "cls/seq_relationship/output_weights": (2, h), "cls/seq_relationship/output_bias": (2,),
    }
    for n in range(c["num_hidden_layers"]):
        p = f"bert/encoder/layer_{n}"
        for name in ("attention/self/query", "attention/self/key", "attention/self/value", "attention/output/dense"):
            shapes[f"{p}/{name}/kernel"], shapes[f"{p}/{name}/bias"] = (h, h), (h,)
        shapes[f"{p}/intermediate/dense/kernel"], shapes[f"{p}/intermediate/dense/bias"] = (h, i), (i,)
        shapes[f"{p}/output/dense/kernel"], shapes[f"{p}/output/dense/bias"] = (i, h), (h,)
        for name in ("attention/output/LayerNorm", "output/LayerNorm"):
            shapes[f"{p}/{name}/gamma"], shapes[f"{p}/{name}/beta"] = (h,), (h,)
    return shapes


def write_tf1_checkpoint(prefix, values):
    """Writes `values` the way Google's TF1 code did: graph-mode variables and a v1 Saver."""
    with tf.Graph().as_default():
        for name, value in values.items():
            tf.compat.v1.get_variable(name, initializer=tf.constant(value))
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(prefix))


@pytest.fixture
def config():
    return modeling.BertConfig.from_dict(TINY_CONFIG)


def test_google_tf1_checkpoint_restores_every_variable(tmp_path, config):
    rng = np.random.default_rng(0)
    values = {name: rng.standard_normal(shape).astype(np.float32)
              for name, shape in google_variable_shapes(TINY_CONFIG).items()}
    slots = dict(values)
    slots.update({f"{name}/adam_m": v for name, v in list(values.items())[:3]})
    slots["global_step"] = np.array(1000, np.int64)
    write_tf1_checkpoint(tmp_path / "bert_model.ckpt", slots)
    model = modeling.build_model(modeling.BertForPreTraining(config))
    report = checkpoints.load_weights(model, tmp_path / "bert_model.ckpt")
    assert sorted(report.restored) == sorted(values) and report.missing == [] and report.unused == []
    layer = model.bert.encoder_layers[1]
    fused = layer.query_key_value.kernel.numpy()
    np.testing.assert_array_equal(fused[:, 32:64], values["bert/encoder/layer_1/attention/self/key/kernel"])
    np.testing.assert_array_equal(model.heads.next_sentence.output_weights.numpy(),
                                  values["cls/seq_relationship/output_weights"])
    # the folder form finds bert_model.ckpt too
    assert len(checkpoints.load_weights(model, tmp_path).restored) == len(values)


def test_google_name_export_reads_back(tmp_path, config):
    model = modeling.build_model(modeling.BertForQuestionAnswering(config))
    checkpoints.export_google_checkpoint(model, str(tmp_path / "export" / "model.ckpt"))
    reader = tf.train.load_checkpoint(str(tmp_path / "export" / "model.ckpt"))
    shapes = reader.get_variable_to_shape_map()
    expected = {k: v for k, v in google_variable_shapes(TINY_CONFIG).items()
                if k.startswith("bert/") and not k.startswith("bert/pooler/")}  # the span head has no pooler
    expected.update({"cls/squad/output_weights": (2, 32), "cls/squad/output_bias": (2,)})
    assert {k: tuple(v) for k, v in shapes.items()} == expected
    np.testing.assert_array_equal(reader.get_tensor("bert/encoder/layer_0/attention/self/value/kernel"),
                                  model.bert.encoder_layers[0].query_key_value.kernel.numpy()[:, 64:])
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == ["model.ckpt.data-00000-of-00001",
                                                                        "model.ckpt.index"]
    fresh = modeling.build_model(modeling.BertForQuestionAnswering(config))
    checkpoints.load_weights(fresh, tmp_path / "export" / "model.ckpt")
    batch = modeling.dummy_inputs(2, 8)
    np.testing.assert_array_equal(fresh(batch)["start_logits"], model(batch)["start_logits"])


def test_pretraining_weights_into_squad_model_reports_head(tmp_path, config):
    pretrained = modeling.build_model(modeling.BertForPreTraining(config))
    checkpoints.export_google_checkpoint(pretrained, str(tmp_path / "model.ckpt"))
    squad = modeling.build_model(modeling.BertForQuestionAnswering(config))
    report = checkpoints.load_weights(squad, tmp_path / "model.ckpt")
    assert report.missing == ["cls/squad/output_weights", "cls/squad/output_bias"]
    assert "cls/predictions/output_bias" in report.unused
    assert "2 model weights not in the checkpoint" in report.summary()


def test_shape_mismatch_names_variable_and_shapes(tmp_path, config):
    values = {name: np.zeros(shape, np.float32) for name, shape in google_variable_shapes(TINY_CONFIG).items()}
    values["bert/encoder/layer_0/intermediate/dense/kernel"] = np.zeros((32, 65), np.float32)
    write_tf1_checkpoint(tmp_path / "bad.ckpt", values)
    model = modeling.build_model(modeling.BertForPreTraining(config))
    with pytest.raises(InputError, match=r"variable 'bert/encoder/layer_0/intermediate/dense/kernel' has shape "
                                         r"\(32, 65\) in the checkpoint but \(32, 64\) in the model"):
        checkpoints.load_weights(model, tmp_path / "bad.ckpt")


def test_safetensors_keys_without_bert_prefix(tmp_path, config):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    model = modeling.build_model(modeling.BertForPreTraining(config))
    rng = np.random.default_rng(1)
    word = rng.standard_normal((64, 32)).astype(np.float32)
    query = rng.standard_normal((32, 32)).astype(np.float32)  # PyTorch layout [out, in]
    safetensors_numpy.save_file({"embeddings.word_embeddings.weight": word,
                                 "encoder.layer.0.attention.self.query.weight": query,
                                 "embeddings.LayerNorm.gamma": np.full(32, 2.0, np.float32),
                                 "embeddings.position_ids": np.zeros((1, 64), np.float32)},
                                str(tmp_path / "weights.safetensors"))
    report = checkpoints.load_weights(model, tmp_path / "weights.safetensors")
    assert sorted(report.restored) == ["bert/embeddings/LayerNorm/gamma", "bert/embeddings/word_embeddings"]
    assert "bert/encoder/layer_0/attention/self/query/kernel" in report.missing  # fused: needs key and value too
    np.testing.assert_array_equal(model.bert.embeddings.word_embeddings.embeddings.numpy(), word)


@pytest.mark.parametrize("key, expected", [
    ("bert.encoder.layer.11.attention.self.query.weight", ("bert/encoder/layer_11/attention/self/query/kernel", True)),
    ("encoder.layer.3.output.LayerNorm.bias", ("bert/encoder/layer_3/output/LayerNorm/beta", False)),
    ("bert.pooler.dense.bias", ("bert/pooler/dense/bias", False)),
    ("cls.predictions.transform.LayerNorm.weight", ("cls/predictions/transform/LayerNorm/gamma", False)),
    ("cls.predictions.decoder.weight", (None, False)),
    ("qa_outputs.weight", ("cls/squad/output_weights", False)),
])
def test_hugging_face_names(key, expected):
    assert checkpoints.huggingface_to_google_name(key) == expected


def test_missing_checkpoint_is_one_line_error(tmp_path, config):
    model = modeling.build_model(modeling.BertForPreTraining(config))
    with pytest.raises(InputError, match="nothing.ckpt: no checkpoint here"):
        checkpoints.load_weights(model, tmp_path / "nothing.ckpt")
    with pytest.raises(InputError, match="no checkpoint found"):
        checkpoints.load_weights(model, tmp_path)
    (tmp_path / "broken.safetensors").write_bytes(b"garbage")
    with pytest.raises(InputError, match="broken.safetensors: unreadable safetensors file"):
        checkpoints.load_weights(model, tmp_path / "broken.safetensors")


def test_unwritable_export_folder(tmp_path, config):
    model = modeling.build_model(modeling.BertForQuestionAnswering(config))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write checkpoint"):
        checkpoints.export_google_checkpoint(model, str(blocker / "sub" / "model.ckpt"))


def test_latest_checkpoint_reads_tf_pointer_and_the_old_one_line_form(tmp_path):
    assert checkpoints.latest_checkpoint(str(tmp_path)) is None
    tf.compat.v1.train.update_checkpoint_state(str(tmp_path), str(tmp_path / "ckpt-20"),
                                               all_model_checkpoint_paths=[str(tmp_path / "ckpt-20")])
    assert checkpoints.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-20")
    (tmp_path / "checkpoint").write_text("ckpt-10\n")
    assert checkpoints.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-10")
    (tmp_path / "checkpoint").write_text("")
    assert checkpoints.latest_checkpoint(str(tmp_path)) is None


def test_folder_with_tf_pointer_loads_the_checkpoint_it_names(tmp_path, config):
    model = modeling.build_model(modeling.BertForQuestionAnswering(config))
    for step in (1, 2):
        checkpoints.export_google_checkpoint(model, str(tmp_path / f"ckpt-{step}"))
    tf.compat.v1.train.update_checkpoint_state(str(tmp_path), "ckpt-1")
    assert checkpoints.load_weights(model, tmp_path).source == f"TF checkpoint {tmp_path / 'ckpt-1'}"
