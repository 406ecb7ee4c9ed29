"""Routing: sticky per session, honours weights, ignores retired adapters; the router's view of the
state is re-read every few seconds and outlives a registry outage."""

from __future__ import annotations

from serving.registry import AdapterState, ServingState
from serving.routing import RoutingState, choose_adapter


def state(**adapters: AdapterState) -> ServingState:
    return ServingState(adapters=adapters)


def test_no_adapters_means_base():
    assert choose_adapter("s1", ServingState()) is None


def test_choice_is_sticky_per_session():
    s = state(a=AdapterState(versions=[1], live=1, weight=0.5))
    assert {choose_adapter("session-42", s) for _ in range(20)} == {choose_adapter("session-42", s)}


def test_weights_split_sessions():
    s = state(a=AdapterState(versions=[1], live=1, weight=0.3))
    chosen = [choose_adapter(f"session-{i}", s) for i in range(4000)]
    share = chosen.count("a-v1") / len(chosen)
    assert 0.27 < share < 0.33 and set(chosen) == {"a-v1", None}


def test_weights_over_one_are_normalised_and_retired_adapters_get_nothing():
    s = state(
        a=AdapterState(versions=[1], live=1, weight=1.0),
        b=AdapterState(versions=[2], live=2, weight=1.0),
        c=AdapterState(versions=[1], live=1, weight=1.0, retired=True),
    )
    chosen = [choose_adapter(f"s{i}", s) for i in range(2000)]
    assert set(chosen) == {"a-v1", "b-v2"}
    assert 0.45 < chosen.count("a-v1") / 2000 < 0.55


def test_served_names_parse_back_to_name_and_version():
    from serving.registry import parse_served_name, served_name

    assert parse_served_name(served_name("support-v2-fix", 12)) == ("support-v2-fix", 12)
    assert parse_served_name("qwen2.5-coder-0.5b-instruct") is None and parse_served_name("-v3") is None


def live(name: str, version: int) -> ServingState:
    return ServingState(adapters={name: AdapterState(versions=[version], live=version, weight=1.0)})


def test_routing_state_rereads_after_its_ttl_and_survives_an_s3_outage(tmp_path):
    from tests.s3_server import S3Server

    clock = [100.0]
    with S3Server() as s3:  # its own server: this test takes it down
        registry = s3.registry(tmp_path, max_attempts=1)
        registry.save_state(live("a", 1))
        routing = RoutingState(registry, ttl_s=5, clock=lambda: clock[0])
        assert choose_adapter("s", routing.get()) == "a-v1"
        registry.save_state(live("a", 2))
        assert choose_adapter("s", routing.get()) == "a-v1"  # within the TTL: no read
        clock[0] += 5
        assert choose_adapter("s", routing.get()) == "a-v2"
    # the S3 server is gone
    clock[0] += 5
    assert choose_adapter("s", routing.get()) == "a-v2"  # the last state read keeps serving


def test_routing_state_from_an_unreachable_s3_registry_routes_to_base(tmp_path):
    from tests.s3_server import unreachable_registry

    assert choose_adapter("s", RoutingState(unreachable_registry(tmp_path)).get()) is None
