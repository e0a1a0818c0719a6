"""What this machine reports about itself: the CPU's model, instruction-set flags and L2 cache.

Read from /proc/cpuinfo and /sys/devices/system/cpu on Linux (elsewhere only the model
name from `platform`), with no TensorFlow import, so that benchmark children running
PyTorch can describe the same machine. `bert/train/precision.py` chooses the compute path
from these facts.

Example:
    >>> cpu = cpu_info()
    >>> cpu.describe()
    'AMD EPYC (family 25, model 17), 2 logical CPUs, avx512_bf16 yes, amx_bf16 no, L2 1024 KiB per core'
"""

import dataclasses
import functools
import os
import platform
import typing

# Flags that decide how fast bfloat16 runs on a CPU: AVX512-BF16 has bf16 dot products
# (about 2x fp32), AMX-BF16 has tile matrix units (about 4x fp32).
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclasses.dataclass(frozen=True)
class CpuInfo:
    model_name: str
    family: str = ""
    model: str = ""
    flags: frozenset = frozenset()
    logical_cpus: int = 1
    l2_cache_bytes: typing.Optional[int] = None  # one core's L2 (data or unified); None: not reported

    @property
    def has_amx_bf16(self):
        return "amx_bf16" in self.flags

    @property
    def has_native_bf16(self):
        """Whether matrix products in bf16 have hardware support (AVX512-BF16 or AMX-BF16)."""
        return any(flag in self.flags for flag in BF16_FLAGS)

    def describe(self):
        identity = f" (family {self.family}, model {self.model})" if self.family else ""
        flags = ", ".join(f"{flag} {'yes' if flag in self.flags else 'no'}" for flag in BF16_FLAGS)
        cache = f", L2 {self.l2_cache_bytes // 1024} KiB per core" if self.l2_cache_bytes else ""
        return f"{self.model_name}{identity}, {self.logical_cpus} logical CPUs, {flags}{cache}"


def parse_cpuinfo(text, logical_cpus):
    """A `CpuInfo` from the text of /proc/cpuinfo (its first processor's fields)."""
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return CpuInfo(model_name=fields.get("model name", platform.processor() or "unknown CPU"),
                   family=fields.get("cpu family", ""), model=fields.get("model", ""),
                   flags=frozenset(fields.get("flags", "").split()), logical_cpus=logical_cpus)


def parse_cache_size(text):
    """Bytes in a sysfs cache size such as "2048K" or "1M"."""
    text = text.strip()
    units = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
    return int(text[:-1]) * units[text[-1]] if text[-1:] in units else int(text)


def l2_cache_bytes(cache_dir="/sys/devices/system/cpu/cpu0/cache"):
    """The L2 (data or unified) cache of the first CPU in bytes, from sysfs; None when not reported."""
    try:
        entries = sorted(os.listdir(cache_dir))
    except OSError:
        return None
    for entry in entries:
        fields = {}
        for field in ("level", "type", "size"):
            try:
                with open(os.path.join(cache_dir, entry, field), encoding="utf-8") as f:
                    fields[field] = f.read().strip()
            except OSError:
                break
        if fields.get("level") == "2" and fields.get("type") in ("Data", "Unified") and fields.get("size"):
            try:
                return parse_cache_size(fields["size"])
            except ValueError:
                return None
    return None


@functools.cache
def cpu_info(path="/proc/cpuinfo"):
    """This machine's `CpuInfo` (cached)."""
    logical_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        with open(path, encoding="utf-8") as f:
            info = parse_cpuinfo(f.read(), logical_cpus)
    except OSError:
        info = CpuInfo(model_name=platform.processor() or "unknown CPU", logical_cpus=logical_cpus)
    return dataclasses.replace(info, l2_cache_bytes=l2_cache_bytes())
