"""The production ``VectorStore``: OpenSearch with the k-NN plugin (self-managed or Amazon OpenSearch).

- Index: ``knn_vector`` field (HNSW, cosine similarity, Lucene engine so metadata filters are applied
  during the graph search), keyword metadata fields and an analysed ``text`` field for BM25.
- Hybrid search: a ``hybrid`` query (k-NN + match) run through a search pipeline whose
  ``normalization-processor`` min-max normalises both score lists and combines them with weights, the
  same blend the embedded store computes.
- Writes go through the bulk helper; auth is basic auth or AWS SigV4 with boto3's credential chain;
  the client retries timeouts and connection errors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from rag.errors import BackendUnavailable
from rag.protocols import FILTERABLE_FIELDS, Chunk, Filters, SearchHit

log = logging.getLogger(__name__)

_META_FIELDS = ("chunk_id", "text", "source", "page", "start", "end", "content_hash", "file_hash", "section")
VERSION_KEY = "ragloop_index_version"  # in the index mapping's _meta


def index_body(dim: int, m: int = 16, ef_construction: int = 128, ef_search: int = 100) -> dict[str, Any]:
    """Settings and mappings of the chunk index."""
    return {
        "settings": {"index": {"knn": True, "knn.algo_param.ef_search": ef_search}},
        "mappings": {
            "properties": {
                "chunk_id": {"type": "keyword"},
                "text": {"type": "text"},
                "source": {"type": "keyword"},
                "page": {"type": "integer"},
                "start": {"type": "integer"},
                "end": {"type": "integer"},
                "content_hash": {"type": "keyword"},
                "file_hash": {"type": "keyword"},
                "section": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}},
                "vector": {
                    "type": "knn_vector",
                    "dimension": dim,
                    "method": {
                        "name": "hnsw",
                        "space_type": "cosinesimil",
                        "engine": "lucene",
                        "parameters": {"m": m, "ef_construction": ef_construction},
                    },
                },
            }
        },
    }


def pipeline_body(hybrid_weight: float) -> dict[str, Any]:
    """Search pipeline that normalises and blends the hybrid query's two score lists."""
    return {
        "description": "ragloop hybrid: min-max normalised dense + BM25, weighted mean",
        "phase_results_processors": [
            {
                "normalization-processor": {
                    "normalization": {"technique": "min_max"},
                    "combination": {
                        "technique": "arithmetic_mean",
                        "parameters": {"weights": [hybrid_weight, round(1.0 - hybrid_weight, 6)]},
                    },
                }
            }
        ],
    }


def filter_clause(filters: Filters | None) -> list[dict[str, Any]]:
    clauses = []
    for field_name, value in (filters or {}).items():
        if field_name not in FILTERABLE_FIELDS:
            raise ValueError(f"cannot filter on {field_name!r}; filterable: {sorted(FILTERABLE_FIELDS)}")
        if isinstance(value, list | tuple | set | frozenset):
            clauses.append({"terms": {field_name: list(value)}})
        else:
            clauses.append({"term": {field_name: value}})
    return clauses


def search_body(
    vector: Sequence[float], text: str | None, k: int, filters: Filters | None, candidates: int
) -> dict[str, Any]:
    """The query for one search: k-NN alone, or hybrid k-NN + BM25 when ``text`` is given."""
    clauses = filter_clause(filters)
    knn: dict[str, Any] = {"vector": list(map(float, vector)), "k": max(k, candidates) if text else k}
    if clauses:
        knn["filter"] = {"bool": {"filter": clauses}}
    dense = {"knn": {"vector": knn}}
    source_fields = {"includes": list(_META_FIELDS)}
    if not text:
        return {"size": k, "_source": source_fields, "query": dense}
    keyword: dict[str, Any] = {"bool": {"must": [{"match": {"text": {"query": text}}}]}}
    if clauses:
        keyword["bool"]["filter"] = clauses
    return {"size": k, "_source": source_fields, "query": {"hybrid": {"queries": [dense, keyword]}}}


def make_client(settings) -> Any:
    """An ``OpenSearch`` client from ``OpenSearchSettings`` (basic auth or SigV4)."""
    from opensearchpy import OpenSearch, RequestsHttpConnection

    kwargs: dict[str, Any] = {
        "hosts": [settings.url],
        "verify_certs": settings.verify_certs,
        "timeout": settings.timeout_s,
        "max_retries": settings.max_retries,
        "retry_on_timeout": True,
        "http_compress": True,
    }
    if settings.aws_sigv4:
        import boto3
        from opensearchpy import AWSV4SignerAuth

        session = boto3.Session()
        credentials = session.get_credentials()
        if credentials is None:
            raise BackendUnavailable("OpenSearch SigV4 is on but boto3 finds no AWS credentials")
        region = settings.aws_region or session.region_name
        kwargs["http_auth"] = AWSV4SignerAuth(credentials, region, settings.aws_service)
        kwargs["connection_class"] = RequestsHttpConnection
    elif settings.username:
        password = settings.password.get_secret_value() if settings.password else ""
        kwargs["http_auth"] = (settings.username, password)
    return OpenSearch(**kwargs)


