"""The app routes a session to the published adapter, shows it, and records it in the feedback log."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.settings import Settings, get_settings
from feedback.service import get_feedback_store
from ragloop.tiny_model import build_tiny_lora
from serving.publish import Publisher
from serving.registry import LocalAdapterRegistry
from serving.vllm_admin import VLLMAdmin
from tests.conftest import REPO


@pytest.mark.slow
def test_chat_answers_with_the_routed_adapter(tmp_path, monkeypatch, corpus, tiny_model_dir, vllm_server):
    from rag.service import build_ingestor

    settings = Settings(data_dir=tmp_path / "data")
    monkeypatch.setenv("RAGLOOP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RAGLOOP_LLM__BASE_URL", vllm_server.base_url)
    monkeypatch.setenv("RAGLOOP_LLM__MAX_TOKENS", "8")
    get_settings.cache_clear()
    st.cache_resource.clear()
    build_ingestor(settings).ingest([corpus], progress=False)
    admin = VLLMAdmin(vllm_server.base_url)
    publisher = Publisher(LocalAdapterRegistry(settings.registry_dir), admin)
    publisher.publish(build_tiny_lora(tiny_model_dir, tmp_path / "lora", seed=5, name="routed"))
    try:
        at = AppTest.from_file(str(REPO / "ragloop" / "ui" / "chat.py"), default_timeout=120).run()
        at.chat_input[0].set_value("What does E07 mean?").run()
        assert not at.exception and not at.error
        assert any(c.value == "answered by routed-v1" for c in at.caption)
        [record] = list(get_feedback_store(settings).list())
        assert record.adapter == "routed-v1" and record.trace["adapter"] == "routed-v1"
    finally:
        publisher.retire("routed")
        get_settings.cache_clear()
        st.cache_resource.clear()
