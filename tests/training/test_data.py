"""Training data from an export: SFT rows, preference pairs, KTO rows; dedup, stable split, clear errors."""

from __future__ import annotations

import json

import pytest

from tests.training.conftest import FACTS, write_ai_export
from training.data import AIRows, BadExport, InsufficientData, build, read_export, split


def test_sft_rows_are_corrections_and_well_rated_answers(export_file):
    rows = read_export(export_file)
    data = build("sft", rows, validation_share=0.0)
    # per fact the good answer and the approved correction are the same text: deduplicated to one row
    assert data.stats["rows"] == 6
    first = data.train[0]
    assert first["prompt"][0]["role"] == "user" and first["prompt"][0]["content"].startswith("Sources:")
    assert first["completion"][0]["role"] == "assistant"
    assert len(first["feedback_ids"]) == 2  # lineage keeps both records


def test_sft_can_learn_from_corrections_only(export_file):
    rows = read_export(export_file)
    both = build("sft", rows, validation_share=0.0)
    only = build("sft", rows, validation_share=0.0, rated_answers=False)
    assert both.stats["by_source"]["rating"] > 0 and only.stats["by_source"]["rating"] == 0
    assert {r["source"] for r in only.train} == {"correction"}
    corrected = {r.feedback_id for r in rows if r.approved_correction}
    assert {i for row in only.train for i in row["feedback_ids"]} == corrected


def test_approved_synthetic_drafts_are_sft_rows_of_their_own_source(tmp_path):
    """What ``ragloop data synth`` saves (via the real draft record and export path): an approved draft
    trains as a ``synthetic`` row, a pending or rejected one not at all."""
    from drafting.drafts import Draft
    from feedback.export import export_records
    from rag.protocols import Chunk, SearchHit
    from ragloop.synth import draft_record
    from ragloop.turns import reviewed_record

    text = "Charging takes about 5 hours."
    hit = SearchHit(Chunk("c1", text, "manual.pdf", 3, 0, len(text), "h", "f"), 1.0)
    drafts = [Draft(n, hit, "manual.pdf, page 3", (f"Question {n}?", f"Answer {n}.")) for n in range(3)]
    records = [draft_record(d, "drafter") for d in drafts]
    records[0] = reviewed_record(records[0], "approved", "expert")
    records[1] = reviewed_record(records[1], "rejected", "expert")
    export_records(records, tmp_path / "export.jsonl", "jsonl")
    data = build("sft", read_export(tmp_path / "export.jsonl"), validation_share=0.0, min_rows=1)
    assert data.stats["by_source"]["synthetic"] == 1 and data.stats["by_source"]["correction"] == 0
    assert data.train[0]["completion"][0]["content"] == "Answer 0. [1]"
    assert data.feedback_ids == [records[0].feedback_id]


def test_preference_pairs_from_corrections_and_ratings(export_file):
    data = build("dpo", read_export(export_file), validation_share=0.0)
    assert data.stats["by_source"]["correction"] == 6
    # per question 5>1, 5>2 and 2>1 by rating; 5>2 is the same pair as the correction and dedupes into it
    assert data.stats["by_source"]["rating"] == 6 * 2
    assert data.stats["rows"] == 6 * 3
    for row in data.train:
        assert row["chosen"] != row["rejected"]


def test_kto_rows_label_good_and_bad(export_file):
    data = build("kto", read_export(export_file), validation_share=0.0)
    assert data.stats["desirable"] == 6 and data.stats["undesirable"] == 12


def test_split_is_stable_and_disjoint(export_file):
    data = build("dpo", read_export(export_file), validation_share=0.3)
    again = build("dpo", read_export(export_file), validation_share=0.3)
    assert data.train == again.train and data.validation == again.validation
    assert data.validation and not {json.dumps(r) for r in data.train} & {
        json.dumps(r) for r in data.validation
    }
    train, val = split(data.train + data.validation, 0.3)
    assert len(train) + len(val) == data.stats["rows"]


def test_too_little_data_is_a_clear_error(export_file, tmp_path):
    small = tmp_path / "small.jsonl"
    small.write_text(export_file.read_text().splitlines()[0] + "\n")
    with pytest.raises(InsufficientData, match="sft needs at least 4 usable rows; the export gives 1"):
        build("sft", read_export(small))


def test_unknown_schema_version_is_refused(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"schema_version": 99}) + "\n")
    with pytest.raises(BadExport, match="schema_version 99"):
        read_export(bad)


def test_rows_carry_the_system_message_the_model_saw(tmp_path):
    from feedback.export import export_records
    from feedback.schema import FeedbackRecord

    trace = {"system": "Answer from the sources.", "prompt": "Sources:\n[1] manual\n\nQuestion: Why?"}
    record = FeedbackRecord(
        session_id="s", turn=0, question="Why?", answer="Because [1].", model="base", trace=trace, rating=5
    )
    path = tmp_path / "export.jsonl"
    export_records([record], path, "jsonl")
    [row] = build("sft", read_export(path), validation_share=0.0, min_rows=1).train
    assert row["prompt"] == [
        {"role": "system", "content": "Answer from the sources."},
        {"role": "user", "content": "Sources:\n[1] manual\n\nQuestion: Why?"},
    ]


