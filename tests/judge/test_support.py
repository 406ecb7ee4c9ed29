"""Whether sources carry a text (judge.support), the check a correction's training prompt must pass:
a terse right correction is carried, an invented number or name or a flipped statement is not, and a
correction whose facts live elsewhere is not. Examples written here, not taken from the benchmark."""

from __future__ import annotations

import pytest

from judge.support import carried_by

PROMPT = (
    '<source id="1" file="fs.md" section="Opening files">\n'
    "Opening a file returns a Result. On failure the error value is an io::Error, whose kind() tells\n"
    "NotFound from PermissionDenied. Handles are closed when they go out of scope.\n"
    "</source>\n\n"
    "Question: What error type does opening a file return on failure?"
)
QUESTION = "What error type does opening a file return on failure?"


@pytest.mark.parametrize(
    "correction", ["io::Error.", "An io::Error; its kind() says NotFound or PermissionDenied."]
)
def test_a_terse_right_correction_is_carried(correction):
    carried, why = carried_by(PROMPT, QUESTION, correction)
    assert carried, why


@pytest.mark.parametrize(
    "correction, reason",
    [
        ("An OsError with code 2.", "do not"),  # a name and a number the sources never state
        ("Handles are not closed when they go out of scope.", "denies"),  # the polarity flipped
        ("A boxed trait object that the caller downcasts at run time.", "key terms"),  # facts from elsewhere
    ],
)
def test_what_the_sources_do_not_hold_is_not_carried(correction, reason):
    carried, why = carried_by(PROMPT, QUESTION, correction)
    assert not carried and reason in why, why


def test_the_question_line_is_no_source():
    """The prompt's last line is the user's question: a correction that only repeats it is not carried."""
    prompt = (
        '<source id="1" file="x.md">\nUnrelated text about gardens.\n</source>\n\nQuestion: Is zstd decoded?'
    )
    assert not carried_by(prompt, "Is zstd decoded?", "zstd is decoded.")[0]


def test_on_technical_docs_it_keeps_right_corrections_whose_evidence_the_prompt_holds():
    """realdocs2's references against their prompts (the benchmark's pairs), by whether the prompt holds
    the evidence passage: most are kept where it does, most left out where it does not, on both halves.
    (The judge's score >= 3 kept 0.59 / 0.74 where it does.)"""
    from benchmarks.judge import PAIRS, read_jsonl

    rows = {r["item"]: r for r in read_jsonl(PAIRS) if "evidence_in_sources" in r}
    for half in ("realdocs2-a", "realdocs2-b"):
        kept = {True: [], False: []}
        for r in (r for r in rows.values() if r["set"] == half):
            kept[r["evidence_in_sources"]].append(carried_by(r["sources"], r["question"], r["reference"])[0])
        assert sum(kept[True]) / len(kept[True]) >= 0.85, half
        assert sum(kept[False]) / len(kept[False]) <= 0.40, half
