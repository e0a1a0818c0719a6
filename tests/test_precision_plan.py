"""The run-time compute plan: CPU flags read from /proc/cpuinfo, XLA and precision chosen from them."""

import dataclasses

import pytest

from bert.errors import InputError
from bert.train import hardware, precision

SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8

processor\t: 1
model name\t: a second processor is not read
"""
EPYC = "processor : 0\ncpu family : 25\nmodel : 17\nmodel name : AMD EPYC\nflags : fpu avx2 avx512f avx512_bf16\n"
OLD_XEON = "processor : 0\nmodel name : Intel(R) Xeon(R) CPU E5-2690 v4\nflags : fpu avx2\n"


def test_cpuinfo_gives_model_family_and_bf16_flags():
    cpu = hardware.parse_cpuinfo(SAPPHIRE_RAPIDS, logical_cpus=2)
    assert (cpu.model_name, cpu.family, cpu.model) == ("Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", "6", "143")
    assert cpu.has_amx_bf16 and cpu.has_native_bf16
    assert cpu.describe() == ("Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz (family 6, model 143), 2 logical CPUs, "
                              "avx512_bf16 yes, amx_bf16 yes")
    epyc = hardware.parse_cpuinfo(EPYC, logical_cpus=2)
    assert epyc.has_native_bf16 and not epyc.has_amx_bf16
    assert not hardware.parse_cpuinfo(OLD_XEON, logical_cpus=28).has_native_bf16


def write_cache_entry(cache_dir, index, level, kind, size):
    entry = cache_dir / f"index{index}"
    entry.mkdir(parents=True)
    for field, value in (("level", level), ("type", kind), ("size", size)):
        (entry / field).write_text(f"{value}\n")


def test_the_l2_cache_is_read_from_sysfs(tmp_path):
    write_cache_entry(tmp_path, 0, 1, "Data", "48K")
    write_cache_entry(tmp_path, 1, 1, "Instruction", "64K")
    write_cache_entry(tmp_path, 2, 2, "Unified", "2048K")
    write_cache_entry(tmp_path, 3, 3, "Unified", "491520K")
    assert hardware.l2_cache_bytes(str(tmp_path)) == 2 * 1024 ** 2
    assert hardware.l2_cache_bytes(str(tmp_path / "missing")) is None
    assert hardware.parse_cache_size("1M") == 1024 ** 2 and hardware.parse_cache_size("512") == 512
    only_l1 = tmp_path / "only_l1"
    write_cache_entry(only_l1, 0, 1, "Data", "32K")
    assert hardware.l2_cache_bytes(str(only_l1)) is None
    cpu = dataclasses.replace(hardware.parse_cpuinfo(EPYC, logical_cpus=2), l2_cache_bytes=1024 ** 2)
    assert cpu.describe().endswith("amx_bf16 no, L2 1024 KiB per core")


def test_this_machine_is_described():
    cpu = hardware.cpu_info()
    assert cpu.logical_cpus >= 1 and cpu.model_name
    assert "avx512_bf16" in cpu.describe()


@pytest.mark.parametrize("cpuinfo", [SAPPHIRE_RAPIDS, EPYC])
def test_bf16_on_a_cpu_declines_xla_unless_forced(cpuinfo):
    cpu = hardware.parse_cpuinfo(cpuinfo, logical_cpus=2)
    chosen = precision.plan(True, "bfloat16", use_xla=True, gpus=[], cpu=cpu)
    assert (chosen.policy, chosen.jit_compile, chosen.warnings) == ("mixed_bfloat16", False, ())
    assert "--force_xla overrides" in chosen.describe() and cpu.model_name in chosen.describe()
    forced = precision.plan(True, "bfloat16", use_xla=False, force_xla=True, gpus=[], cpu=cpu)
    assert forced.jit_compile and "--force_xla" in forced.reason


def test_fp32_on_a_cpu_compiles_training_as_asked_and_runs_a_forward_without_xla():
    cpu = hardware.parse_cpuinfo(EPYC, logical_cpus=2)
    asked = precision.plan(False, "float16", use_xla=True, gpus=[], cpu=cpu)
    assert asked.policy == "float32" and asked.xla == precision.XlaChoice(training=True, inference=False)
    assert "for prediction XLA off (declined for a forward on a CPU" in asked.describe()
    not_asked = precision.plan(False, "float16", use_xla=False, gpus=[], cpu=cpu)
    assert not_asked.xla == (False, False) and "prediction" not in not_asked.describe()
    forced = precision.plan(False, "float16", use_xla=False, force_xla=True, gpus=[], cpu=cpu)
    assert forced.xla == (True, True)


def test_gpus_compile_forward_and_training_as_asked():
    for amp in (False, True):
        chosen = precision.plan(amp, "bfloat16", use_xla=True, gpus=[("NVIDIA A100", (8, 0))])
        assert chosen.xla == (True, True) and "prediction" not in chosen.describe()


def test_emulated_half_precision_on_a_cpu_is_warned_about():
    old, epyc = (hardware.parse_cpuinfo(text, logical_cpus=2) for text in (OLD_XEON, EPYC))
    assert "bf16 is emulated" in precision.plan(True, "bfloat16", False, gpus=[], cpu=old).warnings[0]
    assert "fp16 is emulated" in precision.plan(True, "float16", False, gpus=[], cpu=epyc).warnings[0]
    sapphire = hardware.parse_cpuinfo(SAPPHIRE_RAPIDS, logical_cpus=2)
    assert precision.plan(True, "float16", False, gpus=[], cpu=sapphire).warnings == ()


def test_gpus_compile_bf16_with_xla_and_warn_below_ampere():
    ampere = precision.plan(True, "bfloat16", use_xla=True, gpus=[("NVIDIA A100", (8, 0))])
    assert ampere.jit_compile and ampere.warnings == () and "compute capability 8.0" in ampere.device
    volta = precision.plan(True, "bfloat16", use_xla=True, gpus=[("Tesla V100", (7, 0))])
    assert volta.jit_compile and "tensor cores" in volta.warnings[0]


def test_unknown_amp_dtype_is_a_one_line_error():
    with pytest.raises(InputError, match="--amp_dtype: expected one of"):
        precision.plan(True, "float8", False, gpus=[])


def test_a_cpu_run_that_never_trains_uses_onednn_forward_kernels_and_bf16_weights():
    cpu = hardware.parse_cpuinfo(SAPPHIRE_RAPIDS, logical_cpus=2)
    bf16 = precision.plan(True, "bfloat16", use_xla=True, gpus=[], cpu=cpu, forward_only=True, onednn_available=True)
    assert bf16.onednn_forward_only and bf16.policy == "bfloat16" and not bf16.jit_compile
    assert "oneDNN forward-only kernels on" in bf16.describe() and "attention in chunks" not in bf16.describe()
    with_l2 = precision.plan(True, "bfloat16", use_xla=False, gpus=[], forward_only=True, onednn_available=True,
                             cpu=dataclasses.replace(cpu, l2_cache_bytes=2 * 1024 ** 2))
    assert with_l2.attention_cache_bytes == 2 * 1024 ** 2
    assert "attention in chunks of examples whose scores fit 2048 KiB (one core's L2)" in with_l2.describe()
    for kib, described in ((512, "fit 512 KiB (--attention_chunk_kib)"), (0, None)):
        chosen = precision.plan(True, "bfloat16", use_xla=False, gpus=[], forward_only=True, onednn_available=True,
                                cpu=dataclasses.replace(cpu, l2_cache_bytes=2 * 1024 ** 2), attention_chunk_kib=kib)
        assert chosen.attention_cache_bytes == kib * 1024
        assert (described in chosen.describe()) if described else "attention in chunks" not in chosen.describe()
    with pytest.raises(InputError, match="--attention_chunk_kib: expected 0 or more, got -1"):
        precision.plan(True, "bfloat16", False, gpus=[], cpu=cpu, forward_only=True, attention_chunk_kib=-1)
    fp32 = precision.plan(False, "float16", use_xla=True, gpus=[], cpu=cpu, forward_only=True, onednn_available=True)
    assert fp32.onednn_forward_only and fp32.policy == "float32" and fp32.xla.inference is False
    # Training, no oneDNN, the flag off, a forward compiled by XLA, or a GPU: TensorFlow's default kernels.
    for kwargs in ({"forward_only": False}, {"onednn_available": False}, {"onednn_inference": False},
                   {"force_xla": True}):
        chosen = precision.plan(True, "bfloat16", use_xla=False, gpus=[], cpu=cpu,
                                **{"forward_only": True, "onednn_available": True, **kwargs})
        assert not chosen.onednn_forward_only and chosen.policy == "mixed_bfloat16", kwargs
        assert "oneDNN" not in chosen.describe()
    gpu = precision.plan(True, "bfloat16", False, gpus=[("NVIDIA A100", (8, 0))], forward_only=True,
                         onednn_available=True)
    assert not gpu.onednn_forward_only and gpu.policy == "mixed_bfloat16"
