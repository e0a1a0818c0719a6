"""Pretraining data: instances from tokens, TFRecord shards, and the tf.data input pipeline."""
