"""Trains a BERT WordPiece vocabulary (vocab.txt) on plain-text files.

The vocab starts with [PAD] [UNK] [CLS] [SEP] [MASK] and is usable by
`tokenization.FullTokenizer` and create_pretraining_data.py with the same
--do_lower_case.

Example:
    python build_vocab.py --input_file='data/formatted/*.txt' --vocab_file=vocab.txt \\
        --vocab_size=30522 --do_lower_case
"""


from absl import app, flags

from bert.text import wordpiece_trainer
from bert.errors import InputError, run_main
from bert.files import expand_patterns

flags.DEFINE_string("input_file", None, "Input text file(s): comma-separated globs.")
flags.DEFINE_string("vocab_file", None, "Output vocabulary file, one token per line.")
flags.DEFINE_integer("vocab_size", 30522, "Vocabulary size, special tokens and alphabet included.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case and strip accents (uncased model).")
flags.DEFINE_integer("min_frequency", 2, "Minimum count of a pair of pieces to merge it.")

FLAGS = flags.FLAGS


def main(argv):
    del argv
    if not FLAGS.input_file or not FLAGS.vocab_file:
        raise InputError("give --input_file and --vocab_file")
    files = expand_patterns(FLAGS.input_file, "input_file")
    tokens = wordpiece_trainer.train_wordpiece_vocab(
        files, FLAGS.vocab_size, FLAGS.do_lower_case, FLAGS.min_frequency
    )
    wordpiece_trainer.write_vocab(tokens, FLAGS.vocab_file)
    print(f"Wrote {len(tokens):,} tokens to {FLAGS.vocab_file} from {len(files)} file(s)", flush=True)


if __name__ == "__main__":
    app.run(lambda argv: run_main(main, argv))
