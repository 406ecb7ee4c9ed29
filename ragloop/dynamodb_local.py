"""Run AWS's DynamoDB Local (the real jar, shipped by the npm package ``amplify-dynamodb-simulator``)
as a child process on 127.0.0.1. Used by the test suite and by ``make demo`` users who want the
production feedback store without AWS. ``make deps`` installs the jar under ``.deps/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from ragloop.serve import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JAR_DIR = REPO_ROOT / ".deps" / "node_modules" / "amplify-dynamodb-simulator" / "emulator"


def find_jar_dir() -> Path | None:
    jar_dir = DEFAULT_JAR_DIR
    if (jar_dir / "DynamoDBLocal.jar").is_file() and shutil.which("java"):
        return jar_dir
    return None


class DynamoDBLocal:
    """DynamoDB Local on a fixed or ephemeral port; ``db_dir`` keeps data across restarts."""

    def __init__(self, jar_dir: Path | None = None, port: int | None = None, db_dir: Path | None = None):
        found = jar_dir or find_jar_dir()
        if found is None:
            raise FileNotFoundError("DynamoDB Local is not installed; run `make deps` (needs Java and npm)")
        self.jar_dir = found
        self.port = port or free_port()
        self.db_dir = db_dir
        self._proc: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> DynamoDBLocal:
        storage = ["-dbPath", str(self.db_dir)] if self.db_dir else ["-inMemory"]
        if self.db_dir:
            self.db_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            "java",
            f"-Djava.library.path={self.jar_dir / 'DynamoDBLocal_lib'}",
            "-jar",
            str(self.jar_dir / "DynamoDBLocal.jar"),
            *storage,
            "-port",
            str(self.port),
            "-sharedDb",
        ]
        self._proc = subprocess.Popen(
            cmd,
            cwd=self.jar_dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"DynamoDB Local exited with status {self._proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise TimeoutError("DynamoDB Local did not start listening in time")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
