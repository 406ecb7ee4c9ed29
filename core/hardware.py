"""What this machine computes well: a GPU, and CPU flags with native bfloat16 arithmetic. Serving
(``ragloop.serve``: vLLM's ``--dtype``) and training (the loop's SFT precision, ``LoopSettings.sft_job``)
choose their precision from these facts."""

from __future__ import annotations

from pathlib import Path

# CPU flags with native bfloat16 arithmetic. Without them bf16 on a CPU is slow: on an AVX2-only EPYC
# (2 cores, 2026-11-26) a RAG answer (400-900-token prompt, 64 tokens) took 37.1 s in bf16 against 18.5 s
# in fp32 (``python -m benchmarks.serve_dtype``); torch's bf16 matmul ran at 0.8 GFLOPS, fp32 at 27.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags() -> set[str]:
    """This machine's CPU flags (Linux ``/proc/cpuinfo``; empty where it cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split()[2:]}


def has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def native_bf16(*, gpu: bool, flags: set[str]) -> bool:
    """Does this machine compute in bfloat16 natively: a GPU that supports it, or a CPU with the flags?"""
    if gpu:
        import torch

        return torch.cuda.is_bf16_supported()
    return bool(flags & BF16_CPU_FLAGS)


def training_bf16(requested: str, *, gpu: bool | None = None) -> bool:
    """SFT in bfloat16 mixed precision? ``auto``: on a GPU that computes in it, never on a CPU — even one
    with avx512_bf16, where a loop step took 0.65x the float32 time (``benchmarks/sft_steps.py``), the
    adapter learned less per step and the extra steps in the loop's budget did not make up for it
    (README, "Training precision"). ``float32`` / ``bfloat16``: as asked."""
    if requested != "auto":
        return requested == "bfloat16"
    on_gpu = has_gpu() if gpu is None else gpu
    return on_gpu and native_bf16(gpu=True, flags=set())
