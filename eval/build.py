"""Draft an evaluation set from the indexed corpus, for an expert to approve before it is used.

The LLM writes one question and answer per sampled chunk (the same drafting prompt as ``ragloop data
synth``); each row keeps the chunk's file and page as the expected source and starts with
``"approved": false``. ``eval.run.read_set`` uses approved rows only, so a draft never grades a model
until someone has read it (set ``approved`` to true, or edit the reference first).

    ragloop eval build --count 60 -o eval/sets/my-corpus.jsonl
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

from tqdm import tqdm

from rag.protocols import LLM, ChatMessage, VectorStore
from ragloop.synth import SYNTH_PROMPT, all_chunks, parse_draft

log = logging.getLogger(__name__)


def draft_eval_set(
    store: VectorStore, dim: int, llm: LLM, count: int, output: Path, seed: int = 0, max_tokens: int = 160
) -> tuple[int, int]:
    """Write up to ``count`` draft rows to ``output`` (JSONL); returns (drafted, unusable replies)."""
    hits = all_chunks(store, dim)
    random.Random(seed).shuffle(hits)
    model = llm.model_id()
    rows, unusable = [], 0
    for hit in tqdm(hits[:count], desc="drafting eval items", unit="chunk"):
        chunk = hit.chunk
        name = Path(chunk.source).name
        where = name + (f", page {chunk.page}" if chunk.page else "")
        reply = "".join(
            llm.stream_chat(
                [ChatMessage("user", SYNTH_PROMPT.format(where=where, text=chunk.text))],
                max_tokens=max_tokens,
                temperature=0.0,
            )
        )
        draft = parse_draft(reply)
        if draft is None:
            unusable += 1
            log.info("unusable draft for %s: %r", where, reply[:80])
            continue
        question, answer = draft
        rows.append(
            {
                "id": f"draft-{len(rows) + 1:03d}",
                "question": question,
                "reference": answer,
                "source": name,
                "page": chunk.page,
                "approved": False,
                "drafted_by": model,
                "chunk_id": chunk.chunk_id,
            }
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows), unusable
