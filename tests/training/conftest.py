"""A small feedback export made through the real export path, for the trainers."""

from __future__ import annotations

import pytest

from feedback.export import export_records
from feedback.schema import FeedbackRecord

FACTS = [
    ("How long does a full charge take?", "About 5 hours with the 2 A charger [1].", "It takes 2 days."),
    ("What does E07 mean?", "The motor overheated; stop for 10 minutes [1].", "E07 is a battery fault."),
    ("How long can I return a bike?", "Within 30 days of delivery [1].", "Returns are not possible."),
    ("What is the top assisted speed?", "25 km/h [1].", "45 km/h."),
    ("How much does a yearly service cost?", "89 euros [1].", "It is free."),
    ("What is the maximum load?", "130 kg in total [1].", "200 kg."),
]


def prompt(q: str) -> str:
    return f"Sources:\n[1] manual\n\nQuestion: {q}\nAnswer:"


@pytest.fixture(scope="session")
def export_file(tmp_path_factory):
    """Per fact: a good answer rated 5, a bad one rated 1, and a corrected bad one approved."""
    records = []
    for i, (q, good, bad) in enumerate(FACTS):
        trace = {"prompt": prompt(q)}
        records.append(
            FeedbackRecord(
                session_id=f"s{i}", turn=0, question=q, answer=good, model="base", trace=trace, rating=5
            )
        )
        records.append(
            FeedbackRecord(
                session_id=f"s{i}", turn=1, question=q, answer=bad, model="base", trace=trace, rating=1
            )
        )
        records.append(
            FeedbackRecord(
                session_id=f"s{i}",
                turn=2,
                question=q,
                answer=bad + " Maybe.",
                model="base",
                trace=trace,
                rating=2,
                correction=good,
                review_state="approved",
                reviewer="expert",
            )
        )
    path = tmp_path_factory.mktemp("export") / "feedback.jsonl"
    export_records(records, path, "jsonl")
    return path


@pytest.fixture(scope="session")
def toy_preference_export(tmp_path_factory):
    """30 distinct questions: a specific, cited answer rated 5 and an evasive one rated 1. The signal
    (cites a source, gives a figure) generalises to held-out questions."""
    records = []
    for i in range(30):
        q = f"How much does spare part {i} cost?"
        trace = {"prompt": prompt(q)}
        records.append(
            FeedbackRecord(
                session_id=f"t{i}",
                turn=0,
                question=q,
                model="base",
                trace=trace,
                answer=f"Spare part {i} costs {10 + 3 * i} euros [1].",
                rating=5,
            )
        )
        records.append(
            FeedbackRecord(
                session_id=f"t{i}",
                turn=1,
                question=q,
                model="base",
                trace=trace,
                answer="I am not sure, maybe ask someone else.",
                rating=1,
            )
        )
    path = tmp_path_factory.mktemp("toy") / "toy.jsonl"
    export_records(records, path, "jsonl")
    return path
