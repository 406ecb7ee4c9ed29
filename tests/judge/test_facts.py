"""The fact checks: what they must catch (a changed number or unit, a flipped yes/no or polarity, a dropped
name or qualifier, a claim the sources do not carry) and what they must let through (the same facts in
other words). Examples are written here, not taken from the benchmark sets."""

from __future__ import annotations

import pytest

from judge import facts

QUESTION = "How long is the warranty on the pump?"
REFERENCE = "3 years or 10,000 operating hours, whichever comes first, for the original buyer."


@pytest.mark.parametrize(
    "answer",
    [
        "The pump is covered for 3 years or 10,000 operating hours, whichever comes first, "
        "for the original buyer.",
        "For the original buyer: three years or 10000 hours of operation, whichever is reached first.",
    ],
)
def test_the_same_facts_in_other_words_pass(answer):
    assert facts.check(QUESTION, REFERENCE, answer).clean


@pytest.mark.parametrize(
    "answer, finding",
    [
        ("5 years or 10,000 operating hours, whichever comes first, for the original buyer.", "5 years"),
        ("3 months or 10,000 operating hours, whichever comes first, for the original buyer.", "3 months"),
    ],
)
def test_a_changed_number_or_unit_contradicts(answer, finding):
    found = facts.check(QUESTION, REFERENCE, answer)
    assert any(finding in c for c in found.contradictions), found


def test_a_number_beside_every_reference_number_is_an_addition_not_a_contradiction():
    question, reference = "How long does the tank take to fill?", "About 40 minutes with the 12 V pump."
    beside = "40 minutes with the 12 V pump, and about 25 minutes with the optional 24 V pump."
    found = facts.check(question, reference, beside)
    assert not found.contradictions, found
    assert any("25 minutes" in a and "24 V" in a for a in found.additions), found
    assert facts.cap(found)[0] == 4.0  # the additions cost one point together
    instead = "About 25 minutes with the 12 V pump."  # in place of the reference's number: wrong
    assert any("25 minutes" in c for c in facts.check(question, reference, instead).contradictions)


def test_a_dropped_qualifier_and_name_are_omissions():
    found = facts.check("Who may service the pump?", "Only an Aquaflow Service partner.", "A partner.")
    assert any("'only'" in o for o in found.omissions)
    assert any("aquaflow service" in o for o in found.omissions)
    limit, reasons = facts.cap(found)
    assert limit < 5.0 and len(reasons) == len(found.omissions)


def test_an_acronym_names_the_entity():
    assert facts.check("Where?", "Sold in the European Union.", "Sold in the EU.").clean


@pytest.mark.parametrize(
    "reference, answer",
    [
        ("Yes, the pump runs dry for 30 seconds.", "No, the pump runs dry for 30 seconds."),
        ("The filter is washable.", "The filter is not washable."),
        ("No, the lid must not be opened while it runs.", "No, the lid must be opened while it runs."),
    ],
)
def test_a_flipped_yes_no_or_polarity_contradicts(reference, answer):
    found = facts.check("Question?", reference, answer)
    assert found.contradictions, found
    assert facts.cap(found)[0] <= facts.CONTRADICTION_CAP


@pytest.mark.parametrize("lead", ["The answer is No,", 'The answer states "No,'])
def test_an_announced_yes_no_is_the_answer_not_a_negation(lead):
    """Seen in the loop: 'The answer is No, at about 40 percent' read as denying 'No, at about 40 percent'."""
    reference = "No, at about 40 percent; charge it fully before the first ride."
    answer = f"{lead} at about 40 percent; charge it fully before the first ride. [1]"
    assert facts.check("Is a new spare battery delivered fully charged?", reference, answer).clean
    flipped = facts.check("Is it delivered full?", reference, answer.replace("No,", "Yes,"))
    assert flipped.contradictions


def test_a_negation_in_another_clause_is_not_a_flip():
    reference = "The sensor does not see the float; the float must rise within 2 cm of it."
    answer = "It means the sensor cannot detect the float, which has to rise within 2 cm of the sensor."
    assert not facts.check("What does E4 mean?", reference, answer).contradictions


