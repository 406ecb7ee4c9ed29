"""The adapter registry, local directory and S3 (boto3 against an S3-API server), held to one contract:
versions are claimed once and never reused, files arrive whole (without training checkpoints),
concurrent state changes lose nothing, and every version has a local directory vLLM can load."""

from __future__ import annotations

import threading

import pytest

from core.manifest import AdapterManifest
from core.settings import Settings
from serving.registry import (
    AdapterState,
    LocalAdapterRegistry,
    RegistryError,
    ServingState,
    open_registry,
)
from serving.s3_registry import S3AdapterRegistry
from tests.s3_server import unreachable_registry


def make_s3(s3_server, tmp_path, **kwargs) -> S3AdapterRegistry:
    return s3_server.registry(tmp_path / "cache", prefix="team/adapters", **kwargs)


@pytest.fixture(params=["local", "s3"])
def registry(request, tmp_path):
    if request.param == "local":
        return LocalAdapterRegistry(tmp_path / "registry")
    return make_s3(request.getfixturevalue("s3_server"), tmp_path)


@pytest.fixture
def adapter(tmp_path):
    source = tmp_path / "adapter"
    (source / "checkpoints" / "checkpoint-2").mkdir(parents=True)
    (source / "checkpoints" / "checkpoint-2" / "optimizer.pt").write_bytes(b"big optimizer state")
    (source / "adapter_config.json").write_text('{"r": 8}')
    (source / "adapter_model.safetensors").write_bytes(b"\0" * 1024)
    (source / "training_curves.png").write_bytes(b"png")
    AdapterManifest(name="support", base_model="tiny", method="sft", lora_rank=8).write(source)
    return source


def test_versions_count_up_and_files_arrive_without_checkpoints(registry, adapter):
    assert registry.add(adapter, "support") == 1
    assert registry.add(adapter, "support") == 2
    assert registry.add(adapter, "other") == 1
    local = registry.path("support", 2)
    files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
    assert files == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "manifest.json",
        "training_curves.png",
    ]
    assert (local / "adapter_model.safetensors").read_bytes() == b"\0" * 1024
    manifest = registry.manifest("support", 2)
    assert (manifest.name, manifest.method, manifest.lora_rank) == ("support", "sft", 8)


def test_a_claimed_version_is_never_reused(registry, adapter):
    # v1 was claimed by a publish that failed later (never reached the state): the next one is v2
    assert registry.add(adapter, "support") == 1
    assert registry.state().adapters == {}
    assert registry.add(adapter, "support") == 2


def test_state_starts_empty_and_update_returns_what_the_change_returns(registry):
    assert registry.state() == ServingState()

    def go_live(state: ServingState) -> str:
        state.adapters["support"] = AdapterState(versions=[1], live=1, weight=0.5)
        return "done"

    assert registry.update(go_live) == "done"
    assert registry.state().adapters["support"].weight == 0.5


def test_concurrent_state_changes_lose_nothing(registry):
    def worker(n: int) -> None:
        for i in range(4):

            def change(state: ServingState, n=n, i=i) -> None:
                state.adapters.setdefault("shared", AdapterState()).versions.append(n * 10 + i)
                state.adapters[f"own-{n}"] = AdapterState(versions=[i])

            registry.update(change)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    state = registry.state()
    assert sorted(state.adapters["shared"].versions) == sorted(n * 10 + i for n in range(6) for i in range(4))
    assert all(state.adapters[f"own-{n}"].versions == [3] for n in range(6))


def test_concurrent_publishers_claim_distinct_versions(registry, adapter):
    claimed: list[int] = []
    threads = [
        threading.Thread(target=lambda: claimed.append(registry.add(adapter, "support"))) for _ in range(5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == [1, 2, 3, 4, 5]


def test_missing_manifest_is_a_file_not_found(registry):
    with pytest.raises(FileNotFoundError):
        registry.manifest("nothing", 1)


# ---- S3 only --------------------------------------------------------------------------------------


def test_s3_layout_under_the_prefix(s3_server, tmp_path, adapter):
    registry = make_s3(s3_server, tmp_path)
    registry.add(adapter, "support")
    registry.update(lambda s: s.adapters.setdefault("support", AdapterState(versions=[1], live=1)))
    keys = sorted(o["Key"] for o in registry._list("")[0])
    assert keys == [
        "team/adapters/state.json",
        "team/adapters/support/v1/adapter_config.json",
        "team/adapters/support/v1/adapter_model.safetensors",
        "team/adapters/support/v1/manifest.json",
        "team/adapters/support/v1/training_curves.png",
    ]


def test_s3_versions_download_once_and_again_on_a_fresh_host(s3_server, tmp_path, adapter):
    registry = make_s3(s3_server, tmp_path / "host-a", bucket="shared-registry")
    registry.add(adapter, "support")
    first = registry.path("support", 1)
    (first / "marker").write_text("cached")  # a second call must reuse the copy, not download again
    assert registry.path("support", 1) == first and (first / "marker").exists()
    # a restarted server on another host with an empty cache gets the same files from the bucket
    other = make_s3(s3_server, tmp_path / "host-b", bucket="shared-registry")
    copy = other.path("support", 1)
    assert copy != first and not (copy / "marker").exists()
    weights = "adapter_model.safetensors"
    assert (copy / weights).read_bytes() == (first / weights).read_bytes()
    assert not [p for p in copy.parent.iterdir() if p.name.startswith(".")]  # no partial downloads left


def test_s3_unknown_version_is_a_file_not_found(s3_server, tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no adapter"):
        make_s3(s3_server, tmp_path).path("support", 7)


def test_s3_missing_bucket_is_a_clear_error(s3_server, tmp_path):
    registry = make_s3(s3_server, tmp_path, bucket="no-such-bucket", create_bucket=False)
    with pytest.raises(RegistryError, match=r"no-such-bucket.*NoSuchBucket"):
        registry.state()


def test_s3_unreachable_endpoint_is_a_clear_error(tmp_path):
    with pytest.raises(RegistryError, match="unreachable"):
        unreachable_registry(tmp_path / "cache").state()


def test_settings_choose_the_registry(s3_server, tmp_path):
    local = Settings(data_dir=tmp_path / "data")
    assert isinstance(open_registry(local), LocalAdapterRegistry)
    s3 = Settings(
        data_dir=tmp_path / "data",
        registry={
            "kind": "s3",
            "s3": {"bucket": "from-settings", "endpoint_url": s3_server.endpoint_url, "create_bucket": True},
        },
    )
    registry = open_registry(s3)
    assert isinstance(registry, S3AdapterRegistry) and registry.prefix == "ragloop/adapters"
    assert registry.cache_dir == tmp_path / "data" / "adapter-cache"
    assert registry.state() == ServingState()
    with pytest.raises(RegistryError, match="no bucket is set"):
        open_registry(Settings(data_dir=tmp_path / "data", registry={"kind": "s3"}))


def test_s3_missing_credentials_are_named(s3_server, tmp_path, no_aws_credentials):
    with pytest.raises(RegistryError, match="no AWS credentials"):
        make_s3(s3_server, tmp_path, create_bucket=False).state()
