"""BertConfig, the encoder's masking, precisions and XLA, and equivalence with Hugging Face."""

import json

import keras
import numpy as np
import pytest
import safetensors.numpy
import tensorflow as tf

from bert import checkpoints
from bert import modeling
from conftest import TINY_CONFIG, golden
from bert.errors import InputError
from tests.reference.golden_inputs import seeded_weights, tiny_pretraining_batch


def random_batch(config, **kwargs):
    return tiny_pretraining_batch(vocab_size=config.vocab_size, **kwargs)


@pytest.fixture
def config():
    return modeling.BertConfig.from_dict(TINY_CONFIG)


def test_config_json_round_trip(tmp_path, config):
    path = tmp_path / "config.json"
    config.to_json_file(path)
    assert modeling.BertConfig.from_json_file(path) == config
    assert json.loads(path.read_text()) == TINY_CONFIG


def test_config_reads_hugging_face_fields(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**TINY_CONFIG, "model_type": "bert", "architectures": ["BertModel"], "pad_token_id": 0}))
    assert modeling.BertConfig.from_json_file(path).hidden_size == 32


@pytest.mark.parametrize("change, message", [
    ({"hidden_size": None}, r"bert_config.json: missing field 'hidden_size'"),
    ({"hidden_size": 30}, r"bert_config.json: field 'hidden_size' \(30\) is not divisible by 'num_attention_heads' \(4\)"),
    ({"hidden_act": "swishy"}, r"bert_config.json: field 'hidden_act' is 'swishy'"),
    ({"num_hidden_layers": "2"}, r"bert_config.json: field 'num_hidden_layers' must be int"),
    ({"hidden_dropout_prob": 1.5}, r"bert_config.json: field 'hidden_dropout_prob' must be in \[0, 1\)"),
])
def test_invalid_config_names_file_and_field(tmp_path, change, message):
    values = {k: v for k, v in {**TINY_CONFIG, **change}.items() if v is not None}
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(values))
    with pytest.raises(InputError, match=message):
        modeling.BertConfig.from_json_file(path)


def test_malformed_config_file(tmp_path):
    path = tmp_path / "bert_config.json"
    path.write_text("{not json")
    with pytest.raises(InputError, match="bert_config.json: not valid JSON"):
        modeling.BertConfig.from_json_file(path)
    with pytest.raises(InputError, match="absent.json: cannot read config"):
        modeling.BertConfig.from_json_file(tmp_path / "absent.json")


def test_padding_does_not_change_real_positions(config):
    model = modeling.build_model(modeling.BertModel(config))
    batch = random_batch(config, batch_size=1, seq_length=16)
    length = int(batch["input_mask"].sum())
    short = {k: v[:, :length] for k, v in batch.items() if k != "masked_lm_positions"}
    padded = {k: v.copy() for k, v in short.items()}
    padded = {k: np.pad(v, [(0, 0), (0, 8)]) for k, v in padded.items()}
    padded["input_ids"][:, length:] = 7  # garbage under the mask must not matter
    out_short = model(short)["sequence_output"].numpy()
    out_padded = model(padded)["sequence_output"].numpy()[:, :length]
    np.testing.assert_allclose(out_short, out_padded, atol=1e-5)


def test_outputs_and_shapes(config):
    model = modeling.build_model(modeling.BertForPreTraining(config))
    batch = random_batch(config)
    outputs = model(batch)
    assert outputs["masked_lm_logits"].shape == (2, 3, config.vocab_size)
    assert outputs["next_sentence_logits"].shape == (2, 2)
    encoder = model.bert(batch)
    assert encoder["sequence_output"].shape == (2, 16, 32)
    assert encoder["pooled_output"].shape == (2, 32)
    assert len(encoder["encoder_outputs"]) == config.num_hidden_layers
    np.testing.assert_array_equal(encoder["encoder_outputs"][-1], encoder["sequence_output"])


