"""One real-browser test: headless Chromium (Debian's, driven by Playwright) against the real Streamlit
server, real vLLM (tiny Mistral) and the SQLite feedback store. Asks a question, sees a streamed answer
with a page citation, rates it with a correction, and finds the record in the store. A retrieved chunk
carrying a <script> must not execute."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from feedback.service import get_feedback_store
from ragloop.serve import free_port
from ragloop.settings import Settings
from tests.conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def streamlit_server(tmp_path, corpus, vllm_server):
    from rag.service import build_ingestor

    settings = Settings(data_dir=tmp_path / "data")
    (corpus / "evil.md").write_text("Charging safety notes <script>window.__pwned = 1</script> read them.")
    build_ingestor(settings).ingest([corpus], progress=False)
    port = free_port()
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
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    yield url, settings
    proc.terminate()
    proc.wait(20)


@pytest.mark.slow
def test_ask_rate_and_correct_in_a_real_browser(streamlit_server):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; `make deps` installs it with apt-get")
        pytest.skip("no system chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    url, settings = streamlit_server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(90_000)
        page.goto(url)
        box = page.get_by_placeholder("Ask a question about your documents")
        box.fill("How long does a full charge take with the 2 A charger?")
        box.press("Enter")
        expect(page.get_by_text("Sources:").first).to_be_visible(timeout=120_000)
        expect(page.get_by_text("voltbike-manual.pdf, page 2").first).to_be_visible(timeout=120_000)
        expect(page.get_by_text("answered by base")).to_be_visible(timeout=120_000)

        page.get_by_text("2 — disagree").click()
        page.get_by_label("Note (optional)").fill("misses the fast charger")
        page.get_by_label("Corrected answer (optional)").fill(
            "About 5 hours; 2.5 hours with the 4 A charger."
        )
        page.get_by_role("button", name="Save feedback").click()
        expect(page.get_by_text("Thanks — feedback saved.")).to_be_visible(timeout=120_000)
        assert page.evaluate("window.__pwned") is None
        page.screenshot(path=str(settings.data_dir / "browser.png"), full_page=True)
        browser.close()

    [record] = list(get_feedback_store(settings).list())
    assert record.rating == 2 and record.note == "misses the fast charger"
    assert record.correction.startswith("About 5 hours") and record.review_state == "pending"
    assert record.trace["chunk_ids"] and record.model == "base"
