"""An S3-API server for the test suite: moto's standalone server (``moto[server]``) as a child process
on an ephemeral 127.0.0.1 port. No real S3 (or MinIO, which no package registry here ships) can run on
this machine; moto's server speaks the S3 REST protocol over HTTP, conditional writes included, so
boto3 runs its whole stack (signing, retries, transfers) against it."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import httpx

from ragloop.processes import stop_process_group, wait_until_ready
from ragloop.serve import free_port

_buckets = itertools.count()


class S3Server:
    def __init__(self) -> None:
        self.port = free_port()
        self._proc: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> S3Server:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_until_ready(self._proc, self._answering, "the S3 server", timeout_s=timeout_s, poll_s=0.1)
        except BaseException:
            self.stop()
            raise
        return self

    def _answering(self) -> bool:
        try:
            httpx.get(self.endpoint_url, timeout=1)
            return True
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        stop_process_group(proc, timeout_s=10)

    def registry(self, cache_dir: Path, bucket: str | None = None, prefix: str = "adapters", **kwargs):
        """An S3 adapter registry on this server, in a fresh bucket unless one is named (created if
        missing)."""
        from serving.s3_registry import S3AdapterRegistry

        kwargs.setdefault("create_bucket", True)
        bucket = bucket or f"registry-{next(_buckets)}"
        return S3AdapterRegistry(bucket, prefix, cache_dir, endpoint_url=self.endpoint_url, **kwargs)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def unreachable_registry(cache_dir: Path):
    """An S3 adapter registry whose endpoint has nothing listening (one attempt, short timeout)."""
    from serving.s3_registry import S3AdapterRegistry

    return S3AdapterRegistry(
        "registry",
        "adapters",
        cache_dir,
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        max_attempts=1,
        connect_timeout_s=0.5,
    )
