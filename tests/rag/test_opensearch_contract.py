"""OpenSearch contract tests: the exact HTTP requests the store sends, through the real opensearch-py
client. No OpenSearch server can be installed on this machine, so the transport's connection records
requests and replies with responses shaped as the OpenSearch docs show. The conformance suite covers
behaviour against a real cluster when OPENSEARCH_URL is set."""

from __future__ import annotations

import gzip
import json
from typing import ClassVar

import numpy as np
import pytest
from opensearchpy import Connection, OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError

from core.settings import OpenSearchSettings
from rag.backends.opensearch_store import OpenSearchVectorStore, make_client
from rag.errors import BackendUnavailable
from rag.protocols import Chunk


class RecordingConnection(Connection):
    requests: ClassVar[list[dict]] = []
    responses: ClassVar[dict[tuple[str, str], dict | list[dict]]] = {}
    down = False

    def perform_request(self, method, url, params=None, body=None, timeout=None, ignore=(), headers=None):
        if RecordingConnection.down:
            raise OSConnectionError("N/A", "connection refused", Exception("refused"))
        if isinstance(body, bytes) and body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        text = body.decode() if isinstance(body, bytes) else body
        path = url.split("?")[0]
        params = {k: v.decode() if isinstance(v, bytes) else v for k, v in (params or {}).items()}
        RecordingConnection.requests.append({"method": method, "path": path, "params": params, "body": text})
        for (m, prefix), payload in RecordingConnection.responses.items():
            if m == method and path.startswith(prefix):
                if isinstance(payload, list):  # successive responses, one per request
                    payload = payload.pop(0)
                return 200, {"content-type": "application/json"}, json.dumps(payload)
        if method == "HEAD":
            return 404, {}, ""
        return 200, {"content-type": "application/json"}, json.dumps({"acknowledged": True})


@pytest.fixture
def recorded():
    RecordingConnection.requests = []
    RecordingConnection.responses = {}
    RecordingConnection.down = False
    client = OpenSearch(hosts=["http://search.test:9200"], connection_class=RecordingConnection)
    store = OpenSearchVectorStore(
        client, index="chunks", dim=4, pipeline="hyb", hybrid_weight=0.7, candidates=20
    )
    return store, RecordingConnection


def body_of(req):
    return json.loads(req["body"])


def chunk(i, source="a.pdf"):
    return Chunk(f"c{i}", f"text {i}", source, 2, 0, 6, f"h{i}", "fh")


def test_first_use_creates_knn_index_and_hybrid_pipeline(recorded):
    store, conn = recorded
    store.ensure_index()
    head, create, pipeline = conn.requests
    assert (head["method"], head["path"]) == ("HEAD", "/chunks")
    assert (create["method"], create["path"]) == ("PUT", "/chunks")
    body = body_of(create)
    assert body["settings"]["index"]["knn"] is True
    vector = body["mappings"]["properties"]["vector"]
    assert vector["type"] == "knn_vector" and vector["dimension"] == 4
    assert vector["method"]["name"] == "hnsw" and vector["method"]["space_type"] == "cosinesimil"
    assert body["mappings"]["properties"]["source"] == {"type": "keyword"}
    assert (pipeline["method"], pipeline["path"]) == ("PUT", "/_search/pipeline/hyb")
    proc = body_of(pipeline)["phase_results_processors"][0]["normalization-processor"]
    assert proc["normalization"]["technique"] == "min_max"
    assert proc["combination"] == {"technique": "arithmetic_mean", "parameters": {"weights": [0.7, 0.3]}}
    store.ensure_index()
    assert len(conn.requests) == 3  # idempotent: nothing sent again


def test_add_sends_one_bulk_request_with_ids_and_vectors(recorded):
    store, conn = recorded
    conn.responses[("POST", "/_bulk")] = {
        "took": 1,
        "errors": False,
        "items": [{"index": {"_id": "c1", "status": 201}}, {"index": {"_id": "c2", "status": 201}}],
    }
    store.add([chunk(1), chunk(2)], np.eye(4, dtype=np.float32)[:2])
    bulk = conn.requests[-1]
    assert (bulk["method"], bulk["path"]) == ("POST", "/_bulk")
    assert bulk["params"].get("refresh") == "wait_for"
    lines = [json.loads(line) for line in bulk["body"].strip().split("\n")]
    assert lines[0] == {"index": {"_index": "chunks", "_id": "c1"}}
    assert lines[1]["vector"] == [1.0, 0.0, 0.0, 0.0] and lines[1]["source"] == "a.pdf"
    assert lines[1]["page"] == 2 and lines[1]["content_hash"] == "h1"
    assert lines[2] == {"index": {"_index": "chunks", "_id": "c2"}}


def test_hybrid_search_uses_pipeline_and_filters(recorded):
    store, conn = recorded
    conn.responses[("POST", "/chunks/_search")] = {
        "hits": {"hits": [{"_id": "c1", "_score": 0.9, "_source": chunk(1).to_dict()}]}
    }
    hits = store.search(np.ones(4), text="battery range", k=3, filters={"source": ["a.pdf", "b.md"]})
    req = conn.requests[-1]
    assert (req["method"], req["path"]) == ("POST", "/chunks/_search")
    assert req["params"]["search_pipeline"] == "hyb"
    body = body_of(req)
    assert body["size"] == 3
    dense, keyword = body["query"]["hybrid"]["queries"]
    assert dense["knn"]["vector"]["vector"] == [1.0, 1.0, 1.0, 1.0]
    assert dense["knn"]["vector"]["k"] == 20
    assert dense["knn"]["vector"]["filter"] == {
        "bool": {"filter": [{"terms": {"source": ["a.pdf", "b.md"]}}]}
    }
    assert keyword["bool"]["must"] == [{"match": {"text": {"query": "battery range"}}}]
    assert keyword["bool"]["filter"] == [{"terms": {"source": ["a.pdf", "b.md"]}}]
    assert hits[0].chunk == chunk(1) and hits[0].score == 0.9


