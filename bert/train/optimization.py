"""BERT's optimizers and learning-rate schedule, built from Keras 3's own.

LAMB (the pretraining default) and AdamW (Google's BERT optimizer: weight decay 0.01,
epsilon 1e-6, here added after the bias correction as torch.optim.AdamW does), gradients clipped to global norm `CLIP_NORM`, no weight decay on LayerNorm
parameters and biases, linear warmup then polynomial decay to zero (Google's, or from the
peak over the updates after warmup), and for
fp16 dynamic loss scaling (a step whose gradients overflow is skipped and the scale
halved). Weight decay is decoupled (applied as `w -= lr * decay * w`) for both.

Gradient accumulation happens in the training step (`bert/train/training.py`), not here: the step
sums the micro-batch gradients of a loss normalised over the whole global batch, so
batch b with 4 accumulation steps equals batch 4b exactly (Keras's own
`gradient_accumulation_steps` averages per-micro-batch losses, which differs whenever
micro-batches hold different numbers of masked tokens), and a multi-worker run
all-reduces once per update instead of once per micro-batch. Clipping happens there too,
on the all-reduced gradient: Keras's `global_clipnorm` would clip each replica's own
gradient before summing them, which changes the update as soon as there are two replicas.

Example:
    >>> optimizer = create_optimizer("lamb", learning_rate=6e-3, num_train_steps=7038,
    ...                              num_warmup_steps=2000, decay_power=0.5)
"""

import keras

from bert.errors import InputError

WEIGHT_DECAY = 0.01
CLIP_NORM = 1.0
NO_DECAY_VARIABLE_NAMES = ["gamma", "beta", "bias"]  # LayerNorm scale/offset and every bias


class AdamW(keras.optimizers.AdamW):
    """Keras's AdamW with epsilon added to the bias-corrected sqrt(v), as torch.optim.AdamW does.

    Keras adds epsilon to the uncorrected sqrt(v) (the Adam paper's "epsilon hat"), which
    makes the effective epsilon 1 / sqrt(1 - beta_2^t) times larger: 32x at the first
    update, 10x at the 10th, 3x at the 100th. Per-weight gradients are mostly below 1e-4
    once clipped to global norm 1, so a fine-tuning run of a few hundred updates moved
    less than PyTorch's at the same learning rate. Weight decay is Keras's, unchanged.
    """

    def update_step(self, gradient, variable, learning_rate):
        ops = keras.ops
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        m_hat = ops.divide(m, 1 - ops.power(self.beta_1, step))
        v_hat = ops.divide(v, 1 - ops.power(self.beta_2, step))
        lr = ops.cast(learning_rate, variable.dtype)
        self.assign_sub(variable, ops.divide(ops.multiply(m_hat, lr), ops.add(ops.sqrt(v_hat), self.epsilon)))


@keras.saving.register_keras_serializable(package="bert")
class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate at update u (0-based): linear warmup, then polynomial decay to 0.

    `learning_rate * u / num_warmup_steps` while u < num_warmup_steps. After that, with W
    warmup and T total updates:
      - Google's BERT recipe (`decay_after_warmup=False`; NVIDIA's LAMB recipe uses power
        0.5): `learning_rate * (1 - u / T) ** power`, so the decay starts from
        `(1 - W / T) ** power * learning_rate`;
      - `decay_after_warmup=True` (transformers' and NVIDIA's PyTorch SQuAD schedule):
        `learning_rate * (1 - (u - W) / (T - W)) ** power`, continuous at the peak.
    """

    def __init__(self, learning_rate, num_train_steps, num_warmup_steps, power=1.0, decay_after_warmup=False):
        self.learning_rate = learning_rate
        self.num_train_steps = num_train_steps
        self.num_warmup_steps = num_warmup_steps
        self.power = power
        self.decay_after_warmup = decay_after_warmup
        self._decay_start = num_warmup_steps if decay_after_warmup else 0
        self._decay = keras.optimizers.schedules.PolynomialDecay(
            learning_rate, decay_steps=max(num_train_steps - self._decay_start, 1), end_learning_rate=0.0, power=power)

    def __call__(self, step):
        update = keras.ops.cast(step, "float32")
        warmup = self.learning_rate * update / max(self.num_warmup_steps, 1)
        return keras.ops.where(update < self.num_warmup_steps, warmup, self._decay(update - self._decay_start))

    def get_config(self):
        return {"learning_rate": self.learning_rate, "num_train_steps": self.num_train_steps,
                "num_warmup_steps": self.num_warmup_steps, "power": self.power,
                "decay_after_warmup": self.decay_after_warmup}


def create_optimizer(optimizer_type, learning_rate, num_train_steps, num_warmup_steps,
                     decay_power=1.0, loss_scaling=False, decay_after_warmup=False):
    """Returns a Keras optimizer; `num_train_steps` and `num_warmup_steps` count updates.

    `decay_after_warmup` picks the schedule's decay (see `WarmupPolynomialDecay`);
    `loss_scaling` wraps the optimizer in `keras.optimizers.LossScaleOptimizer` (for fp16).
    """
    if num_train_steps < 1:
        raise InputError(f"--num_train_steps: must be at least 1, got {num_train_steps}")
    if learning_rate <= 0:
        raise InputError(f"--learning_rate: must be positive, got {learning_rate}")
    schedule = WarmupPolynomialDecay(learning_rate, num_train_steps, num_warmup_steps, decay_power, decay_after_warmup)
    common = dict(learning_rate=schedule, weight_decay=WEIGHT_DECAY)
    if optimizer_type == "lamb":
        optimizer = keras.optimizers.Lamb(beta_1=0.9, beta_2=0.999, epsilon=1e-6, **common)
    elif optimizer_type == "adam":
        optimizer = AdamW(beta_1=0.9, beta_2=0.999, epsilon=1e-6, **common)
    else:
        raise InputError(f"--optimizer_type: expected 'lamb' or 'adam', got {optimizer_type!r}")
    optimizer.exclude_from_weight_decay(var_names=NO_DECAY_VARIABLE_NAMES)
    if loss_scaling:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
