"""Token tagging (NER): CoNLL files (conll.py) -> WordPiece windows and back (features.py) -> entity F1 (metrics.py)."""
