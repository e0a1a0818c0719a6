"""Extracts BERT's per-token hidden states, with Google's flags and JSON-lines output.

Each input line is a text, or a pair written `A ||| B`. Each output line is
`{"linex_index": i, "features": [{"token": t, "layers": [{"index": -1, "values": [...]}, ...]}]}`
with one feature per WordPiece token ([CLS] and [SEP] included) and values rounded to
six decimals. Any checkpoint form that `--init_checkpoint` accepts works.

    python extract_features.py --input_file=input.txt --output_file=features.jsonl \
        --vocab_file=vocab.txt --init_checkpoint=bert_model.ckpt --layers=-1,-2,-3,-4
"""

import json
import re

import tensorflow as tf
from absl import app, flags, logging
from tqdm import tqdm

from bert import checkpoints, files
from bert import flags as cli_flags
from bert import modeling
from bert.train import precision
from bert.text import sequences, tokenization
from bert.errors import InputError, run_main

cli_flags.define_model_flags()
cli_flags.define_precision_flags()
flags.DEFINE_string("input_file", None, "Text file: one text per line, or `A ||| B` pairs.")
flags.DEFINE_string("output_file", None, "JSON-lines output file.")
flags.DEFINE_string("layers", "-1,-2,-3,-4", "Comma-separated encoder layer indexes (negative counts from the top).")
flags.DEFINE_integer("batch_size", 32, "Sequences per forward pass.")
FLAGS = flags.FLAGS

PAIR_SEPARATOR = re.compile(r"^(.*) \|\|\| (.*)$")


def read_examples(input_file):
    """Returns (text_a, text_b or None) per line of `input_file`."""
    try:
        with open(input_file, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except OSError as error:
        raise InputError(f"{input_file}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{input_file}: not UTF-8 text (byte {error.start})") from None
    pairs = [PAIR_SEPARATOR.match(line) for line in lines]
    return [(m.group(1), m.group(2)) if m else (line, None) for m, line in zip(pairs, lines)]


def parse_layers(text, num_layers):
    try:
        layers = [int(x) for x in text.split(",")]
    except ValueError:
        raise InputError(f"--layers: expected comma-separated integers, got {text!r}") from None
    for layer in layers:
        if not -num_layers <= layer < num_layers:
            raise InputError(f"--layers: index {layer} out of range for a {num_layers}-layer model")
    return layers


def feature_lines(all_tokens, arrays, model, layers, batch_size, jit_compile):
    """Yields one JSON line per example."""

    @tf.function(jit_compile=jit_compile)
    def forward(batch):
        outputs = model(batch)["encoder_outputs"]
        return tf.stack([tf.cast(outputs[layer], tf.float32) for layer in layers], axis=0)

    for start in tqdm(range(0, len(all_tokens), batch_size), desc="extracting", unit="batch"):
        batch = {name: array[start:start + batch_size] for name, array in arrays.items()}
        values = forward(batch).numpy()
        for offset in range(values.shape[1]):
            tokens = all_tokens[start + offset]
            features = [
                {"token": token,
                 "layers": [{"index": layer, "values": [round(float(x), 6) for x in values[j, offset, t]]}
                            for j, layer in enumerate(layers)]}
                for t, token in enumerate(tokens)
            ]
            yield json.dumps({"linex_index": start + offset, "features": features})


def main(argv):
    del argv
    cli_flags.require(input_file=FLAGS.input_file, output_file=FLAGS.output_file, vocab_file=FLAGS.vocab_file,
                      init_checkpoint=FLAGS.init_checkpoint)
    jit_compile = precision.configure(FLAGS.amp, FLAGS.amp_dtype, FLAGS.use_xla, FLAGS.force_xla, forward_only=True,
                                      onednn_inference=FLAGS.onednn_inference,
                                      attention_chunk_kib=FLAGS.attention_chunk_kib).inference
    config = modeling.BertConfig.from_json_file(cli_flags.resolve_bert_config(FLAGS.bert_config_file,
                                                                               FLAGS.init_checkpoint))
    if FLAGS.max_seq_length > config.max_position_embeddings:
        raise InputError(f"--max_seq_length: {FLAGS.max_seq_length} exceeds the config's "
                         f"max_position_embeddings ({config.max_position_embeddings})")
    layers = parse_layers(FLAGS.layers, config.num_hidden_layers)
    tokenizer = tokenization.FullTokenizer(FLAGS.vocab_file, FLAGS.do_lower_case)
    all_tokens, arrays = sequences.encode_texts(tokenizer, read_examples(FLAGS.input_file), FLAGS.max_seq_length)
    model = modeling.build_model(modeling.BertModel(config), FLAGS.max_seq_length)
    logging.info(checkpoints.load_weights(model, FLAGS.init_checkpoint).summary())

    try:
        with files.atomic_output(FLAGS.output_file) as output:
            for line in feature_lines(all_tokens, arrays, model, layers, FLAGS.batch_size, jit_compile):
                output.write(line + "\n")
    except OSError as error:
        raise InputError(f"{FLAGS.output_file}: cannot write ({error.strerror})") from None
    print(f"Wrote features of {len(all_tokens)} examples to {FLAGS.output_file}")


if __name__ == "__main__":
    app.run(lambda argv: run_main(main, argv))
