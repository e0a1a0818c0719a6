"""Text to tokens: the WordPiece tokenizer and the vocabulary trainer."""
