"""The BERT encoder and its task heads, in Keras 3 on the TensorFlow backend.

The transformer is Google's post-LayerNorm BERT (LayerNorm epsilon 1e-12). Query, key
and value share one fused [hidden, 3 * hidden] projection for speed; `google_weights()`
presents it as Google's separate `query`/`key`/`value` variables, so Google's and
Hugging Face's checkpoints load by name (see `bert/checkpoints.py`).

Mixed precision: the models follow the global Keras dtype policy (`mixed_float16` or
`mixed_bfloat16`; `bfloat16`, with bf16 variables, for runs that never train, see
`bert/train/precision.py`); the attention softmax accumulates and every LayerNorm computes
its statistics in float32, and all logits returned by the heads are float32. Shapes are
static apart from the batch, and there is no Python control flow on tensor values, so
every model runs inside `tf.function(jit_compile=True)`.

Example:
    >>> config = BertConfig(vocab_size=30522)
    >>> model = BertForQuestionAnswering(config)
    >>> outputs = model(dummy_inputs(batch_size=2, seq_length=128))
    >>> outputs["start_logits"].shape
    TensorShape([2, 128])
"""

import dataclasses
import json
import math

import keras
import tensorflow as tf
from tensorflow.python.ops import control_flow_util  # pylint: disable=no-name-in-module

from bert import files, onednn
from bert.errors import InputError

LAYER_NORM_EPSILON = 1e-12
ATTENTION_MASK_BIAS = -10000.0


def exact_gelu(x):
    """x * Phi(x), with erf evaluated in float32 whatever the input dtype; returns x's dtype.

    TensorFlow's erf on bfloat16 runs element by element, about 3x slower than casting to
    float32, evaluating it there and casting back (measured on a Sapphire Rapids CPU); the
    float32 route is also the more accurate one.
    """
    y = tf.cast(x, tf.float32)
    return tf.cast(0.5 * y * (1.0 + tf.math.erf(y * (1.0 / math.sqrt(2.0)))), x.dtype)


def _fusable_exact_gelu(x, training):
    """Exact GELU written so that oneDNN can fuse it into the matmul before it.

    Grappler's oneDNN remapper folds the bias add and GELU into one `_MklNativeFusedMatMul`
    that applies GELU to the float32 accumulator. In float32 it matches `exact_gelu`'s form
    (which XLA also ran faster than `tf.nn.gelu`'s division); in bf16 it needs `tf.nn.gelu`.
    Training keeps the pre-activation for the gradient, so nothing fuses there, and a
    half-precision step takes `exact_gelu`'s float32 erf instead.
    """
    if x.dtype != tf.float32 and not training:
        return tf.nn.gelu(x, approximate=False)
    return exact_gelu(x)


# Activation name -> f(x, training).
ACTIVATIONS = {
    "gelu": _fusable_exact_gelu,
    "gelu_new": lambda x, training: tf.nn.gelu(x, approximate=True),
    "gelu_approximate": lambda x, training: tf.nn.gelu(x, approximate=True),
    "relu": lambda x, training: tf.nn.relu(x),
}


class FusableDense(keras.layers.Dense):
    """`keras.layers.Dense` for [tokens, features] inputs, as one MatMul and one BiasAdd.

    Keras's own call adds the bias with AddV2 (and reshapes inputs of rank 3), which
    hides the pattern grappler's oneDNN remapper fuses: MatMul + BiasAdd, optionally
    followed by GELU or by a residual Add, becomes one kernel. Weights and their names
    are Dense's.
    """

    def call(self, inputs, training=None):
        return self.activation(tf.nn.bias_add(tf.matmul(inputs, self.kernel), self.bias))


