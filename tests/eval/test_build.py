"""`eval build` drafts rows for approval; `read_set` only grades with approved rows."""

from __future__ import annotations

import json

import pytest

from core.errors import RagloopError
from eval.build import draft_eval_set, parse_paraphrases
from eval.run import read_set
from tests.test_synth import DraftingLLM


def test_drafts_wait_for_approval(settings, corpus, tmp_path):
    from rag.service import build_ingestor

    ingestor = build_ingestor(settings)
    ingestor.ingest([corpus], progress=False)
    llm = DraftingLLM("Question: What does error code E07 mean?\nAnswer: The motor overheated.")
    out = tmp_path / "drafts.jsonl"
    assert draft_eval_set(ingestor.store, ingestor.embedder.dim, llm, 3, out) == (3, 0)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 and all(r["approved"] is False and r["drafted_by"] == "drafter" for r in rows)
    assert all(r["source"] and r["reference"] == "The motor overheated." for r in rows)
    with pytest.raises(RagloopError, match="no approved items"):
        read_set(out)
    rows[1]["approved"] = True
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [r["id"] for r in read_set(out)] == [rows[1]["id"]]


class RewordingLLM(DraftingLLM):
    """Drafts like DraftingLLM; asked to reword a question, it does (the parsing is what is tested)."""

    def stream_chat(self, messages, **kwargs):
        if "Rewrite this question" in messages[0].content:
            yield "1. what is error E07\n2. Why does my display say E07?\n3. What does error code E07 mean?"
        else:
            yield from super().stream_chat(messages, **kwargs)


def test_drafted_rows_carry_two_paraphrases_of_their_question(settings, corpus, tmp_path):
    from rag.service import build_ingestor

    ingestor = build_ingestor(settings)
    ingestor.ingest([corpus], progress=False)
    llm = RewordingLLM("Question: What does error code E07 mean?\nAnswer: The motor overheated.")
    out = tmp_path / "drafts.jsonl"
    draft_eval_set(ingestor.store, ingestor.embedder.dim, llm, 2, out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["paraphrases"] == ["what is error E07", "Why does my display say E07?"]
    assert parse_paraphrases("Question: What does E07 mean?", "What does E07 mean?") == []


def test_bad_eval_sets_get_clear_messages(tmp_path):
    with pytest.raises(RagloopError, match="does not exist"):
        read_set(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q?"}\n')
    with pytest.raises(RagloopError, match=r"bad\.jsonl:1 lacks reference, source"):
        read_set(bad)
    bad.write_text("not json\n")
    with pytest.raises(RagloopError, match=r"bad\.jsonl:1 is not JSON"):
        read_set(bad)
