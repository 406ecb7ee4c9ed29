"""Benchmark: answer latency through a LoRA adapter vs the base model on the same vLLM server, for two
server sizings of ``--max-lora-rank`` (the production default 64, and the adapter's own rank).

    python -m benchmarks.lora_latency [--model DIR] [--rank 16] [--requests 6] [--max-tokens 64]

Without --model it uses the prepared default model (Gemma 3 270M, ``ragloop model prepare``). The
adapter has random non-zero weights on q/k/v/o projections, like the loop's SFT adapters; latency does
not depend on what the weights learned. Ratios are LoRA over base, measured on the same server.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rag.backends.openai_llm import OpenAICompatibleLLM
from rag.protocols import ChatMessage
from ragloop.serve import VLLMServer
from serving.vllm_admin import VLLMAdmin

QUESTION = "Summarise in two sentences how an e-bike battery should be charged and stored over winter."


def random_lora(base_dir: Path, out: Path, rank: int) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.01)
    model.save_pretrained(out)
    return out


def timed(llm: OpenAICompatibleLLM, adapter: str | None, n: int, max_tokens: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        "".join(
            llm.stream_chat(
                [ChatMessage("user", QUESTION)], adapter=adapter, max_tokens=max_tokens, temperature=0.0
            )
        )
        times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--requests", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--server-ranks", type=int, nargs="+", default=None)
    args = parser.parse_args(argv)
    if args.model is None:
        from ragloop.models import prepare_default_model
        from ragloop.settings import get_settings

        args.model = prepare_default_model(get_settings().default_model_dir)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        adapter = random_lora(args.model, Path(tmp) / "lora", args.rank)
        for max_rank in args.server_ranks or sorted({64, args.rank}, reverse=True):
            with VLLMServer(args.model, dtype="bfloat16", max_lora_rank=max_rank, max_loras=2) as server:
                VLLMAdmin(server.base_url).load("bench-lora", str(adapter))
                llm = OpenAICompatibleLLM(server.base_url, timeout_s=300)
                timed(llm, None, 1, 8)  # warm both paths
                timed(llm, "bench-lora", 1, 8)
                base = timed(llm, None, args.requests, args.max_tokens)
                lora = timed(llm, "bench-lora", args.requests, args.max_tokens)
            rows.append(
                {
                    "max_lora_rank": max_rank,
                    "base_p50_s": statistics.median(base),
                    "lora_p50_s": statistics.median(lora),
                }
            )
    print(
        f"\nLoRA rank {args.rank} on {args.model.name}: {args.max_tokens} tokens, "
        f"{args.requests} requests per row"
    )
    print(f"{'server --max-lora-rank':>24}{'base p50 s':>12}{'LoRA p50 s':>12}{'LoRA / base':>13}")
    for row in rows:
        ratio = row["lora_p50_s"] / row["base_p50_s"]
        print(
            f"{row['max_lora_rank']:>24}{row['base_p50_s']:>12.2f}{row['lora_p50_s']:>12.2f}{ratio:>12.1f}x"
        )
    return rows


if __name__ == "__main__":
    main()
