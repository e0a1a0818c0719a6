"""The run-time compute plan: CPU flags read from /proc/cpuinfo, XLA and precision chosen from them."""

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
    assert "oneDNN forward-only kernels on" in bf16.describe()
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
