"""Hot-loading adapters into a running real vLLM (CPU build, tiny Mistral): publish, answer through the
app's client, switch versions under concurrent load with zero failed requests, roll back, retire; and
refuse a corrupt adapter or one above the server's rank limit while serving continues."""

from __future__ import annotations

import threading
import time

import pytest

from rag.backends.openai_llm import OpenAICompatibleLLM
from rag.protocols import ChatMessage
from ragloop.processes import wait_for
from ragloop.tiny_model import build_tiny_lora
from serving.publish import Publisher, PublishError
from serving.registry import AdapterRejected, LocalAdapterRegistry
from serving.routing import choose_adapter
from serving.vllm_admin import VLLMAdmin

pytestmark = pytest.mark.slow
MAX_RANK = 16  # the session's vLLM runs with --max-lora-rank 16


@pytest.fixture(scope="module")
def adapters(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return {
        "v1": build_tiny_lora(tiny_model_dir, root / "v1", rank=8, seed=1, name="support"),
        "v2": build_tiny_lora(tiny_model_dir, root / "v2", rank=8, seed=2, name="support"),
        "big": build_tiny_lora(tiny_model_dir, root / "big", rank=32, seed=3, name="support"),
    }


@pytest.fixture
def publisher(vllm_server, tmp_path):
    admin = VLLMAdmin(vllm_server.base_url)
    pub = Publisher(LocalAdapterRegistry(tmp_path / "registry"), admin, max_rank=MAX_RANK)
    yield pub
    for name in admin.served_adapters():
        admin.unload(name)
    admin.close()


def ask(llm: OpenAICompatibleLLM, adapter: str | None) -> str:
    return "".join(
        llm.stream_chat(
            [ChatMessage("user", "How long does charging take?")],
            adapter=adapter,
            max_tokens=8,
            temperature=0.0,
        )
    )


def test_publish_answer_switch_under_load_rollback_retire(publisher, adapters, vllm_server):
    llm = OpenAICompatibleLLM(vllm_server.base_url, timeout_s=60)
    base_text = ask(llm, None)

    v1 = publisher.publish(adapters["v1"], weight=1.0)
    assert v1.served_name == "support-v1"
    state = publisher.registry.state()
    assert choose_adapter("any-session", state) == "support-v1"
    v1_text = ask(llm, "support-v1")
    assert v1_text != base_text

    results: list[tuple[float, str | None, str]] = []  # (when the request was routed, adapter, text)
    errors: list[Exception] = []
    stop = threading.Event()

    def client(n: int) -> None:
        while not stop.is_set():
            routed_at = time.monotonic()
            adapter = choose_adapter(f"session-{n}", publisher.registry.state())
            try:
                results.append((routed_at, adapter, ask(llm, adapter)))
            except Exception as err:  # any failure at all counts
                errors.append(err)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(results) >= 8 or errors, "8 answers from v1 under load", timeout_s=120)
        publisher.publish(adapters["v2"], weight=1.0)
        switched_at = time.monotonic()  # the state names v2 from here on

        def late() -> list[tuple[str | None, str]]:
            return [(adapter, text) for at, adapter, text in list(results) if at > switched_at]

        wait_for(lambda: len(late()) >= 8 or errors, "8 answers routed after the switch", timeout_s=120)
    finally:
        stop.set()
        for t in threads:
            t.join(60)

    assert errors == []
    assert any(adapter == "support-v1" for at, adapter, _ in results if at < switched_at)
    v2_text = ask(llm, "support-v2")
    assert v2_text != v1_text
    assert late() and all(adapter == "support-v2" and text == v2_text for adapter, text in late())
    assert {"support-v1", "support-v2"} <= VLLMAdmin(vllm_server.base_url).served_adapters()

    assert publisher.rollback("support") == 1
    assert choose_adapter("any-session", publisher.registry.state()) == "support-v1"
    assert ask(llm, "support-v1") == v1_text

    publisher.retire("support")
    assert choose_adapter("any-session", publisher.registry.state()) is None
    assert not publisher.admin.served_adapters()
    assert ask(llm, None) == base_text


