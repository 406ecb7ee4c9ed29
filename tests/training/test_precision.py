"""SFT's precision (``loop.train_dtype``): ``auto`` is bfloat16 mixed precision on a GPU that supports it
and float32 on a CPU — with avx512_bf16 a loop step took 0.65x the float32 time (``benchmarks/sft_steps.py``)
but learned less, and the extra steps did not make up for it (README). A bf16 job (asked for) trains on
the CPU and its adapter keeps float32 weights, which vLLM loads like any other."""

from __future__ import annotations

import pytest

from core.hardware import cpu_flags, has_gpu, native_bf16, training_bf16
from core.settings import Settings

AVX2 = {"fpu", "sse2", "avx", "avx2", "fma"}


@pytest.mark.parametrize(
    ("flags", "native"),
    [(AVX2, False), (AVX2 | {"avx512f", "avx512_bf16"}, True), (AVX2 | {"amx_bf16"}, True)],
)
def test_a_cpu_computes_in_bf16_natively_only_with_its_flags(flags, native):
    assert native_bf16(gpu=False, flags=flags) is native


def test_auto_is_bf16_on_a_gpu_only_and_the_loop_trains_in_what_its_setting_resolves_to():
    assert training_bf16("auto", gpu=False) is False  # whatever the CPU's flags
    assert training_bf16("float32", gpu=True) is False and training_bf16("bfloat16", gpu=False) is True
    assert Settings().loop.train_dtype == "auto"
    assert Settings().loop.sft_job()["bf16"] is (has_gpu() and native_bf16(gpu=True, flags=cpu_flags()))
    assert Settings(loop={"train_dtype": "float32"}).loop.sft_job()["bf16"] is False
    assert Settings(loop={"train_dtype": "bfloat16"}).loop.sft_job()["bf16"] is True


def test_a_bf16_job_learns_on_the_cpu_and_saves_float32_lora_weights(overfit_job):
    from safetensors import safe_open

    from training.run import run

    out, metrics = run("sft", overfit_job("sft", bf16=True))
    assert metrics["train_loss_last"] < 0.7 * metrics["train_loss_first"], metrics
    with safe_open(str(out / "adapter_model.safetensors"), framework="pt") as weights:
        dtypes = {str(weights.get_tensor(name).dtype) for name in weights.keys()}  # noqa: SIM118
    assert dtypes == {"torch.float32"}
