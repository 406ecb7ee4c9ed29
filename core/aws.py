"""boto3 clients for the production backends (DynamoDB feedback store, S3 adapter registry), built one
way: botocore's standard retry mode, bounded connect/read timeouts, an optional endpoint (DynamoDB
Local, MinIO, the tests' servers)."""

from __future__ import annotations

from typing import Any


def boto3_client(
    service: str,
    region: str,
    endpoint_url: str | None = None,
    *,
    max_attempts: int = 3,
    connect_timeout_s: float = 2.0,
    read_timeout_s: float = 5.0,
    session: Any = None,
) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
    )
    return (session or boto3.Session()).client(
        service, region_name=region, endpoint_url=endpoint_url, config=config
    )
