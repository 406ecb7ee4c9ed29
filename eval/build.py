"""Draft an evaluation set from the indexed corpus, for an expert to approve before it is used.

The LLM writes one question and answer per sampled chunk (the same drafting prompt as ``ragloop data
synth``); each row keeps the chunk's file and page as the expected source and starts with
``"approved": false``. ``eval.run.read_set`` uses approved rows only, so a draft never grades a model
until someone has read it (set ``approved`` to true, or edit the reference first).

    ragloop eval build --count 60 -o eval/sets/my-corpus.jsonl
"""

from __future__ import annotations

import json
from pathlib import Path

from rag.protocols import LLM, VectorStore
from ragloop.synth import drafts


def draft_eval_set(
    store: VectorStore, dim: int, llm: LLM, count: int, output: Path, seed: int = 0, max_tokens: int = 160
) -> tuple[int, int]:
    """Write up to ``count`` draft rows to ``output`` (JSONL); returns (drafted, unusable replies)."""
    model = llm.model_id()
    rows, unusable = [], 0
    for draft in drafts(store, dim, llm, count, seed=seed, max_tokens=max_tokens, desc="drafting eval items"):
        if draft.qa is None:
            unusable += 1
            continue
        chunk = draft.hit.chunk
        rows.append(
            {
                "id": f"draft-{len(rows) + 1:03d}",
                "question": draft.qa[0],
                "reference": draft.qa[1],
                "source": Path(chunk.source).name,
                "page": chunk.page,
                "approved": False,
                "drafted_by": model,
                "chunk_id": chunk.chunk_id,
            }
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows), unusable
