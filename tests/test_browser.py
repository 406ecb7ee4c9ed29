"""Real-browser tests: headless Chromium (Debian's, driven by Playwright) against the real Streamlit
server, real vLLM (tiny Mistral) and the SQLite feedback store.

- Ask a question, see a streamed answer with a page citation, rate it with a correction, and find the
  record in the store.
- Untrusted text never runs: payloads that fire if HTML were rendered (``<img onerror>``,
  ``<svg onload>``, ``javascript:`` links, ``<script>``) sit in a retrieved chunk, a question, an
  answer, a note and a correction; the chat, review and dashboard pages show them as text and none runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
import pytest

from core.settings import Settings
from feedback.service import get_feedback_store
from ragloop.cli.web import PRODUCT_FLAGS
from ragloop.processes import wait_until_ready
from ragloop.serve import free_port
from tests.conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AI_SCORE_WITHIN_S = 30  # a rated answer's AI score shows on the Review page within this many seconds


# Each payload sets window.__xss if the browser ever treats it as HTML or follows the link.
IMG = '<img src=x onerror="window.__xss=1">'
SVG = '<svg onload="window.__xss=2">'
JS_LINK = '<a href="javascript:window.__xss=3">open the manual</a>'
MD_LINK = "[open the notes](javascript:window.__xss=4)"
SCRIPT = "<script>window.__xss=5</script>"
PAYLOADS = f"{IMG} {SVG} {JS_LINK} {MD_LINK} {SCRIPT}"
XSS_SESSION = "xss-session"


def seed_untrusted_record(settings: Settings) -> None:
    """A logged answer whose every user- or model-written field carries the payloads, rated 1 with a
    pending correction: it shows on the chat page (as a past chat), the review queue and the dashboard."""
    from feedback.schema import FeedbackRecord

    store = get_feedback_store(settings)
    store.put(
        FeedbackRecord(
            session_id=XSS_SESSION,
            turn=0,
            question=f"Charging question {IMG}",
            answer=f"Model answer {SVG} {JS_LINK} {MD_LINK} [1]",
            citations=[{"number": 1, "source": "evil.md", "page": None, "snippet": f"Chunk {PAYLOADS}"}],
            model="base",
            rating=1,
            note=f"Note {IMG}",
            correction=f"Correction {SVG} {JS_LINK}",
            review_state="pending",
        )
    )
    store.close()


@pytest.fixture
def streamlit_server(tmp_path, corpus, vllm_server):
    from rag.service import build_ingestor

    settings = Settings(data_dir=tmp_path / "data")
    (corpus / "evil.md").write_text(f"Charging safety notes: {PAYLOADS} read them before charging.")
    build_ingestor(settings).ingest([corpus], progress=False)
    seed_untrusted_record(settings)
    port = free_port()
    log = (settings.data_dir / "app.log").open("wb")  # the terminal a user would watch (app_output)
    env = {
        **os.environ,
        "RAGLOOP_DATA_DIR": str(settings.data_dir),
        "RAGLOOP_LLM__BASE_URL": vllm_server.base_url,
        "RAGLOOP_LLM__MAX_TOKENS": "24",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            *PRODUCT_FLAGS,  # as `ragloop ui` runs it
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until_ready(proc, healthy, "the Streamlit app", timeout_s=120)
        yield url, settings
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def app_output(settings: Settings) -> str:
    return (settings.data_dir / "app.log").read_text(errors="replace")


def need_chromium() -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; `make deps` installs it with apt-get")
        pytest.skip("no system chromium (apt-get install chromium)")


@contextmanager
def chromium_page():
    """A page of headless Chromium (90 s default timeout); the browser closes when the block ends."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(90_000)
        try:
            yield page
        finally:
            browser.close()


