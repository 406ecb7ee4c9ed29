"""Benchmark: answer latency through a LoRA adapter vs the base model on the same vLLM server, for two
server sizings of ``--max-lora-rank`` (the production default 64, and the adapter's own rank).

    python -m benchmarks.lora_latency [--model DIR] [--rank 16] [--requests 6] [--max-tokens 64]

Without --model it uses the prepared default model (Qwen2.5-Coder-0.5B-Instruct, ``ragloop model
prepare``). The
adapter has random non-zero weights on q/k/v/o projections, like the loop's SFT adapters; latency does
not depend on what the weights learned. Every answer is exactly --max-tokens long (``ignore_eos``), so
the ratio (LoRA over base, same server) is the per-token cost of the adapter, not a difference in
answer length. Rows with "vLLM's" ops turn ragloop's grouped CPU LoRA ops off
(``serving/vllm_cpu_lora.py``). A second pair of columns times a RAG-sized prompt (about 600 tokens)
with one generated token: the adapter's cost on prompt processing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from ragloop.serve import VLLMServer
from ragloop.tiny_model import build_tiny_lora
from serving.vllm_admin import VLLMAdmin
from serving.vllm_cpu_lora import OFF_SWITCH

QKVO = ("q_proj", "k_proj", "v_proj", "o_proj")  # what the loop's SFT adapters train
QUESTION = "Summarise in two sentences how an e-bike battery should be charged and stored over winter."
# A RAG-sized prompt (about 600 tokens, what the chain sends with four sources) for the prefill column.
CONTEXT = " ".join(
    f"Section {n}: charge the battery at room temperature, between 10 and 30 degrees, store it at half "
    f"charge over winter, and check the charger's cable for damage before every use."
    for n in range(1, 21)
)


def chat(base_url: str, model: str, content: str, max_tokens: int, **extra) -> dict:
    """One greedy chat completion (the response's JSON)."""
    response = httpx.post(
        f"{base_url}/chat/completions",
        json={
            "model": model,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": max_tokens,
            "temperature": 0.0,
            **extra,
        },
        timeout=300,
    )
    response.raise_for_status()
    return response.json()


def timed(base_url: str, model: str, n: int, max_tokens: int) -> list[float]:
    """Seconds per generated token over ``n`` requests; ``ignore_eos`` makes every answer exactly
    ``max_tokens`` long, so base and adapter are compared on equal work."""
    per_token = []
    for _ in range(n):
        started = time.perf_counter()
        tokens = chat(base_url, model, QUESTION, max_tokens, ignore_eos=True)["usage"]["completion_tokens"]
        per_token.append((time.perf_counter() - started) / tokens)
    return per_token


def prefill(base_url: str, model: str, n: int) -> list[float]:
    """Seconds for a RAG-sized prompt and one generated token: prompt processing, the part of a RAG
    answer that grows with the sources."""
    seconds = []
    for _ in range(n):
        # a fresh first line, so vLLM's prefix cache never serves the prompt
        prompt = f"Request {uuid.uuid4().hex}. {CONTEXT}\n\nQuestion: {QUESTION}"
        started = time.perf_counter()
        chat(base_url, model, prompt, 1)
        seconds.append(time.perf_counter() - started)
    return seconds


def answer(base_url: str, model: str) -> str:
    """The adapter's greedy answer, to check that every sizing and op gives the same text."""
    return chat(base_url, model, QUESTION, 32)["choices"][0]["message"]["content"]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--requests", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument(
        "--server-ranks", type=int, nargs="+", default=None, help="default: the adapter's rank and 64"
    )
    args = parser.parse_args(argv)
    if args.model is None:
        from core.settings import get_settings
        from ragloop.models import prepare_default_model

        args.model = prepare_default_model(get_settings().default_model_dir)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        adapter = build_tiny_lora(
            args.model,
            Path(tmp) / "lora",
            rank=args.rank,
            seed=0,
            name="bench-lora",
            target_modules=QKVO,
            scale=0.01,
        )
        ranks = args.server_ranks or sorted({args.rank, 64})
        # vLLM's own CPU LoRA ops at the adapter's rank, then ragloop's grouped ops at every rank
        configs = [(ranks[0], False)] + [(r, True) for r in ranks]
        for max_rank, grouped in configs:
            os.environ[OFF_SWITCH] = "1" if grouped else "0"  # read by the plugin in vLLM's processes
            with VLLMServer(
                args.model, served_name="base", dtype="bfloat16", max_lora_rank=max_rank, max_loras=2
            ) as server:
                VLLMAdmin(server.base_url).load("bench-lora", str(adapter))
                timed(server.base_url, "base", 1, 8)  # warm both paths
                timed(server.base_url, "bench-lora", 1, 8)
                base = timed(server.base_url, "base", args.requests, args.max_tokens)
                lora = timed(server.base_url, "bench-lora", args.requests, args.max_tokens)
                base_prefill = prefill(server.base_url, "base", args.requests)
                lora_prefill = prefill(server.base_url, "bench-lora", args.requests)
                text = answer(server.base_url, "bench-lora")
            rows.append(
                {
                    "max_lora_rank": max_rank,
                    "ops": "grouped" if grouped else "vLLM's",
                    "lora_text": text,
                    "base_ms_per_token": 1000 * statistics.median(base),
                    "lora_ms_per_token": 1000 * statistics.median(lora),
                    "base_prefill_ms": 1000 * statistics.median(base_prefill),
                    "lora_prefill_ms": 1000 * statistics.median(lora_prefill),
                }
            )
    print(
        f"\nLoRA rank {args.rank} on {args.model.name}: {args.max_tokens} tokens, "
        f"{args.requests} requests per row"
    )
    os.environ.pop(OFF_SWITCH, None)
    print(
        f"{'server --max-lora-rank':>24}{'LoRA ops':>10}"
        f"{'base ms/token':>15}{'LoRA ms/token':>15}{'LoRA / base':>13}"
        f"{'base prefill ms':>17}{'LoRA prefill ms':>17}{'LoRA / base':>13}"
    )
    for row in rows:
        base, lora = row["base_ms_per_token"], row["lora_ms_per_token"]
        base_pre, lora_pre = row["base_prefill_ms"], row["lora_prefill_ms"]
        print(
            f"{row['max_lora_rank']:>24}{row['ops']:>10}{base:>15.1f}{lora:>15.1f}{lora / base:>12.2f}x"
            f"{base_pre:>17.0f}{lora_pre:>17.0f}{lora_pre / base_pre:>12.2f}x"
        )
    same = all(row["lora_text"] == rows[0]["lora_text"] for row in rows)
    print(f"the adapter's greedy answer is the same in every row: {'yes' if same else 'NO'}")
    return rows


if __name__ == "__main__":
    main()
