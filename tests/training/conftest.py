"""Small feedback exports made through the real export path, for the data builders and the trainers."""

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


def write_ai_export(path):
    """Per fact, answers users rated neutral (3) that the background judge scored: a good one (4.5,
    reviewer-approved for the first three facts), a bad one (0.5), and a good-looking one a reviewer
    rejected; plus one the user rated 1 that the judge liked (4.8)."""
    judge = {"backend": "ReferenceOverlapJudge", "model": "reference-overlap-v1", "basis": "sources"}
    records = []
    for i, (q, good, bad) in enumerate(FACTS):
        base = {
            "session_id": f"s{i}",
            "question": q,
            "model": "base",
            "trace": {"prompt": prompt(q)},
            "rating": 3,
        }
        approved = {"review_state": "approved", "reviewer": "expert"} if i < 3 else {}
        records += [
            FeedbackRecord(
                turn=0, answer=good, ai_score=4.5, ai_judge=judge, correction=None, **base, **approved
            ),
            FeedbackRecord(turn=1, answer=bad, ai_score=0.5, ai_judge=judge, **base, **approved),
            FeedbackRecord(turn=2, answer=good + " Sure.", ai_score=4.9, review_state="rejected", **base),
            FeedbackRecord(turn=3, answer=bad + " Really.", ai_score=4.8, **{**base, "rating": 1}),
        ]
    export_records(records, path, "jsonl")
    return path


COLOURS = ["red", "blue", "green", "black", "white", "silver", "grey", "yellow"]
PARTS = ["saddle", "chain", "pedal", "brake", "lamp", "bell"]
EVASIVE = [
    "I am not sure about the {part}, maybe ask someone else.",
    "Hard to say what the {part} costs; check with a dealer.",
    "No idea, the {part} could cost anything.",
    "I cannot tell the price of the {part} right now.",
    "Perhaps the {part} is expensive, perhaps not.",
    "Please contact support about the {part}.",
]


def toy_preferences() -> list[tuple[str, str, str]]:
    """(question, cited answer, evasive answer) for each of the 48 colour x part combinations."""
    out = []
    for c, colour in enumerate(COLOURS):
        for p, part in enumerate(PARTS):
            item = f"{colour} {part}"
            price = 10 + 5 * ((c + 3 * p) % 8)
            hedge = EVASIVE[(c + p) % len(EVASIVE)].format(part=item)
            out.append((f"How much does the {item} cost?", f"The {item} costs {price} euros [1].", hedge))
    return out


@pytest.fixture
def toy_job(toy_preference_export, tiny_model_dir, tmp_path):
    """The fields of a small LoRA job on the toy export and the tiny model (rank 8, lr 5e-3, 30 steps of 8
    rows, 30 % of the rows for validation): ``toy_job(name, **overrides)``, output under ``tmp_path``."""

    def fields(name: str, **overrides) -> dict:
        return {
            "export_path": str(toy_preference_export),
            "base_model": str(tiny_model_dir),
            "output_dir": str(tmp_path / name),
            "name": name,
            "lora_r": 8,
            "lora_alpha": 16,
            "learning_rate": 5e-3,
            "max_steps": 30,
            "batch_size": 8,
            "validation_share": 0.3,
            "target_modules": ["q_proj", "v_proj", "o_proj"],
            "max_length": 256,
        } | overrides

    return fields


@pytest.fixture(scope="session")
def toy_preference_export(tmp_path_factory):
    """48 distinct questions, each with a specific, cited answer rated 5 and an evasive one rated 1 (six
    hedges, each naming the part, so no two answers are the same text). Held-out rows are new
    combinations of words the trainers have seen, and the signal (a figure and a citation beat a hedge)
    carries over to them; their texts never appear in training."""
    records = []
    for i, (q, good, hedge) in enumerate(toy_preferences()):
        trace = {"prompt": prompt(q)}
        for turn, (answer, rating) in enumerate([(good, 5), (hedge, 1)]):
            records.append(
                FeedbackRecord(
                    session_id=f"t{i}",
                    turn=turn,
                    question=q,
                    model="base",
                    trace=trace,
                    answer=answer,
                    rating=rating,
                )
            )
    path = tmp_path_factory.mktemp("toy") / "toy.jsonl"
    export_records(records, path, "jsonl")
    return path


@pytest.fixture
def parent_adapter(export_file, tiny_model_dir, tmp_path):
    """An SFT adapter trained hard enough that its answers' log-probs differ clearly from the base's."""
    from training import sft
    from training.config import SFTJob

    job = SFTJob(
        export_path=str(export_file),
        base_model=str(tiny_model_dir),
        output_dir=str(tmp_path / "parent"),
        name="parent-sft",
        lora_r=8,
        lora_alpha=16,
        learning_rate=2e-2,
        max_steps=10,
        batch_size=6,
        validation_share=0.0,
        target_modules=["q_proj", "v_proj", "o_proj"],
        max_length=256,
    )
    out, _ = sft.main(job)
    return out


@pytest.fixture
def overfit_job(export_file, tiny_model_dir, tmp_path):
    """``overfit_job(method, **fields)``: a job that drives the toy export's training loss well down
    (30 epochs at 1e-3 on the tiny Mistral, no validation split), in its own output directory."""
    from training.run import make_job

    def make(method: str, **fields):
        return make_job(
            method,
            export_path=str(export_file),
            base_model=str(tiny_model_dir),
            output_dir=str(tmp_path / method),
            epochs=30,
            learning_rate=1e-3,
            validation_share=0.0,
            min_rows=2,
            save_steps=10_000,
            **fields,
        )

    return make
