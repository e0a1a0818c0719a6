"""Google-style `import optimization`: re-exports bert.train.optimization (the optimizers live there)."""
from bert.train.optimization import *  # noqa: F401,F403
