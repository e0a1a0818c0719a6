"""Mixed precision and the compilation path, chosen at run time from what the machine reports.

`--amp` turns on mixed precision with `--amp_dtype` (`float16`, with dynamic loss scaling
in training, or `bfloat16`); `--use_xla` asks for `tf.function(jit_compile=True)`.
`configure` then plans the run from the device it finds (`bert/train/hardware.py` for the
CPU's flags, TensorFlow for a GPU's compute capability), logs the plan in one line, and
warns when the precision asked for has no hardware support:

- XLA as asked, except bf16 on a CPU: XLA's CPU backend has no oneDNN bf16 kernels, and
  was slower than TensorFlow's own (oneDNN) kernels on both AVX512-BF16 and AMX-BF16
  machines (benchmarks/README.md), so XLA is declined there unless `force_xla`.
- On a CPU, forward-only calls (prediction, feature extraction) run without XLA in float32
  too: XLA's CPU matmuls are not oneDNN's, and once oneDNN has fused the bias, GELU and
  residual into each matmul a forward has almost nothing left for XLA to fuse (MiniLM,
  seq 384: 0.83x the time without XLA). Training keeps XLA, which fuses the backward pass.
- A run that never trains (`forward_only`) on a CPU with oneDNN, its forward not compiled
  by XLA, uses oneDNN's forward-only kernels (`bert/onednn.py`): weights cached in the
  layout of its AMX or AVX-512 matmul kernels, the fused LayerNorm, and attention in chunks
  of examples whose scores fit one core's L2 cache as the CPU reports it (or
  `attention_chunk_kib`); in bf16, the Keras policy `bfloat16` instead of `mixed_bfloat16`
  (the same forward, with the weights rounded to bf16 once when loaded instead of at every
  call). `onednn_inference=False` (`--noonednn_inference`) keeps TensorFlow's default
  kernels and policy.
- bf16 on a CPU without AVX512-BF16 or AMX-BF16, fp16 on a CPU without AVX512-FP16 or
  AMX-FP16, and bf16 on a GPU below compute capability 8.0 are emulated: a warning says so.

Example:
    >>> xla = configure(amp=True, amp_dtype="bfloat16", use_xla=True)
    >>> step = tf.function(train_step, jit_compile=xla.training)
    >>> forward = tf.function(model, jit_compile=xla.inference)
"""

import dataclasses
import typing

import keras
import tensorflow as tf
from absl import logging

from bert import onednn
from bert.errors import InputError
from bert.train import hardware

