"""Sign-in for real: panva's oidc-provider (a certified OpenID Provider library, run by Node on an
ephemeral port) signs people into the real Streamlit app (Streamlit's st.login, Authlib) in headless
Chromium. A user cannot reach the review queue or another user's chat, a reviewer's approval is stored
under their identity, and signing out ends the session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import httpx
import pytest

from core.settings import Settings
from feedback.service import get_feedback_store
from ragloop.processes import wait_until_ready
from ragloop.serve import free_port
from tests.conftest import REPO
from tests.feedback.conftest import make_record
from tests.test_browser import CHROMIUM, need_chromium

NODE_MODULES = REPO / ".deps" / "node_modules"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def signed_in_app(tmp_path):
    """The app with sign-in configured against a real OIDC provider; Ann's and Bob's chats seeded, Ann's
    with a correction waiting for review."""
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "oidc-provider").is_dir():
        if os.environ.get("CI"):
            pytest.fail("node or oidc-provider is missing; `make deps` installs them")
        pytest.skip("needs node and oidc-provider (make deps)")
    idp_port, app_port = free_port(), free_port()
    app_url, issuer = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{idp_port}"
    provider = REPO / "tests" / "oidc" / "provider.mjs"
    idp_cmd = [node, str(provider), str(idp_port), f"{app_url}/oauth2callback", str(NODE_MODULES)]
    idp = subprocess.Popen(idp_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    settings = Settings(data_dir=tmp_path / "data")
    store = get_feedback_store(settings)
    ann = make_record(
        user_id="ann", session_id="s-ann", question="Ann's question?", rating=1, correction="Ann."
    )
    store.put(ann)
    store.put(make_record(user_id="bob", session_id="s-bob", question="Bob's question?", rating=5))
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "{app_url}/oauth2callback"\n'
        'cookie_secret = "a-cookie-secret-for-the-sign-in-test-only"\n'
        'client_id = "ragloop"\n'
        'client_secret = "ragloop-test-client-secret"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
        # Streamlit asks for prompt=select_account by default, which this provider (rightly) rejects
        'client_kwargs = { prompt = "login" }\n'
    )
    env = {
        **os.environ,
        "RAGLOOP_DATA_DIR": str(settings.data_dir),
        "RAGLOOP_AUTH__GROUP_ROLES": '{"ragloop-reviewers": "reviewer", "ragloop-admins": "admin"}',
        "RAGLOOP_FEEDBACK__AI_SCORING": "false",
        "PYTHONUNBUFFERED": "1",
    }
    app_cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(app_port)]
    app_cmd += [
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
    ]
    app_cmd += ["--browser.gatherUsageStats", "false", "--secrets.files", str(secrets)]
    app = subprocess.Popen(
        app_cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_ready(
            idp, lambda: _healthy(f"{issuer}/.well-known/openid-configuration"), "oidc-provider", timeout_s=60
        )
        wait_until_ready(
            app, lambda: _healthy(f"{app_url}/_stcore/health"), "the Streamlit app", timeout_s=120
        )
        yield app_url, store, ann
    finally:
        _stop(app)
        _stop(idp)
        store.close()


def sign_in(page, app_url: str, login: str) -> None:
    """Through the provider's own login and consent pages, back to the app."""
    from playwright.sync_api import expect

    page.goto(app_url)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()  # consent to openid email profile
    expect(page.get_by_text("Signed in as")).to_be_visible()


@pytest.mark.slow
def test_users_and_reviewers_sign_in_through_a_real_oidc_provider(signed_in_app):
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    app_url, store, ann_record = signed_in_app
    expect.set_options(timeout=60_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

        # Ann, a user: her chat, not Bob's; no Review page, and its URL refuses her
        ann = browser.new_context().new_page()
        ann.set_default_timeout(90_000)
        sign_in(ann, app_url, "ann")
        expect(ann.get_by_role("button", name="Ann's question?")).to_be_visible()
        expect(ann.get_by_role("button", name="Bob's question?")).to_have_count(0)
        expect(ann.get_by_role("link", name="Review")).to_have_count(0)
        ann.goto(f"{app_url}/review")  # the page is not even registered for her
        expect(ann.get_by_role("dialog", name="Page not found")).to_be_visible()
        expect(ann.get_by_role("heading", name="Ask your documents")).to_be_visible()
        expect(ann.get_by_text("Question: Ann's question?")).to_have_count(0)

        # Rita, a reviewer (cognito:groups = ragloop-reviewers): approves Ann's correction as herself
        rita = browser.new_context().new_page()
        rita.set_default_timeout(90_000)
        sign_in(rita, app_url, "rita")
        rita.get_by_role("link", name="Review").click()
        expect(rita.get_by_text("Question: Ann's question?")).to_be_visible()
        rita.get_by_role("button", name="Approve", exact=True).click()
        expect(rita.get_by_text("No corrections waiting for review.")).to_be_visible()
        approved = store.get(ann_record.feedback_id)
        assert approved.review_state == "approved" and approved.reviewer == "rita"

        # signing out ends the session: the sign-in button again, also after a reload
        rita.get_by_role("button", name="Sign out").click()
        rita.get_by_role("button", name="Yes, sign me out").click()  # the provider's end-session page
        expect(rita.get_by_role("button", name="Sign in")).to_be_visible()
        rita.reload()
        expect(rita.get_by_role("button", name="Sign in")).to_be_visible()
        expect(rita.get_by_text("Signed in as")).to_have_count(0)
        browser.close()