class OpenSearchVectorStore:
    def __init__(
        self,
        client: Any,
        index: str,
        dim: int,
        *,
        pipeline: str = "ragloop-hybrid",
        hybrid_weight: float = 0.6,
        candidates: int = 50,
        hnsw_m: int = 16,
        ef_construction: int = 128,
        ef_search: int = 100,
        refresh: bool | str = "wait_for",
    ) -> None:
        self.client = client
        self.index = index
        self.dim = dim
        self.pipeline = pipeline
        self.hybrid_weight = hybrid_weight
        self.candidates = candidates
        self.refresh = refresh
        self._index_body = index_body(dim, hnsw_m, ef_construction, ef_search)
        self._ensured = False

    @classmethod
    def from_settings(cls, settings, dim: int, index: str | None = None) -> OpenSearchVectorStore:
        os_cfg = settings.vector_store.opensearch
        return cls(
            make_client(os_cfg),
            index=index or os_cfg.index,
            dim=dim,
            pipeline=os_cfg.pipeline,
            hybrid_weight=settings.retrieval.hybrid_weight,
            hnsw_m=os_cfg.hnsw_m,
            ef_construction=os_cfg.ef_construction,
            ef_search=os_cfg.ef_search,
        )

    # -- setup -------------------------------------------------------------------------------
    def ensure_index(self) -> None:
        """Create the index and the hybrid search pipeline if missing (idempotent)."""
        if self._ensured:
            return
        with _translate_errors():
            if not self.client.indices.exists(index=self.index):
                self.client.indices.create(index=self.index, body=self._index_body)
            self.client.transport.perform_request(
                "PUT", f"/_search/pipeline/{self.pipeline}", body=pipeline_body(self.hybrid_weight)
            )
        self._ensured = True

    # -- writes ------------------------------------------------------------------------------
    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        from opensearchpy import helpers

        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if not chunks:
            return
        self.ensure_index()
        actions = [
            {
                "_op_type": "index",
                "_index": self.index,
                "_id": chunk.chunk_id,
                "_source": {**chunk.to_dict(), "vector": [float(x) for x in vector]},
            }
            for chunk, vector in zip(chunks, np.asarray(vectors, dtype=np.float32), strict=True)
        ]
        with _translate_errors():
            helpers.bulk(self.client, actions, refresh=self.refresh, max_retries=3, chunk_size=500)

    def delete_source(self, source: str) -> int:
        self.ensure_index()
        with _translate_errors():
            resp = self.client.delete_by_query(
                index=self.index,
                body={"query": {"term": {"source": source}}},
                refresh=True,
                conflicts="proceed",
            )
        return int(resp.get("deleted", 0))

    # -- reads -------------------------------------------------------------------------------
    def search(
        self, vector: np.ndarray, text: str | None = None, k: int = 4, filters: Filters | None = None
    ) -> list[SearchHit]:
        if k < 1:
            raise ValueError("k must be >= 1")
        self.ensure_index()
        body = search_body(np.asarray(vector).ravel().tolist(), text, k, filters, self.candidates)
        params = {"search_pipeline": self.pipeline} if text else {}
        with _translate_errors():
            resp = self.client.search(index=self.index, body=body, params=params)
        return [SearchHit(_chunk_of(hit["_source"]), float(hit["_score"])) for hit in resp["hits"]["hits"]]

    def index_version(self) -> dict[str, str] | None:
        self.ensure_index()
        with _translate_errors():
            resp = self.client.indices.get_mapping(index=self.index)
        mappings = next(iter(resp.values()), {}).get("mappings", {})
        return mappings.get("_meta", {}).get(VERSION_KEY)

    def set_index_version(self, version: dict[str, str]) -> None:
        self.ensure_index()
        with _translate_errors():
            self.client.indices.put_mapping(index=self.index, body={"_meta": {VERSION_KEY: dict(version)}})

    def sources(self) -> dict[str, str]:
        self.ensure_index()
        out: dict[str, str] = {}
        after = None
        while True:
            composite: dict[str, Any] = {
                "size": 1000,
                "sources": [
                    {"source": {"terms": {"field": "source"}}},
                    {"file_hash": {"terms": {"field": "file_hash"}}},
                ],
            }
            if after:
                composite["after"] = after
            body = {"size": 0, "aggs": {"files": {"composite": composite}}}
            with _translate_errors():
                resp = self.client.search(index=self.index, body=body)
            agg = resp["aggregations"]["files"]
            for bucket in agg["buckets"]:
                out[bucket["key"]["source"]] = bucket["key"]["file_hash"]
            after = agg.get("after_key")
            if not after or not agg["buckets"]:
                return out

    def count(self) -> int:
        self.ensure_index()
        with _translate_errors():
            return int(self.client.count(index=self.index)["count"])

    def close(self) -> None:
        self.client.close()


def _chunk_of(source: dict[str, Any]) -> Chunk:
    fields = {f: source.get(f) for f in _META_FIELDS}
    fields["section"] = fields["section"] or ""  # chunks indexed before sections were recorded
    return Chunk(**fields)


@contextmanager
def _translate_errors() -> Iterator[None]:
    """Turn connection failures into ``BackendUnavailable``; anything else propagates as is."""
    from opensearchpy.exceptions import ConnectionError as OSConnectionError
    from opensearchpy.exceptions import ConnectionTimeout

    try:
        yield
    except (OSConnectionError, ConnectionTimeout) as err:
        raise BackendUnavailable(f"OpenSearch is unreachable: {err}") from err