@dataclasses.dataclass
class BertConfig:
    """Google's `bert_config.json` fields; sizes are counts, probabilities in [0, 1]."""

    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 16
    initializer_range: float = 0.02

    def __post_init__(self):
        self.validate()

    def validate(self, source="config"):
        """Raises InputError naming `source` and the field for any impossible value."""
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            expected = str if field.type is str else (int, float) if field.type is float else int
            if isinstance(value, bool) or not isinstance(value, expected):
                raise InputError(f"{source}: field '{field.name}' must be {field.type.__name__}, got {value!r}")
            if field.type is not str and field.name.endswith("_prob") and not 0 <= value < 1:
                raise InputError(f"{source}: field '{field.name}' must be in [0, 1), got {value}")
            if field.type is int and value <= 0:
                raise InputError(f"{source}: field '{field.name}' must be positive, got {value}")
        if self.hidden_size % self.num_attention_heads:
            raise InputError(
                f"{source}: field 'hidden_size' ({self.hidden_size}) is not divisible by "
                f"'num_attention_heads' ({self.num_attention_heads})"
            )
        if self.hidden_act not in ACTIVATIONS:
            raise InputError(f"{source}: field 'hidden_act' is {self.hidden_act!r}; expected one of {sorted(ACTIVATIONS)}")

    @classmethod
    def from_dict(cls, values, source="config"):
        """Builds a config from Google's or Hugging Face's dict; unknown fields are ignored."""
        required = [f.name for f in dataclasses.fields(cls)]
        missing = [name for name in required if name not in values]
        if missing:
            raise InputError(f"{source}: missing field '{missing[0]}'")
        config = cls.__new__(cls)
        for name in required:
            setattr(config, name, values[name])
        config.validate(source)
        return config

    @classmethod
    def from_json_file(cls, path):
        """Reads Google's `bert_config.json` or Hugging Face's `config.json`."""
        try:
            with open(path, encoding="utf-8") as f:
                values = json.load(f)
        except OSError as error:
            raise InputError(f"{path}: cannot read config ({error.strerror})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{path}: not valid JSON ({error})") from None
        if not isinstance(values, dict):
            raise InputError(f"{path}: expected a JSON object of config fields")
        return cls.from_dict(values, source=str(path))

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json_file(self, path):
        """Writes the config atomically (temp file in the same folder, then rename)."""
        files.write_text_atomically(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")


def _initializer(config):
    return keras.initializers.TruncatedNormal(stddev=config.initializer_range)


def _in_xla_context():
    """Whether the graph being traced is compiled by XLA (`tf.function(jit_compile=True)` or inside one)."""
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def _onednn_forward(training):
    """Whether this call takes oneDNN's forward-only path: enabled, not training, traced, not under XLA."""
    return (onednn.forward_only_enabled() and not training and not tf.executing_eagerly()
            and not _in_xla_context())


class Dropout(keras.layers.Dropout):
    """Keras's inverted dropout, drawing 16 random bits per decision, ThreeFry bits under XLA.

    A BERT training step drops about 60 M values at MiniLM's size (batch 32, seq 128), most
    of them attention probabilities, and drawing their random bits cost more than any
    other part apart from the matmuls. Each uint32 drawn decides two values here: the
    drop probability is `rate` rounded to a multiple of 2^-16 (0.1 becomes 0.100006), and a
    bf16 [32, 12, 128, 128] dropout, forward and backward, took 17 ms instead of 28. Under XLA on a CPU,
    the Philox generator took about a third of the step, ThreeFry about a twentieth;
    TensorFlow's own (non-XLA) kernels have only Philox. The seeds come from the layer's
    Keras `SeedGenerator`, as in Keras's layer, so checkpoints restore the stream.
    """

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if self.rate >= 1:
            return tf.zeros_like(inputs)
        seed = tf.cast(tf.math.floormod(self.seed_generator.next(), tf.int32.max - 1), tf.int32)
        in_xla = _in_xla_context()
        shape, width = tf.shape(inputs), inputs.shape[-1]
        pairs = tf.random.stateless_uniform(tf.concat([shape[:-1], [(width + 1) // 2]], 0), seed, minval=None,
                                            maxval=None, dtype=tf.uint32, alg="threefry" if in_xla else "philox")
        bits = tf.reshape(tf.bitcast(pairs, tf.uint16), tf.concat([shape[:-1], [2 * ((width + 1) // 2)]], 0))
        if width % 2:
            bits = bits[..., :width]
        keep = bits >= tf.constant(min(round(self.rate * 2**16), 2**16 - 1), tf.uint16)  # P(keep) ~ 1 - rate
        return tf.where(keep, inputs * tf.cast(1 / (1 - self.rate), inputs.dtype), tf.zeros_like(inputs))


class LayerNorm(keras.layers.Layer):
    """LayerNorm over the last axis with float32 statistics: [..., H] -> [..., H].

    The function of `keras.layers.LayerNormalization` with the same `gamma` and `beta`
    weights, but a bf16 or fp16 input is widened to float32 before the statistics (Keras's
    layer turns autocasting off and would compute part of them in the input's dtype), and
    it takes five passes over the data instead of Keras's eight: about 1.8x faster on a
    bf16 [3072, 384] input without XLA. XLA fuses either form. Returns float32, except on
    oneDNN's fused path (`bert/onednn.py`: forward-only runs on a CPU, outside XLA and
    training), which returns the input's dtype, its statistics still in float32.
    """

    def __init__(self, epsilon=LAYER_NORM_EPSILON, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self._convert_input_args = False  # a bf16 input reaches the fused op unwidened
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gamma = self.add_weight(name="gamma", shape=(input_shape[-1],), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(input_shape[-1],), initializer="zeros")

    def call(self, inputs, training=False):
        if _onednn_forward(training) and inputs.shape.rank in (2, 3):
            return onednn.layer_norm(inputs, self.gamma, self.beta, self.epsilon)
        inputs = tf.cast(inputs, tf.float32)
        mean = tf.reduce_mean(inputs, axis=-1, keepdims=True)
        centered = inputs - mean
        variance = tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
        return centered * (tf.math.rsqrt(variance + self.epsilon) * self.gamma) + self.beta


def _layer_norm(name):
    return LayerNorm(name=name)


class BertEmbeddings(keras.layers.Layer):
    """Word + position + token-type embeddings, LayerNorm, dropout: ids [B, S] -> [B, S, H]."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        init = _initializer(config)
        self.word_embeddings = keras.layers.Embedding(
            config.vocab_size, config.hidden_size, embeddings_initializer=init, name="word_embeddings")
        self.position_embeddings = keras.layers.Embedding(
            config.max_position_embeddings, config.hidden_size, embeddings_initializer=init, name="position_embeddings")
        self.token_type_embeddings = keras.layers.Embedding(
            config.type_vocab_size, config.hidden_size, embeddings_initializer=init, name="token_type_embeddings")
        self.layer_norm = _layer_norm("LayerNorm")
        self.dropout = Dropout(config.hidden_dropout_prob)

    def call(self, input_ids, segment_ids, training=False):
        seq_length = input_ids.shape[1]
        positions = self.position_embeddings(tf.range(seq_length))[tf.newaxis]
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(segment_ids) + positions
        return self.dropout(self.layer_norm(embeddings), training=training)


def _attention_context(query, key, value, mask_bias, examples_per_chunk):
    """softmax(query key^T / sqrt(D) + mask_bias) value, `examples_per_chunk` examples at a time.

    Args:
        query, key, value: [B, N, S, D].
        mask_bias: float32 [B, 1, 1, S], 0 for a real token and ATTENTION_MASK_BIAS for padding.
        examples_per_chunk: None (the whole batch at once) or a divisor of B: each chunk's
            [examples, N, S, S] scores are computed, normalized and used apart
            (`onednn.attention_examples_per_chunk`).

    Returns:
        The context [B, N, S, D], value's dtype. Chunks give the same values as one piece.
    """
    scale = 1.0 / math.sqrt(query.shape[-1])

    def context_of(query, key, value, mask_bias):
        # Scaling the queries [B, N, S, D] costs S / D times less than scaling the scores [B, N, S, S].
        scores = tf.matmul(query * scale, key, transpose_b=True)
        return tf.matmul(_masked_softmax(scores, mask_bias), value)

    if examples_per_chunk is None or examples_per_chunk == query.shape[0]:
        return context_of(query, key, value, mask_bias)
    # Slices, not tf.split: TensorFlow 2.21's oneDNN remapper fuses each chunk's matmul and mask
    # add into one op that reads the Split's first output in place of the one it was given:
    # every chunk got the first example's mask (tests/test_onednn.py).
    return tf.concat([context_of(*(tensor[begin:begin + examples_per_chunk]
                                   for tensor in (query, key, value, mask_bias)))
                      for begin in range(0, query.shape[0], examples_per_chunk)], axis=0)


def _masked_softmax(scores, mask_bias):
    """softmax(scores + mask_bias) over the last axis, in the dtype of `scores` [B, N, S, S].

    float16 scores are widened to float32 first. bfloat16 scores go to the softmax kernel
    as they are: TensorFlow's CPU (oneDNN) and GPU kernels accumulate bfloat16 in float32,
    so the probabilities are bit for bit those of the widened path (checked in
    tests/test_modeling.py), at less than half its time on a CPU.
    """
    if scores.dtype == tf.bfloat16:
        return tf.nn.softmax(scores + tf.cast(mask_bias, tf.bfloat16))
    return tf.cast(tf.nn.softmax(tf.cast(scores, tf.float32) + mask_bias), scores.dtype)


class BertLayer(keras.layers.Layer):
    """One post-LayerNorm transformer block: [B, S, H] and int input mask [B, S] -> [B, S, H].

    Inside, tokens are rows of [B * S, H] matrices, so that each projection is one MatMul
    + BiasAdd that oneDNN fuses with what follows it (GELU, the residual Add).
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        self.activation = ACTIVATIONS[config.hidden_act]
        init = _initializer(config)
        self.query_key_value = FusableDense(3 * config.hidden_size, kernel_initializer=init, name="query_key_value")
        self.attention_dropout = Dropout(config.attention_probs_dropout_prob)
        self.attention_output = FusableDense(config.hidden_size, kernel_initializer=init, name="attention_output")
        self.attention_output_dropout = Dropout(config.hidden_dropout_prob)
        self.attention_layer_norm = _layer_norm("attention_LayerNorm")
        self.intermediate = FusableDense(config.intermediate_size, kernel_initializer=init, name="intermediate")
        self.output_dense = FusableDense(config.hidden_size, kernel_initializer=init, name="output")
        self.output_dropout = Dropout(config.hidden_dropout_prob)
        self.output_layer_norm = _layer_norm("output_LayerNorm")

    def call(self, hidden, input_mask, training=False):
        seq_length, hidden_size = hidden.shape[1], hidden.shape[2]
        tokens = tf.reshape(hidden, [-1, hidden_size])  # [B * S, H]
        mask_bias = (1.0 - tf.cast(input_mask, tf.float32)[:, tf.newaxis, tf.newaxis, :]) * ATTENTION_MASK_BIAS
        qkv = tf.reshape(self.query_key_value(tokens), [-1, seq_length, 3, self.num_heads, self.head_size])
        # Heads first: plain batched matmuls.
        if training:
            # Keys already transposed: these gradients ran about a tenth faster than einsum's in
            # bf16 on a CPU, and a fifth faster than the forward's single transpose below.
            query, key, value = (tf.transpose(part, perm) for part, perm in zip(
                tf.unstack(qkv, axis=2), ([0, 2, 1, 3], [0, 2, 3, 1], [0, 2, 1, 3])))
            scores = tf.matmul(query * (1.0 / math.sqrt(self.head_size)), key)  # [B, N, S, S]
            probs = self.attention_dropout(_masked_softmax(scores, mask_bias), training=training)
            context = tf.matmul(probs, value)  # [B, N, S, D]
        else:
            # One copy into [3, B, N, S, D] instead of four: a bf16 forward 5 % faster (AMX CPU).
            query, key, value = tf.unstack(tf.transpose(qkv, [2, 0, 3, 1, 4]))
            examples_per_chunk = (onednn.attention_examples_per_chunk(
                hidden.shape[0], self.num_heads, seq_length, query.dtype) if _onednn_forward(training) else None)
            context = _attention_context(query, key, value, mask_bias, examples_per_chunk)
        context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [-1, hidden_size])
        attention = self.attention_output_dropout(self.attention_output(context), training=training)
        tokens = tf.cast(self.attention_layer_norm(attention + tokens), tokens.dtype)
        intermediate = self.activation(self.intermediate(tokens), training)
        output = self.output_dropout(self.output_dense(intermediate), training=training)
        tokens = tf.cast(self.output_layer_norm(output + tokens), tokens.dtype)
        return tf.reshape(tokens, [-1, seq_length, hidden_size])


class BertModel(keras.Model):
    """The BERT encoder.

    Inputs: a dict of int32 `input_ids`, `input_mask` (1 = real token) and `segment_ids`,
    each [batch, seq]. Outputs a dict: `sequence_output` [batch, seq, hidden], `pooled_output`
    [batch, hidden] (tanh dense on the first token; absent with `add_pooling_layer=False`)
    and `encoder_outputs`, every layer's output as a list of [batch, seq, hidden], in the
    policy's compute dtype.
    """

    def __init__(self, config, add_pooling_layer=True, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.embeddings = BertEmbeddings(config, name="embeddings")
        self.encoder_layers = [BertLayer(config, name=f"layer_{i}") for i in range(config.num_hidden_layers)]
        self.pooler = keras.layers.Dense(
            config.hidden_size, activation="tanh", kernel_initializer=_initializer(config),
            name="pooler") if add_pooling_layer else None

    def call(self, inputs, training=False):
        hidden = self.embeddings(inputs["input_ids"], inputs["segment_ids"], training=training)
        encoder_outputs = []
        for layer in self.encoder_layers:
            hidden = layer(hidden, inputs["input_mask"], training=training)
            encoder_outputs.append(hidden)
        outputs = {"sequence_output": hidden, "encoder_outputs": encoder_outputs}
        if self.pooler is not None:
            outputs["pooled_output"] = self.pooler(hidden[:, 0])
        return outputs

    def get_config(self):
        return {"config": self.config.to_dict(), "add_pooling_layer": self.pooler is not None, "name": self.name}

    def google_weights(self):
        """{Google variable name: WeightSlot} for every encoder variable."""
        e = self.embeddings
        weights = {
            "bert/embeddings/word_embeddings": WeightSlot(e.word_embeddings.embeddings),
            "bert/embeddings/position_embeddings": WeightSlot(e.position_embeddings.embeddings),
            "bert/embeddings/token_type_embeddings": WeightSlot(e.token_type_embeddings.embeddings),
            **_layer_norm_weights("bert/embeddings/LayerNorm", e.layer_norm),
            **(_dense_weights("bert/pooler/dense", self.pooler) if self.pooler is not None else {}),
        }
        for i, layer in enumerate(self.encoder_layers):
            prefix = f"bert/encoder/layer_{i}"
            for part, name in enumerate(("query", "key", "value")):
                weights[f"{prefix}/attention/self/{name}/kernel"] = WeightSlot(layer.query_key_value.kernel, part, 3)
                weights[f"{prefix}/attention/self/{name}/bias"] = WeightSlot(layer.query_key_value.bias, part, 3)
            weights.update(_dense_weights(f"{prefix}/attention/output/dense", layer.attention_output))
            weights.update(_layer_norm_weights(f"{prefix}/attention/output/LayerNorm", layer.attention_layer_norm))
            weights.update(_dense_weights(f"{prefix}/intermediate/dense", layer.intermediate))
            weights.update(_dense_weights(f"{prefix}/output/dense", layer.output_dense))
            weights.update(_layer_norm_weights(f"{prefix}/output/LayerNorm", layer.output_layer_norm))
        return weights


@dataclasses.dataclass
class WeightSlot:
    """Where a Google-named weight lives: `variable`, or part `part` of `num_parts` along its last axis."""

    variable: object
    part: int = 0
    num_parts: int = 1

    @property
    def shape(self):
        shape = list(self.variable.shape)
        shape[-1] //= self.num_parts
        return tuple(shape)

    def read(self):
        """The weight's value as a float32 tensor of `self.shape`."""
        return tf.split(tf.convert_to_tensor(self.variable.value), self.num_parts, axis=-1)[self.part]


def _dense_weights(prefix, dense):
    return {f"{prefix}/kernel": WeightSlot(dense.kernel), f"{prefix}/bias": WeightSlot(dense.bias)}


def _layer_norm_weights(prefix, layer_norm):
    return {f"{prefix}/gamma": WeightSlot(layer_norm.gamma), f"{prefix}/beta": WeightSlot(layer_norm.beta)}


class _LogitsLayer(keras.layers.Layer):
    """`inputs @ output_weights^T + output_bias` with Google's [num_outputs, hidden] weight layout; float32 out."""

    def __init__(self, num_outputs, initializer_range, **kwargs):
        super().__init__(**kwargs)
        self.num_outputs = num_outputs
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.output_weights = self.add_weight(
            name="output_weights", shape=(self.num_outputs, input_shape[-1]),
            initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_range))
        self.output_bias = self.add_weight(name="output_bias", shape=(self.num_outputs,), initializer="zeros")

    def call(self, inputs):
        logits = tf.matmul(inputs, self.output_weights, transpose_b=True) + self.output_bias
        return tf.cast(logits, tf.float32)

    def google_weights(self, prefix):
        return {f"{prefix}output_weights": WeightSlot(self.output_weights),
                f"{prefix}output_bias": WeightSlot(self.output_bias)}


class BertPretrainingHeads(keras.layers.Layer):
    """Masked-LM head (tied to the word embeddings) and next-sentence head.

    Call with the encoder outputs and `masked_lm_positions` [B, P]; returns float32
    `masked_lm_logits` [B, P, vocab] (computed only at the masked positions) and
    `next_sentence_logits` [B, 2].
    """

    def __init__(self, config, word_embeddings, **kwargs):
        super().__init__(**kwargs)
        self.word_embeddings = word_embeddings
        self.activation = ACTIVATIONS[config.hidden_act]
        self.transform = keras.layers.Dense(
            config.hidden_size, kernel_initializer=_initializer(config), name="transform")
        self.transform_layer_norm = _layer_norm("transform_LayerNorm")
        self.vocab_size = config.vocab_size
        self.next_sentence = _LogitsLayer(2, config.initializer_range, name="seq_relationship")

    def build(self, input_shape):
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.vocab_size,), initializer="zeros", autocast=False)

    def call(self, sequence_output, pooled_output, masked_lm_positions):
        masked = tf.gather(sequence_output, masked_lm_positions, batch_dims=1)
        transformed = self.activation(self.transform(masked), True)  # GELU's training form: the same function
        masked = tf.cast(self.transform_layer_norm(transformed), sequence_output.dtype)
        table = tf.cast(self.word_embeddings.embeddings, masked.dtype)
        logits = tf.einsum("bph,vh->bpv", masked, table)
        masked_lm_logits = tf.cast(logits, tf.float32) + self.output_bias
        return {"masked_lm_logits": masked_lm_logits, "next_sentence_logits": self.next_sentence(pooled_output)}

    def google_weights(self):
        return {
            **_dense_weights("cls/predictions/transform/dense", self.transform),
            **_layer_norm_weights("cls/predictions/transform/LayerNorm", self.transform_layer_norm),
            "cls/predictions/output_bias": WeightSlot(self.output_bias),
            **self.next_sentence.google_weights("cls/seq_relationship/"),
        }


class _BertWithHead(keras.Model):
    """Base of the task models: owns `self.bert` and merges the heads' Google names."""

    def __init__(self, config, add_pooling_layer=True, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.bert = BertModel(config, add_pooling_layer, name="bert")

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name}

    def google_weights(self):
        return {**self.bert.google_weights(), **self._head_google_weights()}


class BertForPreTraining(_BertWithHead):
    """Encoder + pretraining heads. Inputs add int32 `masked_lm_positions` [B, P]."""

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.heads = BertPretrainingHeads(config, self.bert.embeddings.word_embeddings, name="cls")

    def call(self, inputs, training=False):
        outputs = self.bert(inputs, training=training)
        return self.heads(outputs["sequence_output"], outputs["pooled_output"], inputs["masked_lm_positions"])

    def _head_google_weights(self):
        return self.heads.google_weights()


class BertForQuestionAnswering(_BertWithHead):
    """Encoder + SQuAD span head: float32 `start_logits` and `end_logits`, each [B, S].

    The span head reads only the sequence output, so the encoder has no pooler (as in
    transformers' `BertForQuestionAnswering`); a checkpoint's pooler is left unused.
    """

    def __init__(self, config, **kwargs):
        super().__init__(config, add_pooling_layer=False, **kwargs)
        self.span_head = _LogitsLayer(2, config.initializer_range, name="squad")

    def call(self, inputs, training=False):
        logits = self.span_head(self.bert(inputs, training=training)["sequence_output"])
        return {"start_logits": logits[:, :, 0], "end_logits": logits[:, :, 1]}

    def _head_google_weights(self):
        return self.span_head.google_weights("cls/squad/")


class BertForSequenceClassification(_BertWithHead):
    """Encoder + dropout + classifier on the pooled output: float32 `logits` [B, num_labels]."""

    def __init__(self, config, num_labels, **kwargs):
        super().__init__(config, **kwargs)
        self.num_labels = num_labels
        self.dropout = Dropout(config.hidden_dropout_prob)
        self.classifier = _LogitsLayer(num_labels, config.initializer_range, name="classifier")

    def call(self, inputs, training=False):
        pooled = self.bert(inputs, training=training)["pooled_output"]
        return {"logits": self.classifier(self.dropout(pooled, training=training))}

    def get_config(self):
        return {**super().get_config(), "num_labels": self.num_labels}

    def _head_google_weights(self):
        return self.classifier.google_weights("")


class BertForTokenClassification(_BertWithHead):
    """Encoder + dropout + classifier on every token: float32 `logits` [B, S, num_labels].

    Google has no tagging model; its weights take the names `cls/ner/output_weights`
    [num_labels, hidden] and `cls/ner/output_bias` (HF: `classifier.weight`, `.bias`).
    The encoder has no pooler, as in transformers' `BertForTokenClassification`.
    """

    def __init__(self, config, num_labels, **kwargs):
        super().__init__(config, add_pooling_layer=False, **kwargs)
        self.num_labels = num_labels
        self.dropout = Dropout(config.hidden_dropout_prob)
        self.classifier = _LogitsLayer(num_labels, config.initializer_range, name="classifier")

    def call(self, inputs, training=False):
        sequence = self.bert(inputs, training=training)["sequence_output"]
        return {"logits": self.classifier(self.dropout(sequence, training=training))}

    def get_config(self):
        return {**super().get_config(), "num_labels": self.num_labels}

    def _head_google_weights(self):
        return self.classifier.google_weights("cls/ner/")


def build_model(model, seq_length=8, num_predictions=2):
    """Creates every variable of `model` by running it once on a tiny dummy batch; returns it."""
    model(dummy_inputs(1, seq_length, num_predictions))
    return model


def dummy_inputs(batch_size, seq_length, num_predictions=2):
    """A batch of valid all-ones int32 inputs, for building models and tracing."""
    ones = tf.ones([batch_size, seq_length], tf.int32)
    return {
        "input_ids": ones,
        "input_mask": ones,
        "segment_ids": tf.zeros_like(ones),
        "masked_lm_positions": tf.zeros([batch_size, num_predictions], tf.int32),
    }