def test_corrupt_adapter_is_refused_and_serving_continues(publisher, adapters, vllm_server, tmp_path):
    import shutil

    publisher.publish(adapters["v1"])
    broken = tmp_path / "broken"
    shutil.copytree(adapters["v1"], broken)
    (broken / "adapter_model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(AdapterRejected, match="corrupt adapter weights"):
        publisher.publish(broken)
    no_weights = tmp_path / "no-weights"
    shutil.copytree(adapters["v1"], no_weights)
    (no_weights / "adapter_model.safetensors").unlink()
    with pytest.raises(AdapterRejected, match="has no adapter weights"):
        publisher.publish(no_weights)
    state = publisher.registry.state()
    assert state.adapters["support"].live == 1
    assert ask(OpenAICompatibleLLM(vllm_server.base_url), "support-v1")


def test_rank_above_the_server_maximum_is_refused(publisher, adapters):
    with pytest.raises(AdapterRejected, match="LoRA rank 32 is above the server's maximum of 16"):
        publisher.publish(adapters["big"])
    assert publisher.registry.state().adapters == {}


def test_server_refusal_leaves_the_previous_state(publisher, adapters, vllm_server):
    publisher.publish(adapters["v1"])
    unchecked = Publisher(publisher.registry, publisher.admin, max_rank=None)  # skip our own rank check
    with pytest.raises(PublishError, match="nothing changed"):
        unchecked.publish(adapters["big"])  # vLLM itself refuses rank 32 > --max-lora-rank 16
    assert publisher.registry.state().adapters["support"].live == 1
    assert "support-v2" not in publisher.admin.served_adapters()


def test_reload_live_after_a_restart(publisher, adapters):
    publisher.publish(adapters["v1"])
    publisher.promote("support")
    publisher.admin.unload("support-v1")  # as if the server had restarted
    assert publisher.reload_live() == ["support-v1"]
    assert "support-v1" in publisher.admin.served_adapters()


def test_s3_registry_publish_restart_and_rollback(vllm_server, adapters, s3_server, tmp_path):
    """The production registry: versions live in a bucket; a restarted server (fresh cache, another
    host) re-loads the live adapter from S3; rollback returns to v1 — no vLLM restart anywhere."""
    from serving.s3_registry import S3AdapterRegistry

    def registry(host: str) -> S3AdapterRegistry:
        return s3_server.registry(tmp_path / host, bucket="hot-load", prefix="prod/adapters")

    admin = VLLMAdmin(vllm_server.base_url)
    llm = OpenAICompatibleLLM(vllm_server.base_url, timeout_s=60)
    try:
        publisher = Publisher(registry("host-a"), admin, max_rank=MAX_RANK)
        assert publisher.publish(adapters["v1"]).served_name == "support-v1"
        v1_text = ask(llm, "support-v1")
        assert publisher.publish(adapters["v2"]).served_name == "support-v2"
        v2_text = ask(llm, "support-v2")
        assert v2_text != v1_text

        for name in admin.served_adapters():  # as if the server had restarted
            admin.unload(name)
        restarted = Publisher(registry("host-b"), admin, max_rank=MAX_RANK)
        assert restarted.reload_live() == ["support-v2"]
        assert ask(llm, "support-v2") == v2_text
        assert (tmp_path / "host-b").is_dir()  # loaded from its own copy of the bucket's files

        assert restarted.rollback("support") == 1  # v1 is not loaded any more: rollback loads it
        assert choose_adapter("any-session", restarted.registry.state()) == "support-v1"
        assert ask(llm, "support-v1") == v1_text
    finally:
        for name in admin.served_adapters():
            admin.unload(name)
        admin.close()


def test_cli_reload_brings_a_replica_up_to_the_shared_s3_registry(
    vllm_server, adapters, s3_registry_env, tmp_path, monkeypatch
):
    """`ragloop adapters reload --llm-url` on a replica (here: the same server after an unload) loads
    the live version that another machine published into the shared bucket."""
    from typer.testing import CliRunner

    from core.settings import Settings, get_settings
    from ragloop.cli import app
    from serving.registry import open_registry

    admin = VLLMAdmin(vllm_server.base_url)
    try:
        publishing_host = open_registry(Settings(data_dir=tmp_path / "publisher"))
        Publisher(publishing_host, admin, max_rank=MAX_RANK).publish(adapters["v1"])
        admin.unload("support-v1")

        monkeypatch.setenv("RAGLOOP_DATA_DIR", str(tmp_path / "replica"))
        get_settings.cache_clear()
        result = CliRunner().invoke(app, ["adapters", "reload", "--llm-url", vllm_server.base_url])
        assert result.exit_code == 0, result.output
        assert "support-v1" in result.output
        assert "support-v1" in admin.served_adapters()
        assert (tmp_path / "replica" / "adapter-cache").is_dir()  # the replica's own copy
    finally:
        get_settings.cache_clear()
        for name in admin.served_adapters():
            admin.unload(name)
        admin.close()


def test_registry_failure_after_loading_unloads_and_changes_nothing(
    vllm_server, adapters, s3_server, tmp_path
):
    """The state write is the commit point: if it fails (here: a registry allowed no write attempts,
    as if S3 refused every one), the new version is unloaded and traffic never moved."""
    from serving.s3_registry import S3AdapterRegistry

    def registry(update_attempts: int) -> S3AdapterRegistry:
        return s3_server.registry(tmp_path, bucket="commit-point", update_attempts=update_attempts)

    admin = VLLMAdmin(vllm_server.base_url)
    try:
        Publisher(registry(20), admin, max_rank=MAX_RANK).publish(adapters["v1"])
        failing = Publisher(registry(0), admin, max_rank=MAX_RANK)
        with pytest.raises(PublishError, match="support v2 failed, nothing changed"):
            failing.publish(adapters["v2"])
        assert admin.served_adapters() == {"support-v1"}
        assert choose_adapter("any-session", registry(20).state()) == "support-v1"
    finally:
        for name in admin.served_adapters():
            admin.unload(name)
        admin.close()
