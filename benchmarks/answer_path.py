"""Benchmark: what the app's answer path costs on top of the model. For each demo question it times the
app's chain (embed the question, retrieve, build the prompt, stream the answer through the client the
app uses) and a direct streamed vLLM call with the very same messages and settings, interleaved, in
the same run. Prints time to first token and end-to-end time for both, and the chain's overhead as a
share of its end-to-end time (goal: <= 5 %).

    python -m benchmarks.answer_path [--llm-url http://127.0.0.1:8000/v1] [--questions 10]

Without --llm-url it prepares the default model and starts vLLM on it (a minute or two on CPU) with
prefix caching off: otherwise the direct call, sent right after the chain's with the same prompt, would
reuse its cached prefill and look several times faster than it is. Give --llm-url only for a server
started with ``--no-enable-prefix-caching``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from openai import OpenAI

from core.settings import DEMO_CORPUS, DEMO_EVAL_SET, Settings
from eval.run import read_set
from rag.attribution import citation_suffix
from rag.chain import prompt_messages
from rag.service import build_chain, build_ingestor


def timed_stream(tokens) -> tuple[float, float, str]:
    """(seconds to the first token, seconds to the last, text) of a token iterator started now."""
    started, first, parts = time.perf_counter(), None, []
    for token in tokens:
        if first is None and token:
            first = time.perf_counter()
        parts.append(token)
    done = time.perf_counter()
    return (first or done) - started, done - started, "".join(parts)


def direct_tokens(client: OpenAI, model: str, messages, max_tokens: int):
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": m.role, "content": m.content} for m in messages],
        max_tokens=max_tokens,
        temperature=0.0,
        stream=True,
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm-url", default=None, help="a running vLLM; default: start one")
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args(argv)

    server = nullcontext()
    if args.llm_url is None:
        from ragloop.models import prepare_default_model
        from ragloop.serve import VLLMServer

        settings = Settings()
        server = VLLMServer(
            prepare_default_model(settings.default_model_dir),
            dtype="bfloat16",
            extra_args=["--no-enable-prefix-caching"],
        )
    with tempfile.TemporaryDirectory() as tmp, server as running:
        url = args.llm_url or running.base_url
        settings = Settings(data_dir=Path(tmp), llm={"base_url": url, "max_tokens": args.max_tokens})
        build_ingestor(settings).ingest([DEMO_CORPUS], progress=False)
        chain = build_chain(settings)
        client = OpenAI(base_url=url, api_key="EMPTY")
        model = chain.llm.model_id()
        chain.answer("warm-up question?")  # load the embedder and the server's caches once
        rows = []
        for item in read_set(DEMO_EVAL_SET)[: args.questions]:
            stream = chain.stream(item["question"])
            chain_ttft, chain_total, chain_text = timed_stream(stream)
            trace = stream.result().trace
            messages = prompt_messages(trace.system, trace.prompt)
            direct_ttft, direct_total, direct_text = timed_stream(
                direct_tokens(client, model, messages, args.max_tokens)
            )
            # the chain's text is the model's plus the citations it attributed (rag/attribution.py)
            model_text = chain_text.removesuffix(citation_suffix(trace.attributed_citations))
            rows.append((chain_ttft, chain_total, direct_ttft, direct_total, model_text == direct_text))
        lookup = reviewed_lookup_ms(chain, [i["question"] for i in read_set(DEMO_EVAL_SET)[: args.questions]])
    chain_ttft, chain_total, direct_ttft, direct_total, same = (list(c) for c in zip(*rows, strict=True))
    overhead = [(c - d) / c for c, d in zip(chain_total, direct_total, strict=True)]
    result = {
        "questions": len(rows),
        "chain_ttft_s": statistics.median(chain_ttft),
        "direct_ttft_s": statistics.median(direct_ttft),
        "chain_total_s": statistics.median(chain_total),
        "direct_total_s": statistics.median(direct_total),
        "overhead_share_median": statistics.median(overhead),
        "overhead_share_mean": statistics.fmean(overhead),
        "same_answers": sum(same),
        **lookup,
    }
    print(f"answer path, {len(rows)} demo questions, medians (same run, interleaved):")
    r = result
    print(f"  time to first token: chain {r['chain_ttft_s']:.2f} s, direct {r['direct_ttft_s']:.2f} s")
    print(f"  end to end:          chain {r['chain_total_s']:.2f} s, direct {r['direct_total_s']:.2f} s")
    print(
        f"  chain overhead: {result['overhead_share_median']:.1%} of end-to-end (median), "
        f"{result['overhead_share_mean']:.1%} (mean); goal <= 5 %; same model text {sum(same)}/{len(rows)}"
    )
    share = lookup["reviewed_lookup_ms"] / 1e3 / result["chain_total_s"]
    result["reviewed_lookup_share"] = share
    print(
        f"  reviewed-answers lookup ({lookup['reviewed_entries']} entries): "
        f"{lookup['reviewed_lookup_ms']:.1f} ms median = {share:.2%} of the chain's end to end; goal <= 5 %"
    )
    return result


def reviewed_lookup_ms(chain, questions: list[str], repeats: int = 5) -> dict[str, float]:
    """What the reviewed-answers lookup adds to retrieval: the median of (retrieval with the lookup −
    retrieval without it) per question, with every demo reference in the index as a reviewed answer
    (a match re-embeds the candidates' questions, the costly case)."""
    from rag.reviewed import ReviewedAnswer

    index = chain.reviewed
    for item in read_set(DEMO_EVAL_SET) + read_set(DEMO_EVAL_SET.with_name("demo-extra.jsonl")):
        index.put(ReviewedAnswer(item["id"], item["question"], item["reference"], "benchmark", "2026-11-25"))
    added = []
    for question in questions:
        for _ in range(repeats):
            t = time.perf_counter()
            chain.reviewed = index
            chain._retrieve(question)
            with_lookup = time.perf_counter() - t
            chain.reviewed = None
            t = time.perf_counter()
            chain._retrieve(question)
            added.append(with_lookup - (time.perf_counter() - t))
    chain.reviewed = index
    return {"reviewed_lookup_ms": statistics.median(added) * 1e3, "reviewed_entries": index.count()}


if __name__ == "__main__":
    main()