def test_ranges_carry_their_unit():
    assert [(q.value, q.unit) for q in facts.quantities("between 1.5 and 2 bar, 60-80 °C")] == [
        (1.5, "bar"),
        (2.0, "bar"),
        (60.0, "°C"),
        (80.0, "°C"),
    ]
    assert facts.quantities("once a year") == []  # a rate, not a count
    assert [q.unit for q in facts.quantities("press it once, or one time")] == ["times", "times"]


def test_against_sources_numbers_and_names_must_be_there():
    sources = "The Model X pump delivers 40 litres per minute and weighs 12 kg."
    assert facts.check("How heavy?", sources, "It weighs 12 kg.", basis="sources").clean
    invented = facts.check("How heavy?", sources, "It weighs 15 kg, says Hydra.", basis="sources")
    assert any("15 kg" in u for u in invented.unsupported)
    assert any("hydra" in u for u in invented.unsupported)
    assert facts.cap(invented)[0] <= facts.UNSUPPORTED_CAP


# ---- against sources: the app passes the prompt (sources in tags, then the user's question) --------------

PROMPT = (
    '<source id="1" file="pump-manual.pdf, page 2">\n'
    "The pump lifts water up to 8 m. It must not run dry: the seal is not rated for it.\n"
    "Service it every 500 operating hours. The inlet filter can be washed in warm water.\n"
    "</source>\n\n"
    '<source id="2" file="faq.md" section="FAQ › Can I use the pump for a pool?">\n'
    "Can I use the pump for a pool?\nThe pump is approved for garden water, not for pools.\n"
    "</source>\n\n"
    "Question: Can the pump run dry?"
)


def test_a_question_in_the_prompt_is_not_evidence():
    """The trailing 'Question:' line and an FAQ heading ask; they state nothing, so a negated answer does
    not 'deny' them."""
    answer = "No, the pump cannot run dry. [1]"
    assert facts.check("Can the pump run dry?", PROMPT, answer, basis="sources").clean
    pool = "You cannot use the pump for a pool. [2]"
    assert not facts.check("Can I use the pump for a pool?", PROMPT, pool, basis="sources").contradictions


@pytest.mark.parametrize(
    "question, answer, finding",
    [
        # its own words say the opposite of its yes/no
        ("Can the pump run dry?", "Yes, it must not run dry: the seal is not rated for it.", "'yes'"),
        # the source clause restating the question (most of its words) says the opposite
        ("Can the inlet filter be washed?", "No, it is a wear part.", "source says"),
    ],
)
def test_against_sources_a_yes_no_the_sources_contradict(question, answer, finding):
    found = facts.check(question, PROMPT, answer, basis="sources")
    assert any(finding in c for c in found.contradictions), found
    right = "Yes, the inlet filter can be washed in warm water."
    assert not facts.check("Can the inlet filter be washed?", PROMPT, right, basis="sources").contradictions


def test_against_sources_a_dropped_qualifier_of_a_number_costs_a_point():
    found = facts.check(
        "How high does the pump lift water?", PROMPT, "The pump lifts water 8 m.", basis="sources"
    )
    assert any("'up to' (8 m)" in o for o in found.omissions), found
    assert facts.adjust(3.5, found)[0] == 2.5  # a point off the score itself, not a cap at 4
    kept = facts.check("How high?", PROMPT, "It lifts water at most 8 m high.", basis="sources")
    assert not kept.omissions


def test_an_answer_to_another_question_is_capped():
    """A wh-question answered with a bare yes/no, or without the kind of value it asks for (where what
    the answer is judged against states one)."""
    height = "How high does the pump lift water?"
    other = facts.check(height, PROMPT, "Service it every 500 operating hours.", basis="sources")
    assert any("asks for a distance" in o for o in other.off_question), other
    assert facts.adjust(4.8, other)[0] <= facts.OFF_QUESTION_CAP
    assert not facts.check(height, PROMPT, "Up to 8 m.", basis="sources").off_question
    for basis, against in (("sources", PROMPT), ("reference", "Every 500 operating hours.")):
        found = facts.check("How often should I service the pump?", against, "Yes, service it.", basis=basis)
        assert any("yes/no" in o for o in found.off_question), (basis, found)


