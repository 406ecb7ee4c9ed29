"""The Streamlit pages through Streamlit's AppTest: chat (real vLLM + tiny Mistral), feedback saving,
dashboard metrics and the review queue. Untrusted text is never rendered as HTML."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.settings import Settings, get_settings
from feedback.service import get_feedback_store
from judge.overlap import ReferenceOverlapJudge
from tests.conftest import REPO
from tests.feedback.conftest import make_record

UI = REPO / "ragloop" / "ui"


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGLOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAGLOOP_LLM__MAX_TOKENS", "16")
    get_settings.cache_clear()
    st.cache_resource.clear()
    yield Settings(data_dir=tmp_path / "data")
    get_settings.cache_clear()
    st.cache_resource.clear()


ROLE_GROUPS = '{"ragloop-reviewers": "reviewer", "ragloop-admins": "admin"}'
PEOPLE = {  # OIDC ID-token claims as Streamlit's st.user holds them after sign-in
    "ann": {"sub": "u-ann", "email": "ann@example.com", "name": "Ann User", "cognito:groups": []},
    "bob": {"sub": "u-bob", "email": "bob@example.com", "name": "Bob User", "cognito:groups": []},
    "rita": {
        "sub": "u-rita",
        "email": "rita@example.com",
        "name": "Rita Reviewer",
        "cognito:groups": ["ragloop-reviewers"],
    },
    "adam": {
        "sub": "u-adam",
        "email": "adam@example.com",
        "name": "Adam Admin",
        "cognito:groups": ["ragloop-admins"],
    },
}


def page_as(page: str, who: str | None, monkeypatch) -> AppTest:
    """A page with sign-in configured, signed in as ``who`` (None: signed out)."""
    monkeypatch.setenv("RAGLOOP_AUTH__GROUP_ROLES", ROLE_GROUPS)
    get_settings.cache_clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(UI / page), default_timeout=60)
    at.secrets["auth"] = {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": "test-cookie-secret",
        "client_id": "ragloop",
        "client_secret": "test-client-secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
    at.user = {"is_logged_in": False} if who is None else {"is_logged_in": True, **PEOPLE[who]}
    return at


def submit_feedback(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label == "Save feedback").click().run()


def no_html(at: AppTest) -> None:
    for md in at.markdown:
        assert not md.proto.allow_html, md.value


@pytest.mark.slow
def test_chat_answers_with_citation_and_saves_feedback_once(app_env, corpus, monkeypatch, vllm_server):
    from rag.service import build_ingestor

    (corpus / "evil.md").write_text("Battery charging notes <script>window.__pwned = 1</script> end.")
    build_ingestor(app_env).ingest([corpus], progress=False)
    monkeypatch.setenv("RAGLOOP_LLM__BASE_URL", vllm_server.base_url)
    get_settings.cache_clear()

    at = AppTest.from_file(str(UI / "chat.py"), default_timeout=120).run()
    at.chat_input[0].set_value("How long does a full charge take with the 2 A charger?").run()
    assert not at.exception and not at.error
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert any(c.value.startswith("Sources: [") for c in at.caption)
    assert any(m.value == "**[1] voltbike-manual.pdf › page 2**" for m in at.markdown)  # the top source
    assert any(c.value == "answered by base" for c in at.caption)
    no_html(at)

    store = get_feedback_store(app_env)
    [logged] = list(store.list())
    assert logged.rating is None and logged.model == "base" and logged.trace["chunk_ids"]

    at.radio[0].set_value(2)
    at.text_input[0].input("misses the fast charger")
    at.text_area[0].input("About 5 hours with the 2 A charger, 2.5 hours with the 4 A one.")
    submit_feedback(at)
    assert any("feedback saved" in s.value for s in at.success)
    at.radio[0].set_value(3)
    submit_feedback(at)  # saving again updates the same record
    [saved] = list(store.list())
    assert saved.feedback_id == logged.feedback_id
    assert saved.rating == 3 and saved.note == "misses the fast charger"
    assert saved.correction.startswith("About 5 hours") and saved.review_state == "pending"


def test_chat_shows_a_clear_error_when_nothing_is_indexed(app_env):
    at = AppTest.from_file(str(UI / "chat.py"), default_timeout=60).run()
    at.chat_input[0].set_value("anything?").run()
    assert "no documents are indexed yet" in at.error[0].value
    assert not at.exception


@pytest.mark.parametrize(
    ("field", "limit", "text", "message"),
    [
        ("note", 10, "this note is far too long", "the note is 25 characters long; the limit is 10"),
        (
            "correction",
            20,
            "About 5 hours with the 2 A charger.",
            "the correction is 35 characters long; the limit is 20",
        ),
    ],
)
def test_feedback_over_a_limit_is_rejected_with_one_line(app_env, monkeypatch, field, limit, text, message):
    monkeypatch.setenv(f"RAGLOOP_FEEDBACK__MAX_{field.upper()}_CHARS", str(limit))
    get_settings.cache_clear()
    record = make_record()
    get_feedback_store(app_env).put(record)
    at = AppTest.from_file(str(UI / "chat.py"), default_timeout=60)
    at.session_state["session_id"] = record.session_id
    at.session_state["turns"] = [record]
    at.run()
    at.radio[0].set_value(4)
    (at.text_input[0] if field == "note" else at.text_area[0]).input(text)
    submit_feedback(at)
    [error] = at.error
    assert error.value == message and not at.exception
    assert get_feedback_store(app_env).get(record.feedback_id).rating is None


def test_question_over_its_limit_is_rejected_with_one_line(app_env, monkeypatch):
    monkeypatch.setenv("RAGLOOP_RETRIEVAL__MAX_QUESTION_CHARS", "30")
    get_settings.cache_clear()
    at = AppTest.from_file(str(UI / "chat.py"), default_timeout=60).run()
    at.chat_input[0].set_value("How long does a full charge take with the 2 A charger?").run()
    [error] = at.error
    assert error.value == "the question is 54 characters long; the limit is 30" and not at.exception
    assert not list(get_feedback_store(app_env).list())  # nothing half-logged


def test_uploads_refuse_bad_files_in_one_line_each_and_index_the_rest(app_env, monkeypatch):
    from rag.service import build_embedder, build_store

    monkeypatch.setenv("RAGLOOP_UPLOADS__MAX_FILE_MB", "0.01")  # 10 KB
    get_settings.cache_clear()
    at = AppTest.from_file(str(UI / "chat.py"), default_timeout=120).run()
    at.file_uploader[0].set_value(
        [
            ("../../notes.md", b"# Charging\nA full charge takes about 5 hours.", "text/markdown"),
            ("notes.md", b"# Another notes.md", "text/markdown"),
            ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", "application/pdf"),
            ("empty.txt", b"", "text/plain"),
            ("huge.txt", b"x" * 20_000, "text/plain"),
        ]
    ).run()
    next(b for b in at.button if b.label == "Index uploaded files").click().run()
    assert not at.exception
    warnings = sorted(w.value for w in at.warning)
    assert len(warnings) == 4 and all("\n" not in w for w in warnings), warnings
    assert warnings[0].startswith("Skipped: ") and "broken.pdf: corrupt or unreadable PDF" in warnings[0]
    assert warnings[1:] == [
        "Skipped: empty.txt is empty (0 bytes)",
        "Skipped: huge.txt is 19.5 KB; the upload limit is 10.2 KB",
        "Skipped: notes.md was uploaded twice in this batch; the first one is kept",
    ]
    assert [s.value for s in at.success] == ["Indexed 1 file(s)."]
    uploads = app_env.data_dir / "uploads"
    assert sorted(p.name for p in uploads.iterdir()) == ["broken.pdf", "notes.md"]
    assert not (app_env.data_dir.parent.parent / "notes.md").exists()
    st.cache_resource.clear()  # release the app's store before opening it here
    store = build_store(app_env, build_embedder(app_env))
    assert list(store.sources()) == [str(uploads / "notes.md")]


def test_dashboard_shows_counts_and_low_rated_answers(app_env):
    store = get_feedback_store(app_env)
    for i, rating in enumerate([1, 2, 4, 5, None]):
        store.put(
            make_record(
                turn=i,
                rating=rating,
                note="wrong" if rating == 1 else None,
                adapter="sft-v1" if i % 2 else None,
            )
        )
    at = AppTest.from_file(str(UI / "dashboard.py"), default_timeout=60).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Answers": "5", "Rated": "4", "Negative (≤ 2)": "50%", "Corrections to review": "0"}
    low = at.dataframe[0].value
    assert sorted(low["rating"].tolist()) == [1, 2]


def test_dashboard_shows_ai_scores_per_adapter_and_agreement_with_users(app_env):
    store = get_feedback_store(app_env)
    pairs = [(5, 4.4, None), (4, 4.0, None), (1, 0.2, "sft-v1"), (5, 0.2, "sft-v1"), (2, None, None)]
    for i, (rating, ai, adapter) in enumerate(pairs):
        store.put(make_record(turn=i, rating=rating, ai_score=ai, adapter=adapter))
    at = AppTest.from_file(str(UI / "dashboard.py"), default_timeout=60).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["AI-scored answers"] == "4" and metrics["AI score > 3"] == "50%"
    assert metrics["Answers with both"] == "4" and metrics["Differ by ≥ 2"] == "25%"
    daily = at.dataframe[1].value
    assert sorted(daily["answered_by"]) == ["base (base)", "sft-v1"]
    confusion = at.dataframe[2].value.set_index("user rating")
    assert confusion.loc["5 strongly agree", "AI 0"] == 1 and confusion.loc["5 strongly agree", "AI 4"] == 1
    assert confusion.loc["1 strongly disagree", "AI 0"] == 1 and confusion.to_numpy().sum() == 4


def test_review_edits_and_approves_a_correction(app_env, monkeypatch):
    store = get_feedback_store(app_env)
    record = make_record(rating=1, correction="It takes 5 hours.")
    store.put(record)
    at = page_as("review.py", "rita", monkeypatch).run()
    at.text_area[0].input("About 5 hours with the supplied 2 A charger [1].")
    next(b for b in at.button if b.label == "Approve").click().run()
    approved = store.get(record.feedback_id)
    assert approved.review_state == "approved" and approved.reviewer == "u-rita"
    assert approved.correction == "About 5 hours with the supplied 2 A charger [1]."
    assert approved.correction_submitted == "It takes 5 hours."
    assert any("No corrections waiting" in s.value for s in at.success)


def review_records(store) -> dict[str, object]:
    """Five rated answers with AI scores: two where human and AI disagree strongly, from two documents."""
    faq = [{"number": 1, "source": "/docs/faq.html", "page": None, "chunk_id": "f1", "score": 0.7}]
    records = {
        "human 5, AI 0.5": make_record(
            turn=0, question="Q human 5, AI 0.5", rating=5, ai_score=0.5, ai_reason="says 9 hours; sources: 5"
        ),
        "human 1, AI 4": make_record(
            turn=1, question="Q human 1, AI 4", rating=1, ai_score=4.0, citations=faq
        ),
        "agree": make_record(turn=2, question="Q agree", rating=4, ai_score=4.0),
        "corrected": make_record(turn=3, question="Q corrected", rating=2, ai_score=1.0, correction="Fixed."),
        "unscored": make_record(turn=4, question="Q unscored", rating=3, citations=faq),
    }
    for record in records.values():
        store.put(record)
    return records


def shown_questions(at: AppTest) -> list[str]:
    return [
        m.value.removeprefix("**Question:** Q ") for m in at.markdown if m.value.startswith("**Question:**")
    ]


def test_review_sorts_by_disagreement_and_bulk_approves_a_group_after_confirming(app_env, monkeypatch):
    store = get_feedback_store(app_env)
    records = review_records(store)
    at = page_as("review.py", "rita", monkeypatch).run()
    assert shown_questions(at) == ["corrected"]  # the default scope: corrections waiting
    at.radio(key="review_scope").set_value("all rated answers").run()
    at.selectbox(key="review_sort").set_value("human vs AI disagreement, largest first").run()
    assert shown_questions(at)[:2] == ["human 5, AI 0.5", "human 1, AI 4"]
    assert shown_questions(at)[-1] == "unscored"
    assert any(c.value.startswith("says 9 hours; sources: 5") for c in at.caption)  # the judge's reason

    at.selectbox(key="review_group").set_value("source document").run()
    assert [h.value for h in at.subheader] == ["manual.pdf", "faq.html"]
    next(b for b in at.button if b.label == "Approve all 3").click().run()
    assert any("Approve 3 answer(s) in 'manual.pdf'" in w.value for w in at.warning)
    assert all(store.get(r.feedback_id).review_state in ("none", "pending") for r in records.values())
    next(b for b in at.button if b.label == "Yes, approve 3").click().run()

    approved = {k for k, r in records.items() if store.get(r.feedback_id).review_state == "approved"}
    assert approved == {"human 5, AI 0.5", "agree", "corrected"}
    assert {store.get(records[k].feedback_id).reviewer for k in approved} == {"u-rita"}
    assert any("Approved 3 answer(s) in 'manual.pdf'" in s.value for s in at.success)
    assert not any(b.label.startswith("Approve all") and "3" in b.label for b in at.button)


def test_review_filters_and_a_cancelled_bulk_approval_changes_nothing(app_env):
    store = get_feedback_store(app_env)
    records = review_records(store)
    at = AppTest.from_file(str(UI / "review.py"), default_timeout=60).run()  # the local user: all roles
    at.radio(key="review_scope").set_value("all rated answers").run()
    at.slider(key="f_gap").set_value(2.0).run()
    assert sorted(shown_questions(at)) == ["human 1, AI 4", "human 5, AI 0.5"]
    at.slider(key="f_gap").set_value(0.0).run()
    at.slider(key="f_ai").set_value((3.5, 5.0)).run()
    at.checkbox(key="f_unscored").uncheck().run()
    assert sorted(shown_questions(at)) == ["agree", "human 1, AI 4"]
    at.multiselect(key="f_sources").set_value(["faq.html"]).run()
    assert shown_questions(at) == ["human 1, AI 4"]
    next(b for b in at.button if b.label == "Approve all 1").click().run()
    next(b for b in at.button if b.label == "Cancel").click().run()
    assert not at.warning
    assert all(store.get(r.feedback_id).review_state in ("none", "pending") for r in records.values())


def test_models_page_lists_adapters_with_lineage_and_reports(app_env, tmp_path):
    from core.manifest import AdapterManifest
    from eval.report import write_report
    from serving.registry import AdapterState, LocalAdapterRegistry, ServingState
    from tests.eval.test_report import MANIFEST, result

    source = tmp_path / "adapter"
    source.mkdir()
    AdapterManifest(**MANIFEST).write(source)
    registry = LocalAdapterRegistry(app_env.registry_dir)
    assert registry.add(source, "support") == 1
    registry.save_state(ServingState(adapters={"support": AdapterState(versions=[1], live=1, weight=0.5)}))
    write_report(
        [result("base", [0.6, 0.7]), result("support-v1", [0.8, 0.9])], app_env.reports_dir / "eval-1"
    )

    at = AppTest.from_file(str(UI / "models.py"), default_timeout=60).run()
    assert not at.exception
    adapters = at.dataframe[0].value
    assert adapters.index.tolist() == ["support-v1"]
    assert adapters.loc["support-v1", "status"] == "live" and adapters.loc["support-v1", "traffic"] == 0.5
    assert (
        adapters.loc["support-v1", "feedback records"] == 2 and adapters.loc["support-v1", "method"] == "sft"
    )
    summary = at.dataframe[1].value
    assert summary.index.tolist() == ["base", "support-v1"] and summary.loc["support-v1", "similarity"] > 0.8
    images = [e for e in at.main if type(e).__name__ == "Image"]
    # training curves drawn from the manifest, metric bars, similarity histogram (no judge scores here)
    assert len(images) == 3


def test_models_page_reads_an_s3_registry(app_env, s3_registry_env):
    s3_registry_env("support", method="dpo")

    at = AppTest.from_file(str(UI / "models.py"), default_timeout=60).run()
    assert not at.exception
    adapters = at.dataframe[0].value
    assert adapters.index.tolist() == ["support-v1"] and adapters.loc["support-v1", "method"] == "dpo"
    assert not (app_env.registry_dir / "state.json").exists()  # nothing went to the local registry


def test_models_page_explains_what_to_do_when_empty(app_env):
    at = AppTest.from_file(str(UI / "models.py"), default_timeout=60).run()
    assert not at.exception
    assert next(i.value for i in at.info).startswith("No adapters published yet")


def test_models_page_names_the_judge_and_its_benchmark_figures(app_env):
    at = AppTest.from_file(str(UI / "models.py"), default_timeout=60).run()
    assert not at.exception
    [line] = [m.value for m in at.markdown if m.value.startswith("AI judge:")]
    assert f"{ReferenceOverlapJudge.model_id} + fact checks" in line
    assert "AUC" in line and "labelled real answers" in line  # figures from judge/benchmark.json


def test_citations_name_file_section_and_page():
    from ragloop.ui.render import source_label

    assert source_label(
        {"source": "/docs/spec.pdf", "section": "2. Unified system › 2.4. The glob files", "page": 7}
    ) == ("spec.pdf › 2. Unified system › 2.4. The glob files › page 7")
    assert source_label({"source": "notes.md", "section": "", "page": None}) == "notes.md"
    assert source_label({"source": "old.pdf", "page": 2}) == "old.pdf › page 2"  # logged before sections


def seed_people(store) -> dict[str, object]:
    """A chat each for Ann and Bob (Ann's with a pending correction) and one for Rita (correction too)."""
    records = {
        "ann": make_record(
            user_id="u-ann", session_id="s-ann", question="Ann asks?", rating=1, correction="A."
        ),
        "bob": make_record(user_id="u-bob", session_id="s-bob", question="Bob asks?", rating=5),
        "rita": make_record(
            user_id="u-rita", session_id="s-rita", question="Rita asks?", rating=2, correction="R."
        ),
    }
    for record in records.values():
        store.put(record)
    return records


@pytest.mark.parametrize("page", ["chat.py", "dashboard.py", "review.py", "models.py"])
def test_signed_out_visitors_see_only_the_sign_in_button(app_env, monkeypatch, page):
    seed_people(get_feedback_store(app_env))
    at = page_as(page, None, monkeypatch).run()
    assert [b.label for b in at.button] == ["Sign in"]
    assert not any("asks?" in m.value for m in at.markdown) and not at.metric and not at.dataframe


def test_a_user_sees_only_their_own_chats_and_dashboard_and_no_review_or_uploads(app_env, monkeypatch):
    seed_people(get_feedback_store(app_env))
    chat = page_as("chat.py", "ann", monkeypatch).run()
    titles = [b.label for b in chat.sidebar.button]
    assert "Ann asks?" in titles and "Bob asks?" not in titles and "Rita asks?" not in titles
    assert not chat.get("file_uploader")  # uploads into the shared index: admin only
    assert any("Ann User" in c.value for c in chat.sidebar.caption)

    dashboard = page_as("dashboard.py", "ann", monkeypatch).run()
    assert {m.label: m.value for m in dashboard.metric}["Answers"] == "1"

    review = page_as("review.py", "ann", monkeypatch).run()
    assert any("the review queue needs the reviewer role" in e.value for e in review.error)
    assert not any("asks?" in m.value for m in review.markdown)


def test_a_reviewer_approves_others_corrections_but_not_their_own(app_env, monkeypatch):
    store = get_feedback_store(app_env)
    records = seed_people(store)
    at = page_as("review.py", "rita", monkeypatch).run()
    assert sorted(shown_questions_raw(at)) == ["Ann asks?", "Rita asks?"]
    assert any("1 of your own correction(s) here wait for another reviewer" in c.value for c in at.caption)
    rita_card = shown_questions_raw(at).index("Rita asks?")
    [b for b in at.button if b.label == "Approve"][rita_card].click().run()
    assert any("four-eyes rule" in e.value for e in at.error)
    assert store.get(records["rita"].feedback_id).review_state == "pending"
    next(b for b in at.button if b.label == "Approve all 1").click().run()
    next(b for b in at.button if b.label == "Yes, approve 1").click().run()
    approved = store.get(records["ann"].feedback_id)
    assert approved.review_state == "approved" and approved.reviewer == "u-rita"
    assert store.get(records["rita"].feedback_id).review_state == "pending"


def test_an_admin_sees_everyones_dashboard_and_may_upload(app_env, monkeypatch):
    seed_people(get_feedback_store(app_env))
    dashboard = page_as("dashboard.py", "adam", monkeypatch).run()
    assert {m.label: m.value for m in dashboard.metric}["Answers"] == "3"
    chat = page_as("chat.py", "adam", monkeypatch).run()
    assert chat.get("file_uploader")


def shown_questions_raw(at: AppTest) -> list[str]:
    return [
        m.value.removeprefix("**Question:** ") for m in at.markdown if m.value.startswith("**Question:**")
    ]


def test_no_secret_or_token_reaches_the_logs_and_xsrf_stays_on(app_env, monkeypatch, caplog):
    import logging

    from streamlit import config

    caplog.set_level(logging.DEBUG)
    seed_people(get_feedback_store(app_env))
    for page, who in [
        ("chat.py", "ann"),
        ("review.py", "rita"),
        ("dashboard.py", "adam"),
        ("review.py", "ann"),
    ]:
        at = page_as(page, who, monkeypatch)
        at.user = {**at.user, "tokens": {"id": "eyJ-id-token-SECRET", "access": "eyJ-access-token-SECRET"}}
        at.run()
        assert not at.exception
    for secret in ("test-cookie-secret", "test-client-secret", "id-token-SECRET", "access-token-SECRET"):
        assert secret not in caplog.text
    assert config.get_option("server.enableXsrfProtection") is True
