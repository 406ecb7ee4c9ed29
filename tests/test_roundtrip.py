"""Drafted rows round-trip through the served chain before training (ragloop.roundtrip): a draft stays
only when the chain's own answer to its question agrees with it — as drafted (checked-drafts) or as the
served answer with its served prompt (served-answers); other rows pass unchanged. Real embedded store
over the demo corpus, real embedding model, real chain and the default judge; the served model's replies
are scripted (which answer agrees is the point of the test)."""

from __future__ import annotations

import json

import pytest

from judge.core import Judge
from judge.overlap import ReferenceOverlapJudge
from rag.backends.embedded_store import EmbeddedVectorStore
from rag.chain import ChainConfig, RagChain
from rag.ingest import Ingestor
from ragloop.roundtrip import round_trip_drafts
from tests.conftest import DEMO_CORPUS

AGREES = "How long does a full charge take with the supplied charger?"
DISAGREES = "What tyre pressure should I use off-road?"
SHORTER = "How much does a standard yearly service cost?"
INVENTS = "How long is the frame warranty?"
REPLIES = {
    AGREES: "A full charge takes about 5 hours with the supplied charger [1].",
    DISAGREES: "The battery carries a two-year warranty [1].",
    SHORTER: "A standard yearly service costs 89 euros [1].",  # right, without the draft's second fact
    # covers its draft, and adds a number the draft does not state
    INVENTS: "The frame warranty lasts a lifetime for the original owner, and 2 years for the paint [1].",
}


class ScriptedLLM:
    """The served model's reply to each question (the chain, store and judge around it are real)."""

    def model_id(self, adapter=None) -> str:
        return "scripted"

    def stream_chat(self, messages, **_):
        asked = messages[-1].content
        yield next(reply for question, reply in REPLIES.items() if question in asked)


@pytest.fixture(scope="module")
def chain(tmp_path_factory, embedder, chunker):
    store = EmbeddedVectorStore(tmp_path_factory.mktemp("rt") / "s.sqlite3", dim=embedder.dim)
    Ingestor(store, embedder, chunker).ingest([DEMO_CORPUS], progress=False)
    yield RagChain(store, embedder, llm=ScriptedLLM(), config=ChainConfig(top_k=2))
    store.close()


def draft(fid: str, question: str, answer: str) -> dict:
    prompt = f'<source id="1" file="x.md">\n{answer}\n</source>\n\nQuestion: {question}'
    return {
        "feedback_id": fid,
        "session_id": "synthetic",
        "question": question,
        "answer": "",
        "correction": answer,
        "review_state": "approved",
        "trace": {"prompt": prompt, "synthetic": True},
    }


@pytest.fixture
def export(tmp_path):
    rows = [
        draft("agrees", AGREES, "Charging fully takes about 5 hours with the supplied charger. [1]"),
        draft("disagrees", DISAGREES, "Use 1.6 to 1.8 bar off-road for grip. [1]"),
        {"feedback_id": "rated", "question": AGREES, "answer": "5 h [1]", "rating": 5, "trace": {}},
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, rows


def kept(path) -> dict[str, dict]:
    return {r["feedback_id"]: r for r in map(json.loads, path.read_text().splitlines())}


def test_served_answers_replace_the_drafts_they_agree_with(chain, embedder, export, tmp_path):
    path, rows = export
    out = tmp_path / "out.jsonl"
    report = round_trip_drafts(path, out, chain, Judge(ReferenceOverlapJudge(embedder.encode)), workers=2)

    rows_out = kept(out)
    assert set(rows_out) == {"agrees", "rated"}  # the draft the chain answers otherwise is left out
    assert (report.drafts, report.agreed, report.disagreed) == (2, 1, 1)
    assert rows_out["rated"] == rows[2]
    served = rows_out["agrees"]
    assert served["correction"] == served["answer"] == REPLIES[AGREES]
    trace = served["trace"]
    assert trace["synthetic"] and trace["draft"] == rows[0]["correction"]
    assert trace["prompt"] != rows[0]["trace"]["prompt"] and "5 hours" in trace["prompt"]  # as served
    assert served["citations"] and all(c["chunk_id"] for c in served["citations"])


def test_checked_drafts_keep_the_drafts_words(chain, embedder, export, tmp_path):
    path, rows = export
    out = tmp_path / "out.jsonl"
    round_trip_drafts(path, out, chain, Judge(ReferenceOverlapJudge(embedder.encode)), rows="checked-drafts")
    assert kept(out) == {"agrees": rows[0], "rated": rows[2]}


def test_drafts_pass_unchanged_without_a_round_trip(chain, embedder, export, tmp_path):
    path, rows = export
    out = tmp_path / "out.jsonl"
    report = round_trip_drafts(path, out, chain, judge=None, rows="drafts")
    assert kept(out) == {r["feedback_id"]: r for r in rows} and report.drafts == 0
    with pytest.raises(ValueError, match="unknown synthetic rows 'all'"):
        round_trip_drafts(path, out, chain, judge=None, rows="all")


def test_the_sft_choices_benchmark_checks_its_export_as_the_loop_does(chain, embedder, export, tmp_path):
    """benchmarks.sft_choices trains each variant on the export the loop's export step would make: the
    sources it names dropped, then the drafts round-tripped; the variant's other parameters are left."""
    from benchmarks.sft_choices import checked_export
    from core.settings import get_settings

    path, rows = export
    params = {
        "export_path": str(path),
        "without": ["rating"],
        "synthetic_rows": "checked-drafts",
        "epochs": 1,
    }
    judge = Judge(ReferenceOverlapJudge(embedder.encode))
    made = checked_export("v", params, get_settings(), tmp_path, chain=chain, judge=judge)
    assert kept(made.path) == {"agrees": rows[0]}
    assert made.grounding is None and made.distilled is None
    assert made.round_trip.agreed == 1 and made.round_trip.disagreed == 1
    trip = made.to_dict()["round_trip"]
    assert trip == {"drafts": 2, "agreed": 1, "disagreed": 1, "agreement": "reference"}
    assert params == {"epochs": 1}


def test_supported_agreement_keeps_a_right_shorter_answer_and_not_an_invented_one(
    chain, embedder, export, tmp_path
):
    """``agreement="supported"``: a served answer agrees when its draft carries all it states, so the one
    fact the question asks is enough and an added one is not; ``"reference"`` wants every fact of the
    draft and lets an added one through."""
    path, _ = export
    more = [
        draft("shorter", SHORTER, "A standard yearly service costs 89 euros and takes about 90 minutes. [1]"),
        draft("invents", INVENTS, "The frame carries a lifetime warranty for the original owner. [1]"),
    ]
    path.write_text(path.read_text() + "".join(json.dumps(r) + "\n" for r in more))
    judge = Judge(ReferenceOverlapJudge(embedder.encode))

    supported = tmp_path / "supported.jsonl"
    report = round_trip_drafts(path, supported, chain, judge, agreement="supported")
    assert set(kept(supported)) == {"agrees", "shorter", "rated"}
    assert (report.drafts, report.agreed) == (4, 2)
    assert kept(supported)["shorter"]["correction"] == REPLIES[SHORTER]

    covering = tmp_path / "reference.jsonl"
    round_trip_drafts(path, covering, chain, judge, agreement="reference")
    assert set(kept(covering)) == {"agrees", "invents", "rated"}  # "shorter" lacks the draft's 90 minutes
    with pytest.raises(ValueError, match="unknown agreement 'exact'"):
        round_trip_drafts(path, covering, chain, judge, agreement="exact")
