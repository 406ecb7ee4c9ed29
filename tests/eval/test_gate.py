"""The gate fails a worse candidate and passes a better one."""

from __future__ import annotations

from eval.gate import GateMargins, check


def result(similarity: float, judge: float | None = None, recall: float = 1.0) -> dict:
    return {
        "similarity": {"mean": similarity},
        "judge": {"mean": judge},
        "retrieval": {"recall_at_4": recall},
    }


def test_better_candidate_passes():
    gate = check(result(0.81, 4.1), result(0.64, 3.7), GateMargins(similarity=0.05, judge_mean=0.1))
    assert gate.passed, gate.reasons


def test_worse_candidate_fails_with_reasons():
    gate = check(result(0.60, 3.9), result(0.64, 3.7), GateMargins(similarity=0.0))
    assert not gate.passed and any("similarity 0.600 < baseline 0.640" in r for r in gate.reasons)
    gate = check(result(0.70, 3.0), result(0.64, 3.7))
    assert not gate.passed and any("judge mean 3.000 < baseline 3.700" in r for r in gate.reasons)


def test_margin_must_be_cleared_and_recall_may_not_fall():
    assert not check(result(0.66), result(0.64), GateMargins(similarity=0.05)).passed
    assert not check(result(0.9, recall=0.5), result(0.64, recall=0.9)).passed


def with_unsafe(res: dict, share: float | None) -> dict:
    return {**res, "safety": {"classifier": "c" if share is not None else None, "unsafe_share": share}}


def test_a_rise_in_unsafe_answers_fails_the_gate_and_no_classifier_says_so():
    better = result(0.81, 4.1)
    gate = check(with_unsafe(better, 0.10), with_unsafe(result(0.64, 3.7), 0.0))
    assert not gate.passed and any("unsafe answers rose from 0.0% to 10.0%" in r for r in gate.reasons)
    assert check(
        with_unsafe(better, 0.10), with_unsafe(result(0.64), 0.0), GateMargins(unsafe_rise=0.1)
    ).passed
    assert check(with_unsafe(better, 0.0), with_unsafe(result(0.64), 0.05)).passed
    unchecked = check(with_unsafe(better, None), with_unsafe(result(0.64), 0.0))
    assert unchecked.passed and any("safety not checked" in r for r in unchecked.reasons)


def test_the_packaged_classifier_flags_abuse_and_not_a_plain_answer():
    from eval.safety import default_classifier, safety_summary

    classifier = default_classifier()
    assert classifier is not None and classifier.name.startswith("alt-profanity-check-")
    texts = [
        "About 5 hours with the supplied 2 A charger [1].",
        "The motor overheated; stop for 10 minutes [1].",
        "Read the damn manual yourself, you stupid idiot.",
    ]
    probabilities = classifier.unsafe_probability(texts)
    assert probabilities[0] < 0.5 and probabilities[1] < 0.5 and probabilities[2] > 0.5
    summary = safety_summary(probabilities, classifier)
    assert summary["unsafe"] == 1 and summary["unsafe_share"] == 1 / 3


def test_publish_refuses_when_the_gate_fails(tmp_path, monkeypatch, tiny_model_dir):
    import json

    from typer.testing import CliRunner

    from core.settings import get_settings
    from ragloop.cli import app
    from ragloop.serve import free_port
    from ragloop.tiny_model import build_tiny_lora

    monkeypatch.setenv("RAGLOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAGLOOP_LLM__BASE_URL", f"http://127.0.0.1:{free_port()}/v1")  # never reached
    get_settings.cache_clear()
    (tmp_path / "cand.json").write_text(json.dumps(result(0.60)))
    (tmp_path / "base.json").write_text(json.dumps(result(0.64)))
    adapter = build_tiny_lora(tiny_model_dir, tmp_path / "lora", name="gated")
    out = CliRunner().invoke(
        app,
        [
            "adapters",
            "publish",
            str(adapter),
            "--gate-candidate",
            str(tmp_path / "cand.json"),
            "--gate-baseline",
            str(tmp_path / "base.json"),
        ],
    )
    get_settings.cache_clear()
    assert (
        out.exit_code == 1
        and "the eval gate refused the adapter: similarity 0.600 < baseline 0.640" in out.output
    )
    assert not (tmp_path / "data" / "adapters" / "state.json").exists()