def test_a_sentence_wrapped_over_lines_in_the_sources_is_read_whole():
    """Markdown and PDF text breaks lines inside sentences; "whichever comes\\nfirst" is one qualifier."""
    wrapped = (
        '<source id="1" file="warranty.md">\n'
        "The pump is covered for 3 years or 10,000 operating hours, whichever comes\n"
        "first.\n</source>\n\nQuestion: How long is the pump covered?"
    )
    found = facts.check(
        "How long is the pump covered?", wrapped, "3 years or 10,000 operating hours.", "sources"
    )
    assert any("'whichever comes first'" in o for o in found.omissions), found
    assert (
        facts.source_text("- one item\n- another\n\nA sentence\nwrapped.")
        == "- one item\n- another\n\nA sentence wrapped."
    )


def test_more_ways_to_miss_the_question_or_a_qualifier():
    stored = facts.check("At what temperature should the pump be stored?", "Between 5 °C and 25 °C.", "No.")
    assert any("yes/no" in o for o in stored.off_question), stored  # a wh-question after "At"
    firmware = facts.check("Which firmware does the pump need?", "Firmware 2.4 or newer.", "Firmware 2.4.")
    assert any("'or newer'" in o for o in firmware.omissions), firmware


@pytest.mark.parametrize(
    "reference, answer, swapped",
    [
        # an identifier in code, a name that the reference states twice, a capitalised first word
        (
            "Pass the limit with pool.resize(PoolLimits).",
            "Pass the limit with pool.resize(TaskQueue).",
            "TaskQueue",
        ),
        (
            "Catch ParseFailure in the handler for ParseFailure.",
            "Catch ParseFailure in the handler for ValueWarning.",
            "ValueWarning",
        ),
        (
            "Set max_idle on the Pool, then call pool.get().",
            "Set max_idle on the Cache, then call pool.get().",
            "Cache",
        ),
    ],
)
def test_a_name_swapped_in_a_restated_sentence_contradicts(reference, answer, swapped):
    found = facts.check("How is the pool configured?", reference, answer)
    assert any(repr(swapped) in c for c in found.contradictions), found


@pytest.mark.parametrize(
    "answer",
    [
        "Call pool.resize(PoolLimits) with the limit.",  # reordered, same names
        "Set max_idle on the pool and then call pool.get().",  # a name lower-cased
        "Set max_idle on the Pools, then call pool.get().",  # a plural
    ],
)
def test_the_same_names_in_other_words_are_not_swaps(answer):
    reference = "Pass the limit with pool.resize(PoolLimits). Set max_idle on the Pool, then call pool.get()."
    assert not facts.check("How is the pool configured?", reference, answer).contradictions


def test_against_sources_a_typographic_apostrophe_still_negates():
    """PDF and HTML sources write "don’t": the same negation as "don't", so an answer that agrees is no
    denial, and one that disagrees is."""
    sources = '<source id="1" file="guide.pdf, page 3">\nPooled handles don’t implement Share.\n</source>'
    question = "Do pooled handles implement Share?"
    agrees = facts.check(question, sources, "No, pooled handles don't implement Share.", basis="sources")
    assert not agrees.contradictions, agrees
    disagrees = facts.check(question, sources, "Pooled handles implement Share.", basis="sources")
    assert disagrees.contradictions


def test_against_sources_a_list_of_names_states_nothing():
    """An API index lists classes; holding the question's words does not make it say 'yes'."""
    index = "\n".join(f"* {name}" for name in ("BaseFault", "WireFault", "SlowRead", "SlowWrite", "Hangup"))
    sources = f'<source id="1" file="api.md">\n{index}\n</source>'
    answer = "No: SlowRead sits under TimeoutFault."
    found = facts.check("Is a SlowRead a kind of WireFault?", sources, answer, basis="sources")
    assert not found.contradictions, found


def test_against_sources_a_plural_or_a_hyphenated_name_is_named():
    body = "Raise a TransferError; its detail may be any JSON value."
    sources = f'<source id="1" file="api.md">\n{body}\n</source>'
    answer = "TransferErrors carry any JSON-serialisable detail."
    assert not facts.check("What detail can it carry?", sources, answer, basis="sources").unsupported