@pytest.mark.slow
def test_ask_rate_and_correct_in_a_real_browser(streamlit_server):
    from playwright.sync_api import expect

    url, settings = streamlit_server
    with chromium_page() as page:
        page.goto(url)
        box = page.get_by_placeholder("Ask a question about your documents")
        box.fill("How long does a full charge take with the 2 A charger?")
        box.press("Enter")
        expect(page.get_by_text("Sources:").first).to_be_visible(timeout=120_000)
        # the top source, whatever the random model's answer cites
        page.get_by_text("Show source passages").first.click()
        expect(page.get_by_text("[1] voltbike-manual.pdf › page 2").first).to_be_visible(timeout=120_000)
        expect(page.get_by_text("answered by base")).to_be_visible(timeout=120_000)
        expect(page.get_by_test_id("stAppDeployButton")).to_have_count(0)  # no developer chrome

        page.get_by_text("2 — disagree").click()
        page.get_by_label("Note (optional)").fill("misses the fast charger")
        page.get_by_label("Corrected answer (optional)").fill(
            "About 5 hours; 2.5 hours with the 4 A charger."
        )
        page.get_by_role("button", name="Save feedback").click()
        expect(page.get_by_text("Thanks — feedback saved.")).to_be_visible(timeout=120_000)
        saved_at = time.monotonic()
        page.screenshot(path=str(settings.data_dir / "browser.png"), full_page=True)

        # the app's background judge scores it; the reviewer sees the score without running anything
        store = get_feedback_store(settings)
        shown = None
        while shown is None and time.monotonic() - saved_at < AI_SCORE_WITHIN_S:
            [mine] = [r for r in store.list() if r.session_id != XSS_SESSION]
            if mine.ai_score is not None:
                page.goto(f"{url}/review")
                label = page.get_by_text(f"AI score {mine.ai_score:.1f} / 5 against the reference")
                expect(label.first).to_be_visible(timeout=30_000)
                shown = time.monotonic() - saved_at
            else:
                time.sleep(0.5)
        assert shown is not None, f"no AI score within {AI_SCORE_WITHIN_S} s of saving the rating"
        page.screenshot(path=str(settings.data_dir / "review-ai-score.png"), full_page=True)

    # the terminal stays quiet: no file watcher walking the imported modules (issue 31), no traceback
    output = app_output(settings)
    assert "Traceback" not in output and "Inotify" not in output, output[-3000:]

    [record] = [r for r in get_feedback_store(settings).list() if r.session_id != XSS_SESSION]
    assert record.rating == 2 and record.note == "misses the fast charger"
    assert record.correction.startswith("About 5 hours") and record.review_state == "pending"
    assert record.trace["chunk_ids"] and record.model == "base"


@pytest.mark.slow
def test_a_question_the_documents_do_not_answer_gets_a_plain_answer_in_a_real_browser(streamlit_server):
    """Issue 31: no garbled "you cannot find it in the documents", no citations pretending to support
    it, the closest topics the documents do cover, and no developer chrome."""
    from playwright.sync_api import expect

    url, settings = streamlit_server
    with chromium_page() as page:
        page.goto(url)
        box = page.get_by_placeholder("Ask a question about your documents")
        box.fill("Can I ride the bike in heavy rain, and what should I do afterwards?")
        box.press("Enter")
        expect(page.get_by_text("answered by base")).to_be_visible(timeout=120_000)
        expect(page.get_by_text("Your documents don't say.")).to_be_visible()
        expect(page.get_by_text("The closest topics they do cover:")).to_be_visible()
        expect(page.get_by_role("listitem").filter(has_text="voltbike-manual.pdf").first).to_be_visible()
        expect(page.get_by_text("Sources:")).to_have_count(0)
        expect(page.get_by_text("Show source passages")).to_have_count(0)
        expect(page.get_by_test_id("stAppDeployButton")).to_have_count(0)
        expect(page.get_by_test_id("stMainMenu")).to_have_count(0)
        page.screenshot(path=str(settings.data_dir / "documents-silent.png"), full_page=True)
    [record] = [r for r in get_feedback_store(settings).list() if r.session_id != XSS_SESSION]
    assert record.citations == [] and record.trace["silent"] == "no-evidence"


def assert_nothing_ran(page) -> None:
    """No payload executed, and none became live markup: no handler attributes, no javascript: links,
    no script element carrying a payload."""
    assert page.evaluate("window.__xss") is None
    live = page.evaluate(
        """() => [...document.querySelectorAll("img[onerror], svg[onload], a[href^='javascript:' i], script")]
            .filter(e => e.tagName !== "SCRIPT" || e.textContent.includes("__xss"))
            .map(e => e.outerHTML)"""
    )
    assert live == []


