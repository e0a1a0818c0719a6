"""SQuAD: JSON -> examples (examples.py) -> windows (features.py; tf.data in bert/train/array_input.py)
-> logits (bert/inference.py) -> answers and Google's output files (postprocess.py) -> the official
metrics (evaluation.py, metrics.py)."""
