"""SQuAD: examples, windows (features), answer post-processing and the official metrics."""
