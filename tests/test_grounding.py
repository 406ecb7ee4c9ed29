"""Corrections are checked against their training prompt before they become SFT rows (ragloop.grounding):
kept when the prompt carries them, re-sourced when another chunk of the index does, left out when none
does; other rows pass unchanged — by the judge or by K-Precision. Real embedded store over the demo
corpus, real embedding model, the default judge; no LLM is asked."""

from __future__ import annotations

import json

import pytest

from judge.core import Judge
from judge.overlap import ReferenceOverlapJudge
from rag.backends.embedded_store import EmbeddedVectorStore
from rag.chain import ChainConfig, RagChain, build_prompt
from rag.ingest import Ingestor
from ragloop.grounding import carried_by, ground_corrections
from tests.conftest import DEMO_CORPUS

QUESTION = "How long does a full charge take with the supplied charger?"
CORRECTION = "About 5 hours with the supplied charger."


@pytest.fixture(scope="module")
def chain(tmp_path_factory, embedder, chunker):
    store = EmbeddedVectorStore(tmp_path_factory.mktemp("g") / "s.sqlite3", dim=embedder.dim)
    Ingestor(store, embedder, chunker).ingest([DEMO_CORPUS], progress=False)
    yield RagChain(store, embedder, llm=None, config=ChainConfig(top_k=2))  # retrieval only
    store.close()


def row(fid: str, question: str, prompt: str, correction: str | None = None, **trace) -> dict:
    return {
        "feedback_id": fid,
        "question": question,
        "answer": "…",
        "correction": correction,
        "trace": {"prompt": prompt, **trace},
    }


@pytest.mark.parametrize("check", ["judge", "k-precision"])
def test_a_correction_joins_the_rows_only_with_sources_that_carry_it(chain, embedder, tmp_path, check):
    own = build_prompt(QUESTION, chain.retrieve(QUESTION))
    elsewhere = build_prompt(QUESTION, chain.retrieve("What tyre pressure should I use off-road?"))
    rows = [
        row("carried", QUESTION, own, CORRECTION),
        row("resourced", QUESTION, elsewhere, CORRECTION),
        row("unsupported", QUESTION, own, "Every bike ships with a free titanium unicorn saddle, code 7731."),
        row("rated", QUESTION, elsewhere),  # a rated answer: the model's own words, passes unchanged
        row("synthetic", QUESTION, elsewhere, CORRECTION, synthetic=True),  # verified against its chunk
    ]
    export, out = tmp_path / "export.jsonl", tmp_path / "grounded.jsonl"
    export.write_text("".join(json.dumps(r) + "\n" for r in rows))

    judge = Judge(ReferenceOverlapJudge(embedder.encode))
    report = ground_corrections(export, out, chain, judge, check=check)

    kept = {r["feedback_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(kept) == {"carried", "resourced", "rated", "synthetic"}
    assert (report.corrections, report.carried, report.resourced, report.unsupported) == (3, 1, 1, 1)
    assert kept["carried"] == rows[0] and kept["rated"] == rows[3] and kept["synthetic"] == rows[4]
    fixed = kept["resourced"]["trace"]
    assert fixed["resourced"] and "5 hours" in fixed["prompt"] and "5 hours" not in elsewhere


def test_an_unknown_check_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown corrections check 'vibes'"):
        carried_by("vibes", judge=None)
