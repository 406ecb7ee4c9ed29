"""vLLM is started in bfloat16 on a CPU only where the CPU computes in it natively; elsewhere in float32
(bf16 answers took twice as long on an AVX2-only CPU, benchmarks.serve_dtype)."""

import pytest

from core.hardware import cpu_flags, has_gpu
from core.settings import Settings
from ragloop.serve import VLLMServer, serving_dtype

AVX2 = {"fpu", "sse2", "avx", "avx2", "fma", "f16c"}


@pytest.mark.parametrize(
    ("flags", "dtype"),
    [(AVX2, "float32"), (AVX2 | {"avx512f", "avx512_bf16"}, "bfloat16"), (AVX2 | {"amx_bf16"}, "bfloat16")],
)
def test_auto_on_a_cpu_follows_native_bf16(flags, dtype):
    assert serving_dtype("auto", gpu=False, flags=flags) == dtype


def test_auto_on_a_gpu_and_an_explicit_dtype_are_left_to_vllm():
    assert serving_dtype("auto", gpu=True, flags=AVX2) == "auto"
    assert serving_dtype("bfloat16", gpu=False, flags=AVX2) == "bfloat16"


def test_the_default_setting_is_auto_and_the_command_carries_the_resolved_dtype():
    assert Settings().serve.dtype == "auto"
    command = VLLMServer("/models/m", dtype="auto").command()
    resolved = command[command.index("--dtype") + 1]
    assert resolved == serving_dtype("auto", gpu=has_gpu(), flags=cpu_flags())
