"""An S3-API server for the test suite: moto's standalone server (``moto[server]``) as a child process
on an ephemeral 127.0.0.1 port. No real S3 (or MinIO, which no package registry here ships) can run on
this machine; moto's server speaks the S3 REST protocol over HTTP, conditional writes included, so
boto3 runs its whole stack (signing, retries, transfers) against it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from ragloop.serve import free_port


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
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the S3 server exited with status {self._proc.returncode}")
            try:
                httpx.get(self.endpoint_url, timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError("the S3 server did not start listening in time")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
