"""Run AWS's DynamoDB Local (the real jar, shipped by the npm package ``amplify-dynamodb-simulator``)
as a child process on 127.0.0.1. Used by the test suite and by ``make demo`` users who want the
production feedback store without AWS. ``make deps`` installs the jar under ``.deps/``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from ragloop.processes import stop_process_group, wait_until_ready
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
        try:
            wait_until_ready(self._proc, self._listening, "DynamoDB Local", timeout_s=timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        stop_process_group(proc)

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
