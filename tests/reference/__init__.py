"""The independent references (PyTorch, transformers) and the golden files they produce."""
