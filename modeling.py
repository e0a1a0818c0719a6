"""Google-style `import modeling`: re-exports bert.modeling (the model lives there)."""
from bert.modeling import *  # noqa: F401,F403
