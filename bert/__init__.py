"""BERT pretraining and SQuAD fine-tuning on TensorFlow 2: the library behind the scripts at the root.

The data flows one way through the sub-packages:
  text/         raw text -> WordPiece tokens (tokenizer, vocabulary trainer)
  pretraining/  tokens -> masked-LM/NSP instances -> TFRecord shards -> tf.data batches
  squad/        SQuAD JSON -> examples -> windows (features) -> tf.data / inference -> answers, metrics
  train/        run setup, the training step and loop, losses, optimizers, resumable state, devices,
                the compute plan (precision, XLA) from the hardware found
  data/         downloads and corpus preparation (Wikipedia, books, SQuAD, checkpoints)
and modeling.py (the model), checkpoints.py (Google/Hugging Face names in and out),
export.py (Google-named model folders, SavedModel), flags.py (the flags the scripts share),
files.py (atomic writes, input patterns, output folders), json_log.py (JSON-lines logs),
flops.py (model FLOPs for MFU), errors.py (one-line errors for bad input).
"""
