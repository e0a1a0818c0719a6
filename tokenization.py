"""Google-style `import tokenization`: re-exports bert.text.tokenization (the tokenizer lives there)."""
from bert.text.tokenization import *  # noqa: F401,F403
