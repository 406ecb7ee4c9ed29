"""Draft an evaluation set from the indexed corpus, for an expert to approve before it is used.

The LLM writes one question and answer per sampled chunk (the same drafting prompt as ``ragloop data
synth``); each row keeps the chunk's file and page as the expected source and starts with
``"approved": false``. ``eval.run.read_set`` uses approved rows only, so a draft never grades a model
until someone has read it (set ``approved`` to true, or edit the reference first). Each row also gets
two drafted ``paraphrases`` of its question, as a user might ask it (the loop asks corrected questions
again in these words to check that reviewed answers reach them); check them with the rest.

    ragloop eval build --count 60 -o eval/sets/my-corpus.jsonl
"""

from __future__ import annotations

import re
from pathlib import Path

from core.jsonl import write_rows
from drafting.drafts import drafts
from rag.protocols import LLM, ChatMessage, VectorStore

PARAPHRASE_PROMPT = """Rewrite this question two different ways, as a customer might type it: other words,
same meaning. One per line, numbered 1. and 2., nothing else.

Question: {question}"""

_NUMBERING = re.compile(r"^\s*(?:\d+[.)]|[-*])\s*")


def parse_paraphrases(reply: str, question: str, n: int = 2) -> list[str]:
    """Up to ``n`` distinct rewordings from a numbered reply; the question itself and fragments are not."""
    out: list[str] = []
    for line in (reply or "").splitlines():
        text = _NUMBERING.sub("", line).strip().strip('"').strip()
        text = re.sub(r"^(?:question|paraphrase)\s*\d*:\s*", "", text, flags=re.IGNORECASE)
        if len(text.split()) < 3 or text.lower().rstrip("?") == question.lower().rstrip("?"):
            continue
        if text.lower() not in (o.lower() for o in out):
            out.append(text)
    return out[:n]


def draft_paraphrases(llm: LLM, question: str, max_tokens: int = 80) -> list[str]:
    reply = "".join(
        llm.stream_chat(
            [ChatMessage("user", PARAPHRASE_PROMPT.format(question=question))],
            max_tokens=max_tokens,
            temperature=0.0,
        )
    )
    return parse_paraphrases(reply, question)


def draft_eval_set(
    store: VectorStore, dim: int, llm: LLM, count: int, output: Path, *, seed: int = 0, max_tokens: int = 160
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
                "paraphrases": draft_paraphrases(llm, draft.qa[0]),
                "approved": False,
                "drafted_by": model,
                "chunk_id": chunk.chunk_id,
            }
        )
    write_rows(rows, output)
    return len(rows), unusable