def test_dropout_only_in_training(config):
    model = modeling.build_model(modeling.BertForQuestionAnswering(config))
    batch = random_batch(config)
    first, second = model(batch)["start_logits"], model(batch)["start_logits"]
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(model(batch, training=True)["start_logits"], first)


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_dropout_drops_its_rate_and_rescales(jit_compile, dtype):
    layer = modeling.Dropout(0.1, seed=3)
    ones = tf.ones([400, 1000], dtype)
    apply = tf.function(lambda x: layer(x, training=True), jit_compile=jit_compile)
    first, second = apply(ones).numpy().astype(np.float32), apply(ones).numpy().astype(np.float32)
    dropped = first == 0
    assert abs(dropped.mean() - 0.1) < 0.003  # 400,000 draws: the standard error is 0.0005
    np.testing.assert_allclose(first[~dropped], 1 / 0.9, rtol=1e-2)
    assert abs((second == 0).mean() - 0.1) < 0.003 and (dropped != (second == 0)).mean() > 0.1  # a new mask per call
    assert abs(dropped.mean(axis=0) - 0.1).max() < 0.07 and abs(dropped.mean(axis=1) - 0.1).max() < 0.05  # no stripes
    np.testing.assert_array_equal(layer(ones, training=False), ones)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_precisions_and_xla_match_float32(config, policy, jit_compile):
    batch = random_batch(config)
    reference = modeling.build_model(modeling.BertForPreTraining(config))
    expected = reference(batch)
    try:
        keras.mixed_precision.set_global_policy(policy)
        model = modeling.build_model(modeling.BertForPreTraining(config))
        model.set_weights(reference.get_weights())
        outputs = tf.function(model, jit_compile=jit_compile)(batch)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    tolerance = {"float32": 1e-5, "mixed_float16": 2e-2, "mixed_bfloat16": 1e-1}[policy]
    for name in ("masked_lm_logits", "next_sentence_logits"):
        assert outputs[name].dtype == tf.float32
        np.testing.assert_allclose(outputs[name], expected[name], atol=tolerance)


def test_matches_hugging_face_pretraining_model(tmp_path, config):
    """Seeded weights under transformers' BertForPreTraining names (`bert.` prefix, tied decoder)
    load by name and give transformers' MLM and NSP logits (golden file)."""
    reference = golden("hf_pretraining_tiny.npz")
    assert json.loads(str(reference["config_json"])) == TINY_CONFIG
    shapes = {name: tuple(map(int, shape.split(","))) for name, shape in
              zip(reference["weight_names"], reference["weight_shapes"], strict=True)}
    safetensors.numpy.save_file(seeded_weights(shapes), str(tmp_path / "model.safetensors"))
    model = modeling.build_model(modeling.BertForPreTraining(config))
    report = checkpoints.load_weights(model, tmp_path / "model.safetensors")
    assert report.missing == [] and report.unused == []
    batch = {name: reference[name] for name in ("input_ids", "input_mask", "segment_ids", "masked_lm_positions")}
    ours = model(batch)
    np.testing.assert_allclose(ours["masked_lm_logits"], reference["masked_lm_logits"], atol=1e-4)
    np.testing.assert_allclose(ours["next_sentence_logits"], reference["next_sentence_logits"], atol=1e-4)