@pytest.mark.slow
def test_untrusted_text_shows_as_text_and_never_runs(streamlit_server):
    from playwright.sync_api import expect

    url, settings = streamlit_server
    expect.set_options(timeout=60_000)  # a page's first run on 2 busy cores takes seconds
    with chromium_page() as page:
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        # chat: a question carrying a payload, answered from sources that include the evil chunk
        page.goto(url)
        box = page.get_by_placeholder("Ask a question about your documents")
        box.fill(f"What do the charging safety notes say? {IMG}")
        box.press("Enter")
        expect(page.get_by_text("answered by base").first).to_be_visible(timeout=120_000)
        expect(page.get_by_text(f"What do the charging safety notes say? {IMG}")).to_be_visible()
        page.get_by_text("Show source passages").first.click()
        expect(page.get_by_text(SVG, exact=False).first).to_be_visible()
        assert_nothing_ran(page)

        # chat: the logged answer, its note and correction, reopened from the sidebar
        page.get_by_role("button", name="Charging question").click()
        expect(page.get_by_text(f"Model answer {SVG}", exact=False)).to_be_visible()
        expect(page.get_by_text(JS_LINK, exact=False).first).to_be_visible()
        page.get_by_text("open the notes").first.click()  # the Markdown javascript: link, if any
        expect(page.get_by_label("Note (optional)").last).to_have_value(f"Note {IMG}")
        assert_nothing_ran(page)

        # review: question, answer, note and correction of the pending record
        page.goto(f"{url}/review")
        expect(page.get_by_text(f"Charging question {IMG}", exact=False)).to_be_visible()
        expect(page.get_by_text(f"Model answer {SVG}", exact=False)).to_be_visible()
        expect(page.get_by_text(f"note: Note {IMG}", exact=False)).to_be_visible()
        expect(page.get_by_role("textbox", name="Correction")).to_have_value(f"Correction {SVG} {JS_LINK}")
        assert_nothing_ran(page)

        # dashboard: the low-rated answers table
        page.goto(f"{url}/dashboard")
        expect(page.get_by_text("Low-rated answers")).to_be_visible()
        grid = page.locator("[data-testid='stDataFrame']")
        expect(grid).to_be_visible()
        expect(grid.get_by_text(f"Charging question {IMG}", exact=False).first).to_be_attached()
        assert_nothing_ran(page)
        page.screenshot(path=str(settings.data_dir / "xss.png"), full_page=True)
    assert dialogs == []


@pytest.mark.slow
def test_reviewer_sorts_by_disagreement_and_bulk_approves_a_group_in_a_real_browser(streamlit_server):
    from playwright.sync_api import expect

    from tests.feedback.conftest import make_record

    url, settings = streamlit_server
    faq = [{"number": 1, "source": "/docs/faq.html", "page": None, "chunk_id": "f1", "score": 0.7}]
    seeded = {
        "Q1 rated 5, AI 0.5": make_record(
            session_id="r", turn=0, rating=5, ai_score=0.5, ai_reason="wrong hours"
        ),
        "Q2 rated 1, AI 4": make_record(session_id="r", turn=1, rating=1, ai_score=4.0, citations=faq),
        "Q3 they agree": make_record(session_id="r", turn=2, rating=4, ai_score=4.0),
    }
    store = get_feedback_store(settings)
    for question, record in seeded.items():
        store.put(record.model_copy(update={"question": question}))
    expect.set_options(timeout=60_000)
    with chromium_page() as page:
        page.goto(f"{url}/review")
        page.get_by_text("all rated answers").click()

        def settled() -> None:  # a click during a rerun can be lost: act on a page that finished running
            expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()

        def choose(label: str, option: str) -> None:
            settled()
            page.get_by_test_id("stSelectbox").filter(has_text=label).click()
            page.get_by_role("option", name=option).click()

        choose("Sort by", "human vs AI disagreement, largest first")
        questions = page.locator("[data-testid='stMarkdownContainer'] p", has_text="Question:")
        expect(questions.first).to_have_text("Question: Q1 rated 5, AI 0.5")
        expect(questions.nth(1)).to_have_text("Question: Q2 rated 1, AI 4")
        expect(page.get_by_text("wrong hours", exact=False).first).to_be_visible()  # the judge's reason

        choose("Group by", "source document")
        expect(page.get_by_role("heading", name="manual.pdf")).to_be_visible()
        settled()
        page.get_by_role("button", name="Approve all 2").click()
        expect(page.get_by_text("Approve 2 answer(s) in 'manual.pdf'", exact=False)).to_be_visible()
        settled()
        page.get_by_role("button", name="Yes, approve 2").click()
        expect(page.get_by_text("Approved 2 answer(s) in 'manual.pdf'")).to_be_visible()
        page.screenshot(path=str(settings.data_dir / "review.png"), full_page=True)
    states = {q: store.get(r.feedback_id).review_state for q, r in seeded.items()}
    assert states == {
        "Q1 rated 5, AI 0.5": "approved",
        "Q2 rated 1, AI 4": "none",
        "Q3 they agree": "approved",
    }
    assert (
        store.get(seeded["Q1 rated 5, AI 0.5"].feedback_id).reviewer == "local"
    )  # no sign-in: the local user