POLICIES = {"float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}
CPU_FP16_FLAGS = ("avx512_fp16", "amx_fp16")


class XlaChoice(typing.NamedTuple):
    """Whether to compile with XLA: training steps, and forward-only calls (prediction, features)."""

    training: bool
    inference: bool


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a run computes with, and why: `device` and `policy` as found, XLA as chosen.

    `jit_compile` is for training steps; `inference_jit_compile` (None: the same) for
    forward-only calls, with `inference_reason` saying why it differs.
    """

    device: str
    policy: str
    jit_compile: bool
    reason: str
    warnings: tuple = ()
    inference_jit_compile: typing.Optional[bool] = None
    inference_reason: str = ""
    onednn_forward_only: bool = False
    attention_cache_bytes: typing.Optional[int] = None  # a chunk's attention scores, on the forward-only path
    attention_cache_source: str = "one core's L2"

    @property
    def xla(self):
        inference = self.jit_compile if self.inference_jit_compile is None else self.inference_jit_compile
        return XlaChoice(training=self.jit_compile, inference=inference)

    def describe(self):
        described = (f"compute plan: {self.device}; Keras policy {self.policy}; "
                     f"XLA {'on' if self.jit_compile else 'off'} ({self.reason})")
        if self.xla.inference != self.jit_compile:
            described += f"; for prediction XLA {'on' if self.xla.inference else 'off'} ({self.inference_reason})"
        if self.onednn_forward_only:
            chunks = (f", attention in chunks of examples whose scores fit {self.attention_cache_bytes // 1024} KiB "
                      f"({self.attention_cache_source})" if self.attention_cache_bytes else "")
            described += ("; oneDNN forward-only kernels on (nothing trains: weights cached in the matmul kernels' "
                          f"layout, fused LayerNorm{chunks}; --noonednn_inference turns them off)")
        return described


def plan(amp, amp_dtype, use_xla, force_xla=False, gpus=None, cpu=None, forward_only=False, onednn_inference=True,
         onednn_available=None, attention_chunk_kib=None):
    """The `Plan` for these flags on this machine.

    Args:
        gpus: [(name, (major, minor) compute capability)]; None: the visible GPUs.
        cpu: a `hardware.CpuInfo`; None: this machine's.
        forward_only: the run never trains (prediction, evaluation or feature extraction only).
        onednn_inference: allow oneDNN's forward-only kernels (see the module docstring).
        onednn_available: whether this process runs oneDNN's kernels; None: `onednn.available()`.
        attention_chunk_kib: KiB of attention scores per chunk on the forward-only path; None:
            one core's L2 cache (`cpu.l2_cache_bytes`); 0: attention over the whole batch at once.
    """
    if amp and amp_dtype not in POLICIES:
        raise InputError(f"--amp_dtype: expected one of {sorted(POLICIES)}, got {amp_dtype!r}")
    policy = POLICIES[amp_dtype] if amp else "float32"
    gpus = _gpus() if gpus is None else gpus
    cpu = hardware.cpu_info() if cpu is None else cpu
    warnings = []
    if gpus:
        name, capability = gpus[0]
        device = f"{len(gpus)} GPU(s), {name}, compute capability {'.'.join(map(str, capability))}"
        if amp and amp_dtype == "bfloat16" and capability < (8, 0):
            warnings.append("bf16 needs compute capability 8.0 or later for tensor cores; --amp_dtype=float16 "
                            "runs faster on this GPU")
        return Plan(device, policy, bool(use_xla or force_xla), "--force_xla" if force_xla else "as --use_xla asks",
                    tuple(warnings))
    device = f"CPU {cpu.describe()}"
    if onednn_available is None:
        onednn_available = onednn.available()
    if amp and amp_dtype == "bfloat16" and not cpu.has_native_bf16:
        warnings.append("this CPU has neither AVX512-BF16 nor AMX-BF16: bf16 is emulated and likely slower than fp32")
    if amp and amp_dtype == "float16" and not any(flag in cpu.flags for flag in CPU_FP16_FLAGS):
        warnings.append("this CPU has neither AVX512-FP16 nor AMX-FP16: fp16 is emulated and likely slower than fp32; "
                        "use --amp_dtype=bfloat16 or float32")
    if force_xla:
        return Plan(device, policy, True, "--force_xla", tuple(warnings))
    onednn_forward_only = bool(forward_only and onednn_inference and onednn_available)
    if attention_chunk_kib is not None and attention_chunk_kib < 0:
        raise InputError(f"--attention_chunk_kib: expected 0 or more, got {attention_chunk_kib}")
    if attention_chunk_kib is None:
        chunking = {"attention_cache_bytes": cpu.l2_cache_bytes}
    else:
        chunking = {"attention_cache_bytes": attention_chunk_kib * 1024,
                    "attention_cache_source": "--attention_chunk_kib"}
    if onednn_forward_only and policy == "mixed_bfloat16":  # (XLA is declined for bf16 on a CPU)
        policy = "bfloat16"  # nothing trains: variables stored in bf16, no float32 -> bf16 cast of each per call
    if use_xla and amp and amp_dtype == "bfloat16":
        return Plan(device, policy, False, "declined for bf16 on a CPU: oneDNN's bf16 kernels beat XLA's; "
                    "--force_xla overrides", tuple(warnings), onednn_forward_only=onednn_forward_only,
                    **chunking)
    if use_xla and not amp:
        return Plan(device, policy, True, "as --use_xla asks", tuple(warnings), inference_jit_compile=False,
                    inference_reason="declined for a forward on a CPU: oneDNN's fused matmuls beat XLA's; "
                    "--force_xla overrides", onednn_forward_only=onednn_forward_only,
                    **chunking)
    return Plan(device, policy, bool(use_xla), "as --use_xla asks", tuple(warnings),
                onednn_forward_only=onednn_forward_only and not use_xla, **chunking)


def configure(amp, amp_dtype, use_xla, force_xla=False, forward_only=False, onednn_inference=True,
              attention_chunk_kib=None):
    """Sets the global Keras dtype policy (and oneDNN's forward-only kernels) from the run-time `plan`, logs it.

    Call before any TensorFlow op runs (see `onednn.enable_forward_only`). Returns the plan's `XlaChoice`.
    """
    chosen = plan(amp, amp_dtype, use_xla, force_xla, forward_only=forward_only, onednn_inference=onednn_inference,
                  attention_chunk_kib=attention_chunk_kib)
    keras.mixed_precision.set_global_policy(chosen.policy)
    if chosen.onednn_forward_only:
        onednn.enable_forward_only(attention_cache_bytes=chosen.attention_cache_bytes)
    logging.info(chosen.describe())
    for warning in chosen.warnings:
        logging.warning(warning)
    return chosen.xla


def _gpus():
    """[(device name, (major, minor) compute capability)] of the visible GPUs."""
    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        found.append((details.get("device_name", gpu.name), tuple(details.get("compute_capability", (0, 0)))))
    return found


def compute_dtype():
    return keras.mixed_precision.global_policy().compute_dtype