def test_dense_only_search_is_a_plain_knn_query(recorded):
    store, conn = recorded
    conn.responses[("POST", "/chunks/_search")] = {"hits": {"hits": []}}
    store.search(np.zeros(4), k=2, filters={"page": 3})
    req = conn.requests[-1]
    assert "search_pipeline" not in req["params"]
    knn = body_of(req)["query"]["knn"]["vector"]
    assert knn["k"] == 2 and knn["filter"] == {"bool": {"filter": [{"term": {"page": 3}}]}}


def test_delete_source_is_a_delete_by_query_on_the_keyword(recorded):
    store, conn = recorded
    conn.responses[("POST", "/chunks/_delete_by_query")] = {"deleted": 7}
    assert store.delete_source("a.pdf") == 7
    req = conn.requests[-1]
    assert body_of(req) == {"query": {"term": {"source": "a.pdf"}}}
    assert req["params"]["refresh"] in ("true", True)


def test_sources_page_through_a_composite_aggregation(recorded):
    store, conn = recorded
    conn.responses[("POST", "/chunks/_search")] = [
        {
            "aggregations": {
                "files": {
                    "buckets": [{"key": {"source": "a.pdf", "file_hash": "h1"}}],
                    "after_key": {"source": "a.pdf", "file_hash": "h1"},
                }
            }
        },
        {
            "aggregations": {
                "files": {
                    "buckets": [{"key": {"source": "b.md", "file_hash": "h2"}}],
                    "after_key": {"source": "b.md", "file_hash": "h2"},
                }
            }
        },
        {"aggregations": {"files": {"buckets": []}}},
    ]
    assert store.sources() == {"a.pdf": "h1", "b.md": "h2"}
    searches = [body_of(r) for r in conn.requests if r["path"] == "/chunks/_search"]
    assert "after" not in searches[0]["aggs"]["files"]["composite"]
    assert searches[1]["aggs"]["files"]["composite"]["after"] == {"source": "a.pdf", "file_hash": "h1"}


def test_unreachable_cluster_is_a_clear_error(recorded):
    store, conn = recorded
    conn.down = True
    with pytest.raises(BackendUnavailable, match="OpenSearch is unreachable"):
        store.search(np.ones(4), text="x", k=1)


def test_client_uses_basic_auth(monkeypatch):
    client = make_client(OpenSearchSettings(url="https://os.test:9200", username="u", password="p"))
    assert client.transport.kwargs["http_auth"] == ("u", "p")
    assert client.transport.max_retries == 3 and client.transport.retry_on_timeout


def test_client_signs_requests_with_sigv4_from_boto3_credentials(monkeypatch):
    import requests

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = make_client(
        OpenSearchSettings(url="https://search-x.eu-west-1.es.amazonaws.com", aws_sigv4=True)
    )
    auth = client.transport.kwargs["http_auth"]
    prepared = requests.Request(
        "GET", "https://search-x.eu-west-1.es.amazonaws.com/_cluster/health"
    ).prepare()
    signed = auth(prepared)
    assert signed.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/")
    assert "/eu-west-1/es/aws4_request" in signed.headers["Authorization"]


def test_sections_are_mapped_stored_and_returned(recorded):
    store, conn = recorded
    store.ensure_index()
    section = body_of(conn.requests[1])["mappings"]["properties"]["section"]
    assert section["type"] == "text" and section["fields"]["keyword"]["type"] == "keyword"
    with_section = Chunk("c9", "Title › Part\n\nbody", "a.md", None, 0, 4, "h9", "fh", "Title › Part")
    old = chunk(1).to_dict()
    del old["section"]  # indexed before chunks carried a section
    conn.responses[("POST", "/chunks/_search")] = {
        "hits": {
            "hits": [
                {"_id": "c9", "_score": 2.0, "_source": with_section.to_dict()},
                {"_id": "c1", "_score": 1.0, "_source": old},
            ]
        }
    }
    hits = store.search(np.ones(4), text="part", k=2)
    assert "section" in body_of(conn.requests[-1])["_source"]["includes"]
    assert [h.chunk for h in hits] == [with_section, chunk(1)]


def test_the_index_version_lives_in_the_mapping_meta(recorded):
    store, conn = recorded
    store.set_index_version({"chunker": "structure-v1/240/30", "embedding_model": "all-MiniLM-L6-v2"})
    put = conn.requests[-1]
    assert (put["method"], put["path"]) == ("PUT", "/chunks/_mapping")
    assert body_of(put) == {
        "_meta": {
            "ragloop_index_version": {"chunker": "structure-v1/240/30", "embedding_model": "all-MiniLM-L6-v2"}
        }
    }
    conn.responses[("GET", "/chunks/_mapping")] = {
        "chunks": {"mappings": {"_meta": {"ragloop_index_version": {"chunker": "x", "embedding_model": "y"}}}}
    }
    assert store.index_version() == {"chunker": "x", "embedding_model": "y"}
    conn.responses[("GET", "/chunks/_mapping")] = {"chunks": {"mappings": {"properties": {}}}}
    assert store.index_version() is None