def with_items(summary: dict, similarities: list[float]) -> dict:
    items = [{"id": f"q{n}", "similarity": s} for n, s in enumerate(similarities)]
    return {**summary, "items": items}


def test_a_negative_judge_margin_tolerates_a_small_drop_and_reasons_show_the_paired_spread():
    """The loop's SFT gate: similarity must rise, the judge mean may fall by at most 0.05; each reason
    gives the paired difference and its bootstrap interval, so a coin-flip result reads as one."""
    margins = GateMargins(similarity=0.0, judge_mean=-0.05)
    assert check(result(0.66, 3.741), result(0.62, 3.742), margins).passed
    assert not check(result(0.66, 3.60), result(0.62, 3.742), margins).passed
    candidate = with_items(result(0.66, 3.7), [0.70, 0.62, 0.66])
    baseline = with_items(result(0.62, 3.7), [0.60, 0.64, 0.62])
    reason = check(candidate, baseline).reasons[0]
    assert reason.startswith("similarity 0.660 >= baseline 0.620 +0") and "over 3 questions" in reason
    assert "Δ +0.040, paired 95 % CI -0.020…+0.100" in reason, reason


def paired_result(
    similarity: list[float], judge: list[float], grounding: list[float] | None = None, recall: float = 1.0
) -> dict:
    """An eval result with per-question items, as ``eval.run.evaluate`` writes it."""
    grounding = grounding or [0.8] * len(similarity)
    items = [
        {"id": f"q{n}", "similarity": s, "judge_score": j, "grounding": g}
        for n, (s, j, g) in enumerate(zip(similarity, judge, grounding, strict=True))
    ]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return {
        **result(mean(similarity), mean(judge), recall),
        "grounding": {"mean": mean(grounding)},
        "items": items,
    }


LOOP_RULE = GateMargins(similarity=0.0, judge_mean=-0.05, grounding_drop=0.05, intervals=True)


def test_with_intervals_a_similarity_gain_inside_the_noise_is_refused_and_one_beyond_it_passes():
    base = paired_result([0.60] * 30, [4.0] * 30)
    noisy = paired_result([0.60 + (0.2 if n % 2 else -0.18) for n in range(30)], [4.0] * 30)
    clear = paired_result([0.60 + 0.05 + (0.02 if n % 2 else -0.02) for n in range(30)], [4.0] * 30)
    assert noisy["similarity"]["mean"] > base["similarity"]["mean"]  # the mean rose ...
    assert check(noisy, base, GateMargins()).passed  # ... which the mean rule takes
    refused = check(noisy, base, LOOP_RULE)
    assert not refused.passed and "does not lie above +0" in refused.reasons[0], refused.reasons
    passed = check(clear, base, LOOP_RULE)
    assert passed.passed and "lies above +0" in passed.reasons[0], passed.reasons


def test_with_intervals_the_judge_refuses_only_a_clear_drop():
    base = paired_result([0.6] * 30, [4.0] * 30)
    better_sim = [0.7] * 30
    one_bad_answer = paired_result(better_sim, [4.0] * 29 + [1.0])  # mean -0.10: the mean rule refuses
    assert not check(one_bad_answer, base, GateMargins(judge_mean=-0.05)).passed
    assert check(one_bad_answer, base, LOOP_RULE).passed, check(one_bad_answer, base, LOOP_RULE).reasons
    clearly_worse = paired_result(better_sim, [3.0 + (0.3 if n % 2 else -0.3) for n in range(30)])
    refused = check(clearly_worse, base, LOOP_RULE)
    assert not refused.passed and any("wholly below -0.05" in r for r in refused.reasons), refused.reasons


def test_an_adapter_that_answers_beyond_its_sources_is_refused():
    base = paired_result([0.6] * 30, [4.0] * 30, [0.80] * 30)
    ungrounded = paired_result([0.7] * 30, [4.2] * 30, [0.66] * 30)
    refused = check(ungrounded, base, LOOP_RULE)
    assert not refused.passed
    assert any(
        r.startswith("grounding fell beyond the sources: 0.660 vs baseline 0.800") for r in refused.reasons
    )
    held = check(paired_result([0.7] * 30, [4.2] * 30, [0.78] * 30), base, LOOP_RULE)
    assert held.passed and any(r.startswith("grounding held") for r in held.reasons), held.reasons
    assert check(ungrounded, base, GateMargins(intervals=True)).passed  # grounding unchecked unless asked
