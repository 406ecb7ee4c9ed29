"""Benchmark: seconds per RAG answer with vLLM serving the default model in float32 against bfloat16, on
this machine's CPU, in the same run — the measurement behind ``serve.dtype = "auto"``
(``ragloop.serve.serving_dtype``: bfloat16 on a CPU only with native bf16, else float32).

    python -m benchmarks.serve_dtype [--model DIR] [--requests 6] [--max-tokens 64]

Each request is a RAG-sized prompt (a different slice of a real document, 400–900 tokens, so vLLM's
prefix cache cannot reuse an earlier one, as with users' questions) and exactly --max-tokens answer
tokens (``ignore_eos``). The first request of each server warms it and is not counted.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path

import httpx

from core.hardware import BF16_CPU_FLAGS, cpu_flags
from core.settings import REPO_ROOT, Settings
from ragloop.models import prepare_default_model
from ragloop.serve import VLLMServer

log = logging.getLogger(__name__)
DOCUMENT = REPO_ROOT / "eval" / "sets" / "realdocs2" / "httpx-quickstart.md"
QUESTION = "\n\nQuestion: How do I pass query parameters, and how do I see the final URL?"


def prompts(count: int) -> list[str]:
    text = DOCUMENT.read_text()
    sizes = (2400, 1800, 3000, 2000, 2600, 1500, 2200, 2800)
    return [text[i * 300 : i * 300 + sizes[i % len(sizes)]] + QUESTION for i in range(count + 1)]


def seconds_per_answer(
    model: Path, dtype: str, texts: list[str], max_tokens: int, *, cpu_bind: str = "auto"
) -> list[float]:
    """Seconds per answer of each text but the first, from a fresh server (also used by
    ``benchmarks.serve_cpu_bind``)."""
    times = []
    with VLLMServer(model, dtype=dtype, enable_lora=False, cpu_bind=cpu_bind) as server:
        for text in texts:
            started = time.perf_counter()
            ask(server, text, max_tokens)
            times.append(time.perf_counter() - started)
    return times[1:]  # the first warms the server


def ask(server: VLLMServer, text: str, max_tokens: int) -> None:
    """One chat request of exactly ``max_tokens`` answer tokens, greedy."""
    body = {
        "model": server.served_name,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "ignore_eos": True,
    }
    httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=900).raise_for_status()


def arguments(argv: list[str] | None, doc: str) -> tuple[argparse.Namespace, Path]:
    """The serving benchmarks' options (--model, --requests, --max-tokens) and the model dir to serve;
    logging on (also used by ``benchmarks.serve_cpu_bind``)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="HF model dir (default: the prepared default model)")
    parser.add_argument("--requests", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return args, args.model or prepare_default_model(Settings().default_model_dir)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args, model = arguments(argv, __doc__)
    texts = prompts(args.requests)
    p50 = {
        dtype: statistics.median(seconds_per_answer(model, dtype, texts, args.max_tokens))
        for dtype in ("float32", "bfloat16")
    }
    native = sorted(cpu_flags() & BF16_CPU_FLAGS) or "none"
    log.info(
        "p50 s per answer (%d requests, %d tokens each; native bf16 flags: %s): float32 %.1f, bfloat16 "
        "%.1f; bfloat16 / float32 = %.2fx",
        args.requests,
        args.max_tokens,
        native,
        p50["float32"],
        p50["bfloat16"],
        p50["bfloat16"] / p50["float32"],
    )
    return p50


if __name__ == "__main__":
    main()
