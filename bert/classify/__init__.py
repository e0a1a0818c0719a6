"""Sentence(-pair) classification: task files -> examples (processors.py); GLUE scores (metrics.py)."""
