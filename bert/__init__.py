"""BERT pretraining and SQuAD fine-tuning on TensorFlow 2: the library behind the scripts at the root.

The data flows one way through the sub-packages:
  text/         raw text -> WordPiece tokens (tokenizer, vocabulary trainer)
  pretraining/  tokens -> masked-LM/NSP instances -> TFRecord shards -> tf.data batches
  squad/        SQuAD JSON -> windows (features) -> answers and the official metrics
  train/        the training step and loop, losses, optimizers, resumable state, devices
  data/         downloads and corpus preparation (Wikipedia, books, SQuAD, checkpoints)
and modeling.py (the model), checkpoints.py (Google/Hugging Face names in and out),
flags.py (the flags the scripts share), errors.py (one-line errors for bad input).
"""
