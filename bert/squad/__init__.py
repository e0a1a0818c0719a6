"""SQuAD: JSON -> examples (examples.py) -> windows (features.py; tf.data in input_pipeline.py) -> logits
(inference.py) -> answers and Google's output files (postprocess.py) -> the official metrics (evaluation.py, metrics.py)."""
