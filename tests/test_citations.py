"""One definition of a citation mark for the chain, the judge, eval and training data (core.citations)."""

from __future__ import annotations

from core.citations import cited_numbers, has_citation, strip_citations


def test_marks_lists_and_ranges_are_all_citations():
    text = "It charges in 5 hours [1]. The pack is 500 Wh [2, 3]; see also [4-5] and [6–6]."
    assert has_citation(text) and not has_citation("No marks, [a] or [] here.")
    assert cited_numbers(text) == [1, 2, 3, 4, 5, 6]
    assert cited_numbers("[2019-2024]") == [2019, 2024]  # not a range of sources
    assert cited_numbers("[123]") == [123]


def test_stripping_takes_the_space_before_a_mark_and_can_keep_words_apart():
    assert strip_citations("It charges in 5 hours [1]. Yes [2, 3]") == "It charges in 5 hours. Yes"
    assert strip_citations("5[1]hours", " ") == "5 hours"