@pytest.mark.slow
def test_an_approved_correction_answers_a_paraphrase_at_once_until_it_is_withdrawn(streamlit_server):
    """Issue 29's whole path in a real browser: a user corrects an answer, a reviewer approves it, a new
    chat asking a paraphrase gets the corrected content as its first source, cited as a reviewed answer;
    after the reviewer withdraws the approval the next answer does not use it. (The tiny random model's
    own words are noise; what the model is given, and what the app cites, is the point.)"""
    from playwright.sync_api import expect

    url, settings = streamlit_server
    correction = "Yes: a dealer keys the frame lock and the battery lock alike for 15 euros."
    expect.set_options(timeout=90_000)
    with chromium_page() as page:

        def ask(question: str, answered_by: str = "answered by base") -> None:
            page.goto(url)
            box = page.get_by_placeholder("Ask a question about your documents")
            box.fill(question)
            box.press("Enter")
            expect(page.get_by_text(answered_by).last).to_be_visible(timeout=120_000)

        # 1. a user corrects an answer
        ask("Can the frame lock and battery lock use the same key?")
        page.get_by_text("2 — disagree").click()
        page.get_by_label("Corrected answer (optional)").fill(correction)
        page.get_by_role("button", name="Save feedback").click()
        expect(page.get_by_text("Thanks — feedback saved.")).to_be_visible()

        # 2. a reviewer approves it
        page.goto(f"{url}/review")
        card = page.get_by_test_id("stVerticalBlock").filter(has_text="battery lock use the same key").last
        expect(card.get_by_role("textbox", name="Correction")).to_have_value(correction)
        card.get_by_role("button", name="Approve").click()
        expect(page.get_by_text("battery lock use the same key")).to_have_count(0)  # left the pending queue
        store = get_feedback_store(settings)
        [corrected] = [r for r in store.list() if r.correction == correction]
        assert corrected.review_state == "approved" and corrected.reviewer == "local"

        # 3. a new chat asking a paraphrase gets it, cited as a reviewed answer
        today = time.strftime("%Y-%m-%d", time.gmtime())
        label = f"reviewed answer · approved by local · {today}"
        ask("can both locks be keyed alike")
        expect(page.get_by_text(f"[1] {label}").first).to_be_attached()
        page.get_by_text("Show source passages").last.click()
        expect(page.get_by_text(correction).last).to_be_visible()
        page.screenshot(path=str(settings.data_dir / "reviewed-answer.png"), full_page=True)

        # 3b. the same question again gets the approved text itself, word for word, without the model
        ask("Can the frame lock and battery lock use the same key?", "answered with a reviewed answer")
        expect(page.get_by_text(correction.removesuffix(".") + " [1].").last).to_be_visible()
        expect(page.get_by_text(f"[1] {label}").last).to_be_attached()

        # 4. the reviewer withdraws the approval; the next answer does not use it
        page.goto(f"{url}/review")
        page.get_by_text("all rated answers").click()
        expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
        card = page.get_by_test_id("stVerticalBlock").filter(has_text="battery lock use the same key").last
        card.get_by_role("button", name="Withdraw approval").click()
        expect(card.get_by_role("button", name="Withdraw approval")).to_have_count(0)
        ask("can both locks be keyed alike")
        # this corpus (demo/corpus) says nothing about keying locks: without the reviewed answer, the
        # designed "documents don't say" answer (issue 31), and no reviewed-answer citation
        expect(page.get_by_text("Your documents don't say.").last).to_be_visible()
        expect(page.get_by_text(label)).to_have_count(0)

    records = [r for r in get_feedback_store(settings).list() if r.session_id != XSS_SESSION]
    used = [r for r in records if r.trace.get("reviewed_answers")]
    corrected = next(r for r in records if r.correction == correction)
    assert [r.trace["reviewed_answers"] for r in used] == [[corrected.feedback_id]] * 2
    assert sorted(bool(r.trace.get("reviewed_direct")) for r in used) == [False, True]
    assert corrected.review_state == "rejected" and corrected.reviewer == "local"