def _candidates(tmp_path, scores_by_question: dict[str, list[float]]):
    """k unrated candidates per question (as the loop's RLAIF sampler exports them) and judge scores."""
    from feedback.export import export_records
    from feedback.schema import FeedbackRecord

    records, scores = [], []
    for q, question_scores in scores_by_question.items():
        for turn, score in enumerate(question_scores):
            r = FeedbackRecord(
                session_id=f"c-{q}",
                turn=turn,
                question=q,
                answer=f"{q} answer {turn}",
                model="sft",
                trace={"prompt": f"Question: {q}"},
            )
            records.append(r)
            scores.append({"id": r.feedback_id, "score": score, "judge": "reference-overlap-v1"})
    export = tmp_path / "candidates.jsonl"
    export_records(records, export, "jsonl")
    scores_path = tmp_path / "scores.jsonl"
    scores_path.write_text("".join(json.dumps(s) + "\n" for s in scores))
    return export, scores_path


def test_judge_pairs_take_best_over_worst_with_a_margin(tmp_path):
    from training.data import JudgePairing, read_judge_scores

    export, scores_path = _candidates(
        tmp_path, {"q1": [4.0, 1.0, 2.5, 3.0], "q2": [2.0, 2.2, 2.1, 2.05], "q3": [5.0, 0.5, 4.9, 0.6]}
    )
    rows, scores = read_export(export), read_judge_scores(scores_path)
    best_vs_worst = build("dpo", rows, 0.0, judge_scores=scores, min_rows=1, pairing=JudgePairing(0.5, 1))
    chosen = {(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in best_vs_worst.train}
    # q2's spread (0.2) is under the margin: nothing to prefer
    assert chosen == {("q1 answer 0", "q1 answer 1"), ("q3 answer 0", "q3 answer 1")}
    assert best_vs_worst.stats["by_source"]["judge"] == 2
    two = build("dpo", rows, 0.0, judge_scores=scores, min_rows=1, pairing=JudgePairing(0.5, 2))
    assert ("q3 answer 2", "q3 answer 3") in {
        (r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in two.train
    }
    everything = build("dpo", rows, 0.0, judge_scores=scores, min_rows=1)  # every ordered pair with a gap
    assert everything.stats["rows"] == 3 * 6


def test_judge_scores_file_must_carry_ids_and_scores(tmp_path):
    from training.data import read_judge_scores

    bad = tmp_path / "scores.jsonl"
    bad.write_text('{"id": "a", "score": 3}\n{"id": "b"}\n')
    with pytest.raises(BadExport, match=r"scores.jsonl:2"):
        read_judge_scores(bad)


def ai_export(tmp_path):
    return read_export(write_ai_export(tmp_path / "ai.jsonl"))


def test_ai_scores_are_unused_unless_asked(tmp_path):
    rows = ai_export(tmp_path)
    with pytest.raises(InsufficientData):  # nothing rated >= 4 or corrected: no SFT rows without AI rows
        build("sft", rows)


def test_ai_scored_rows_feed_sft_kto_and_dpo_and_are_marked(tmp_path):
    rows = ai_export(tmp_path)
    by_id = {r.feedback_id: r for r in rows}
    sft = build("sft", rows, validation_share=0.0, ai=AIRows("all"))
    # the good answer of each fact; the rejected one and the one a user rated 1 never
    assert sft.stats["by_source"]["ai_score"] == len(FACTS) == sft.stats["rows"]
    assert {by_id[i].answer for i in sft.ai_feedback_ids} == {good for _, good, _ in FACTS}
    assert sft.stats["ai_judges"] == [
        {"backend": "ReferenceOverlapJudge", "basis": "sources", "model": "reference-overlap-v1"}
    ]

    kto = build("kto", rows, validation_share=0.0, ai=AIRows("all"))
    assert kto.stats["desirable"] == len(FACTS)
    # bad answers by AI score, plus the user's own 1 (their rating wins over the judge's 4.8)
    assert kto.stats["undesirable"] == 2 * len(FACTS) and kto.stats["by_source"]["rating"] == len(FACTS)

    dpo = build("dpo", rows, validation_share=0.0, ai=AIRows("all"))
    ai_pairs = [r for r in dpo.train if r["source"] == "ai_score"]
    assert ai_pairs and all(r["chosen"][0]["content"] in {g for _, g, _ in FACTS} for r in ai_pairs)
    # the judge liked the answer a user rated 1, but the user's word wins
    assert not any(r["chosen"][0]["content"].endswith("Really.") for r in ai_pairs)


def test_approved_mode_uses_only_reviewer_approved_records(tmp_path):
    rows = ai_export(tmp_path)
    approved = {r.feedback_id for r in rows if r.review_state == "approved"}
    sft = build("sft", rows, validation_share=0.0, ai=AIRows("approved"), min_rows=1)
    assert sft.stats["rows"] == 3 and set(sft.ai_feedback_ids) <= approved
    assert sft.stats["approved_by"] == ["expert"]  # the manifest lists who approved the rows
    dpo = build("dpo", rows, validation_share=0.0, ai=AIRows("approved"), min_rows=1)
    assert {i for r in dpo.train if r["source"] == "ai_score" for i in r["feedback_ids"]} <= approved
