"""Benchmark: time from ``publish`` to the first answer from the new adapter (hot-load into a running
vLLM), against restarting vLLM with the adapter given at start-up, measured in the same run.

    python -m benchmarks.hot_load [--model DIR] [--runs 3]

Without --model it builds the tiny random Mistral used by the tests (vLLM on CPU). Target (issue 6):
hot-load <= 2 s. A third row publishes through the S3 registry (upload, conditional state write,
download into the cache vLLM loads) against a local S3-API server (moto's, as in the tests): it shows
the registry's own overhead, not the network latency to AWS.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import boto3

from rag.backends.openai_llm import OpenAICompatibleLLM
from rag.protocols import ChatMessage
from ragloop.serve import VLLMServer
from ragloop.tiny_model import build_tiny_lora, build_tiny_mistral
from serving.publish import Publisher
from serving.registry import LocalAdapterRegistry
from serving.s3_registry import S3AdapterRegistry
from serving.vllm_admin import VLLMAdmin
from tests.s3_server import S3Server


def first_answer(base_url: str, model: str) -> str:
    llm = OpenAICompatibleLLM(base_url, timeout_s=120)
    return next(iter(llm.stream_chat([ChatMessage("user", "hello")], adapter=model, max_tokens=4)))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = args.model or build_tiny_mistral(root / "base")
        adapters = [build_tiny_lora(model, root / f"lora{i}", seed=i, name="bench") for i in range(args.runs)]
        dtype = "float32" if args.model is None else "auto"

        hot, hot_s3 = [], []
        with (
            VLLMServer(model, dtype=dtype, max_lora_rank=16, max_loras=2 * args.runs + 1) as server,
            S3Server() as s3,
        ):
            admin = VLLMAdmin(server.base_url)
            s3_registry = S3AdapterRegistry(
                "bench",
                "adapters",
                root / "cache",
                endpoint_url=s3.endpoint_url,
                create_bucket=True,
                session=boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench"),
            )
            first_answer(server.base_url, None)  # warm the base path
            runs = (
                ("bench", LocalAdapterRegistry(root / "registry"), hot),
                ("bench-s3", s3_registry, hot_s3),
            )
            for name, registry, times in runs:
                publisher = Publisher(registry, admin)
                for adapter in adapters:
                    started = time.perf_counter()
                    result = publisher.publish(adapter, name=name)
                    first_answer(server.base_url, result.served_name)
                    times.append(time.perf_counter() - started)

        cold = []
        for adapter in adapters[:1]:
            started = time.perf_counter()
            extra = ["--lora-modules", f"bench-cold={adapter}"]
            with VLLMServer(model, dtype=dtype, max_lora_rank=16, extra_args=extra) as server:
                first_answer(server.base_url, "bench-cold")
                cold.append(time.perf_counter() - started)

    hot_s, cold_s, s3_s = statistics.median(hot), statistics.median(cold), statistics.median(hot_s3)
    print(
        f"\nadapter switch on {'the tiny Mistral' if args.model is None else args.model} (vLLM, this machine)"
    )
    print(f"{'':42}{'median s':>10}")
    print(
        f"{'publish -> first answer (hot-load)':42}{hot_s:10.2f}   runs: {', '.join(f'{h:.2f}' for h in hot)}"
    )
    print(
        f"{'same, S3 registry (local S3 API)':42}{s3_s:10.2f}   runs: {', '.join(f'{h:.2f}' for h in hot_s3)}"
    )
    print(f"{'restart vLLM with adapter -> first answer':42}{cold_s:10.2f}")
    print(
        f"hot-load is {cold_s / hot_s:.0f}x faster than a restart; target <= 2 s: "
        f"{'met' if hot_s <= 2 else 'MISSED'}"
    )
    return {"hot_s": hot_s, "cold_s": cold_s, "hot_runs": hot, "hot_s3_s": s3_s}


if __name__ == "__main__":
    main()
