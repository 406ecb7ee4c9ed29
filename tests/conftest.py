"""Shared fixtures: real components only — the packaged embedding model, a tiny random Mistral, and a
real vLLM (CPU build) server on an ephemeral 127.0.0.1 port, started once per session and stopped."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DEMO_CORPUS = REPO / "demo" / "corpus"


@pytest.fixture(scope="session")
def embedder():
    from core.settings import default_embedding_model
    from rag.embeddings import get_embedder

    return get_embedder(default_embedding_model())


@pytest.fixture(scope="session")
def chunker(embedder):
    from rag.chunking import Chunker

    return Chunker(embedder.tokenizer, chunk_tokens=120, overlap_tokens=20)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A private, writable copy of the demo corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(DEMO_CORPUS, target)
    return target


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from ragloop.tiny_model import build_tiny_mistral

    return build_tiny_mistral(tmp_path_factory.mktemp("tiny-mistral"))


@pytest.fixture(scope="session")
def vllm_server(tiny_model_dir, tmp_path_factory):
    """Real vLLM serving the tiny Mistral with runtime LoRA loading on."""
    from ragloop.serve import VLLMServer

    log_file = tmp_path_factory.mktemp("vllm") / "vllm.log"
    server = VLLMServer(tiny_model_dir, dtype="float32", max_lora_rank=16, log_file=log_file)
    try:
        server.start(timeout_s=600)
    except Exception:
        logging.getLogger(__name__).error("vLLM log:\n%s", log_file.read_text()[-5000:])
        raise
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dynamodb_local():
    """Real DynamoDB Local (AWS's jar on Java), in memory, on an ephemeral 127.0.0.1 port."""
    from ragloop.dynamodb_local import DynamoDBLocal, find_jar_dir

    if find_jar_dir() is None:
        pytest.fail("DynamoDB Local is not installed: run `make deps` (the README's test command does)")
    with DynamoDBLocal() as server:
        yield server


@pytest.fixture(scope="session")
def s3_server():
    """An S3-API server (moto's standalone server) on an ephemeral 127.0.0.1 port."""
    from tests.s3_server import S3Server

    with S3Server() as server:
        yield server


@pytest.fixture
def s3_registry_env(monkeypatch, s3_server, tmp_path):
    """Point the settings at an S3 registry in a fresh bucket; returns ``live(name, method, weight)``,
    which stores a manifest-only version of ``name`` and makes it live."""
    from core.manifest import AdapterManifest
    from core.settings import get_settings
    from serving.registry import AdapterState, open_registry

    bucket = f"registry-env-{tmp_path.name.lower().replace('_', '-')}"[:63].rstrip("-")
    for key, value in {
        "KIND": "s3",
        "S3__BUCKET": bucket,
        "S3__ENDPOINT_URL": s3_server.endpoint_url,
        "S3__CREATE_BUCKET": "true",
    }.items():
        monkeypatch.setenv(f"RAGLOOP_REGISTRY__{key}", value)
    get_settings.cache_clear()

    def live(name: str, method: str = "sft", weight: float = 1.0):
        source = tmp_path / f"manifest-only-{name}"
        source.mkdir()
        AdapterManifest(name=name, base_model="tiny", method=method, lora_rank=4).write(source)
        registry = open_registry(get_settings())
        v = registry.add(source, name)
        registry.update(
            lambda s: s.adapters.update({name: AdapterState(versions=[v], live=v, weight=weight)})
        )
        return registry

    live.bucket = bucket
    yield live
    get_settings.cache_clear()


@pytest.fixture
def no_aws_credentials(monkeypatch, tmp_path):
    """No AWS credentials anywhere boto3 looks (env, config files, instance metadata)."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def _dummy_aws_credentials(monkeypatch):
    """boto3 needs some credentials for DynamoDB Local; never real ones in tests."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