def test_bfloat16_softmax_equals_the_float32_one_bit_for_bit():
    """The bf16 attention softmax skips the widening because the kernel accumulates in float32 anyway."""
    rng = np.random.default_rng(0)
    scores = tf.cast(rng.normal(0, 4, (2, 3, 64, 64)).astype(np.float32), tf.bfloat16)
    mask_bias = tf.constant((rng.random((2, 1, 1, 64)) < 0.3) * modeling.ATTENTION_MASK_BIAS, tf.float32)
    widened = tf.cast(tf.nn.softmax(tf.cast(scores, tf.float32) + mask_bias), tf.bfloat16)
    np.testing.assert_array_equal(modeling._masked_softmax(scores, mask_bias).numpy(), widened.numpy())


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
def test_exact_gelu_is_keras_gelu(dtype):
    x = tf.cast(tf.linspace(-8.0, 8.0, 4001), dtype)
    expected = keras.activations.gelu(tf.cast(x, tf.float32), approximate=False)
    tolerance = 1e-6 if dtype == tf.float32 else 1e-2
    np.testing.assert_allclose(tf.cast(modeling.exact_gelu(x), tf.float32).numpy(), expected.numpy(),
                               atol=tolerance, rtol=tolerance)
    assert modeling.exact_gelu(x).dtype == dtype


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
def test_every_gelu_path_is_exact_gelu(dtype, training):
    """Inference takes tf.nn.gelu (fusable), half-precision training the float32 erf: the same function."""
    x = tf.cast(tf.linspace(-8.0, 8.0, 4001), dtype)
    expected = keras.activations.gelu(tf.cast(x, tf.float32), approximate=False)
    tolerance = 1e-6 if dtype == tf.float32 else 1e-2
    outputs = modeling.ACTIVATIONS["gelu"](x, training)
    assert outputs.dtype == dtype
    np.testing.assert_allclose(tf.cast(outputs, tf.float32).numpy(), expected.numpy(), atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
def test_layer_norm_matches_keras_layer_norm_and_its_gradients(dtype):
    """Ours widens a bf16 input to float32 first; Keras's (autocast off) would not, so it is given float32."""
    rng = np.random.default_rng(0)
    x = tf.cast(rng.normal(2.0, 3.0, (4, 7, 48)).astype(np.float32), dtype)
    ours, theirs = modeling.LayerNorm(name="LayerNorm"), keras.layers.LayerNormalization(epsilon=1e-12, dtype="float32")
    ours.build(x.shape)
    theirs.build(x.shape)
    for variable in (ours.gamma, ours.beta):
        variable.assign(rng.normal(1.0, 0.5, variable.shape).astype(np.float32))
    theirs.gamma.assign(ours.gamma)
    theirs.beta.assign(ours.beta)
    assert [v.name for v in ours.weights] == ["gamma", "beta"]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours_out, theirs_out = ours(x), theirs(tf.cast(x, tf.float32))
        ours_loss, theirs_loss = (tf.reduce_sum(tf.sin(out)) for out in (ours_out, theirs_out))
    assert ours_out.dtype == tf.float32
    np.testing.assert_allclose(ours_out.numpy(), theirs_out.numpy(), atol=2e-5)
    for ours_grad, theirs_grad in zip(tape.gradient(ours_loss, [x, ours.gamma, ours.beta]),
                                      tape.gradient(theirs_loss, [x, theirs.gamma, theirs.beta])):
        np.testing.assert_allclose(tf.cast(ours_grad, tf.float32).numpy(), tf.cast(theirs_grad, tf.float32).numpy(),
                                   atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_inference_fuses_each_projection_into_one_onednn_matmul(tmp_path, config, policy):
    """The [tokens, hidden] layout lets oneDNN fold bias, GELU and the residual add into the matmuls.

    Profiles one forward without XLA: no BiasAdd or Erf may run on its own.
    """
    op_counts = pytest.importorskip("benchmarks.op_profile").op_type_counts
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = modeling.build_model(modeling.BertModel(config))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    forward = tf.function(lambda batch: model(batch)["sequence_output"], jit_compile=False)
    batch = modeling.dummy_inputs(2, 16)
    counts = op_counts(lambda: forward(batch).numpy(), str(tmp_path))
    if not any("Mkl" in name for name in counts):
        pytest.skip("this TensorFlow runs without oneDNN")
    assert counts.get("BiasAdd", 0) == 0 and counts.get("Erf", 0) == 0, counts
    assert counts["_MklNativeFusedMatMul"] == 4 * config.num_hidden_layers, counts
