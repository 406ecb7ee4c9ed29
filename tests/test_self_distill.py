"""Users' corrections restated in the served model's own words before training (ragloop.self_distill): the
model answers the row's own prompt again; a sample that keeps the correction's facts and stays within
its sources becomes the row's target (a citing one first); when every sample changes a fact or adds one
the sources lack, the correction stays as given; other rows pass unchanged. The real default judge and
embedding model; the served model's samples are scripted (which sample agrees is the point of the
test)."""

from __future__ import annotations

import json

import pytest

from judge.core import Judge
from judge.overlap import ReferenceOverlapJudge
from ragloop.self_distill import distill_corrections

DELIVERY = "How long does delivery to Germany take?"
PARTS = "How long are spare parts available?"
LOAD = "What is the maximum total load of the Trail 500?"
SOURCES = {
    DELIVERY: "Delivery within the Netherlands and Belgium takes 2 to 4 working days, to Germany and France "
    "3 to 6 working days.",
    PARTS: "Spare parts are stocked for at least 7 years after a model is no longer sold, batteries for 5 "
    "years.",
    LOAD: "The maximum total load (rider, luggage and bike) is 130 kg.",
}
CORRECTIONS = {
    DELIVERY: "3 to 6 working days.",
    PARTS: "At least 7 years after a model is no longer sold.",
    LOAD: "130 kg including rider, luggage and bike.",
}
SAMPLES = {
    DELIVERY: [
        "Delivery to Germany takes 2 to 4 working days [1].",  # the sources' other number
        "Delivery to Germany takes 3 to 6 working days.",  # right, without a citation
        "Delivery to Germany takes 3 to 6 working days [1].",  # right, citing its source: the target
    ],
    # a changed number (one the sources state, about something else)
    PARTS: ["Spare parts are available for 5 years after a model is no longer sold [1]."],
    # the correction's fact, and one its sources do not carry
    LOAD: ["The maximum total load is 130 kg including rider, luggage and bike; the rack carries 40 kg [1]."],
}
SYSTEM = "Answer from the sources and cite them."


class ScriptedLLM:
    """The served model's samples per question; it records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[list] = []

    def model_id(self, adapter=None) -> str:
        return "scripted"

    def sample_chat(self, messages, *, n, **_):
        self.asked.append(list(messages))
        return next(texts for question, texts in SAMPLES.items() if question in messages[-1].content)


def correction_row(fid: str, question: str) -> dict:
    prompt = f'<source id="1" file="faq.md">\n{SOURCES[question]}\n</source>\n\nQuestion: {question}'
    return {
        "feedback_id": fid,
        "question": question,
        "answer": "Your documents don't say.",
        "rating": 2,
        "correction": CORRECTIONS[question],
        "review_state": "approved",
        "trace": {"prompt": prompt, "system": SYSTEM},
    }


@pytest.fixture
def export(tmp_path):
    rows = [
        correction_row("delivery", DELIVERY),
        {
            "feedback_id": "draft",
            "question": PARTS,
            "answer": "",
            "correction": "Parts are stocked for at least 7 years. [1]",
            "trace": {"prompt": "p", "synthetic": True},
        },
        correction_row("parts", PARTS),
        {"feedback_id": "rated", "question": DELIVERY, "answer": "3 to 6 days [1]", "rating": 5, "trace": {}},
        correction_row("load", LOAD),
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, rows


def test_a_sample_that_keeps_the_facts_within_the_sources_becomes_the_target(embedder, export, tmp_path):
    path, rows = export
    out = tmp_path / "out.jsonl"
    llm = ScriptedLLM()
    report = distill_corrections(path, out, llm, Judge(ReferenceOverlapJudge(embedder.encode)), workers=2)

    rows_out = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["feedback_id"] for r in rows_out] == [r["feedback_id"] for r in rows]  # all, in order
    by_id = {r["feedback_id"]: r for r in rows_out}
    restated = by_id["delivery"]
    assert restated["correction"] == SAMPLES[DELIVERY][2]
    assert restated["trace"]["correction_as_given"] == CORRECTIONS[DELIVERY]
    assert restated["trace"]["prompt"] == rows[0]["trace"]["prompt"]  # the same prompt, a new target
    assert by_id["parts"] == rows[2]  # the sample changed the number: the user's words stay
    assert by_id["load"] == rows[4]  # it added a fact its sources lack: the user's words stay
    assert by_id["draft"] == rows[1] and by_id["rated"] == rows[3]
    assert (report.corrections, report.restated, report.as_given) == (3, 1, 2)

    assert len(llm.asked) == 3  # only the users' corrections are answered again
    system, user = next(m for m in llm.asked if DELIVERY in m[-1].content)
    assert (system.role, system.content) == ("system", SYSTEM)
    assert user.content == rows[0]["trace"]["prompt"]  # the prompt as served: no hint of the correction
