"""Child server processes: start-up failures are named, and stopping takes the whole process group."""

import os
import subprocess
import sys
import time

import pytest

from ragloop.processes import stop_process_group, wait_for, wait_until_ready


def spawn(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


def test_a_server_that_exits_during_start_up_is_named():
    proc = spawn("raise SystemExit(3)")
    with pytest.raises(RuntimeError, match="toy server exited with status 3 during start-up; see log"):
        wait_until_ready(proc, lambda: False, "toy server", timeout_s=30, hint="; see log")


def test_a_server_that_never_gets_ready_times_out_and_stops_with_its_children(tmp_path):
    pid_file = tmp_path / "child.pid"
    worker = "import time; time.sleep(60)"
    proc = spawn(
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {worker!r}])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)"
    )
    with pytest.raises(TimeoutError, match="toy server did not become ready within 1 s"):
        wait_until_ready(proc, lambda: False, "toy server", timeout_s=1)
    child = int(pid_file.read_text())
    stop_process_group(proc, timeout_s=5)
    assert proc.poll() is not None
    assert not alive(child)  # the worker it spawned went with it
    stop_process_group(proc)  # stopping twice is harmless
    stop_process_group(None)


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie nobody reaped yet counts as stopped)."""
    for _ in range(50):
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return False
        except (ProcessLookupError, FileNotFoundError):
            return False
        time.sleep(0.1)
    return True


def test_ready_returns_as_soon_as_the_check_passes():
    proc = spawn("import time; time.sleep(60)")
    try:
        wait_until_ready(proc, lambda: True, "toy server", timeout_s=5)
    finally:
        stop_process_group(proc)


def test_wait_for_returns_once_the_condition_holds_and_names_what_timed_out():
    calls = []
    wait_for(lambda: calls.append(1) or len(calls) >= 3, "three calls", timeout_s=5, poll_s=0.001)
    assert len(calls) == 3
    with pytest.raises(TimeoutError, match=r"timed out after 0\.2 s waiting for the moon"):
        wait_for(lambda: False, "the moon", timeout_s=0.2)


def test_sigterm_inside_exit_on_sigterm_stops_the_servers_a_command_started(tmp_path):
    # What `ragloop demo` does: start a server in a `with` block, then serve the app. A `kill` of the
    # command must stop the server too; without the handler the command dies and the server lives on.
    pid_file = tmp_path / "server.pid"
    command = spawn(
        "import contextlib, subprocess, sys, time\n"
        "from ragloop.processes import exit_on_sigterm, stop_process_group\n"
        "@contextlib.contextmanager\n"
        "def server():\n"
        "    sleeper = [sys.executable, '-c', 'import time; time.sleep(60)']\n"
        "    proc = subprocess.Popen(sleeper, start_new_session=True)\n"
        f"    open({str(pid_file)!r}, 'w').write(str(proc.pid))\n"
        "    try:\n"
        "        yield proc\n"
        "    finally:\n"
        "        stop_process_group(proc, timeout_s=5)\n"
        "with exit_on_sigterm(), server():\n"
        "    time.sleep(60)\n"
    )
    try:
        wait_for(lambda: pid_file.exists() and pid_file.read_text(), "the server to start", timeout_s=30)
        server = int(pid_file.read_text())
        assert alive(server)
        command.terminate()  # SIGTERM to the command only, as `kill PID` does
        assert command.wait(timeout=30) == 143  # a normal exit: 128 + SIGTERM
        assert not alive(server)
    finally:
        stop_process_group(command)


@pytest.mark.slow
def test_a_sigterm_to_serve_llm_stops_its_vllm(tiny_model_dir, tmp_path):
    """`ragloop serve llm` stopped by `kill` (a service manager, a script's cleanup) must take its vLLM
    with it: without the handler the command died and vLLM went on serving, holding its memory."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "RAGLOOP_DATA_DIR": str(tmp_path),
        "RAGLOOP_SERVE__MODEL_DIR": str(tiny_model_dir),
        "RAGLOOP_SERVE__PORT": str(port),
        "RAGLOOP_SERVE__DTYPE": "float32",
        "RAGLOOP_SERVE__MAX_LORA_RANK": "16",
        "RAGLOOP_SERVE__KV_CACHE_GIB": "1",
    }
    command = subprocess.Popen(
        [sys.executable, "-c", "from ragloop.cli import main; main()", "serve", "llm"],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/v1/models"

    def serving() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            return False

    try:
        wait_for(lambda: serving() or command.poll() is not None, "vLLM to serve", timeout_s=600, poll_s=1)
        assert command.poll() is None and serving(), command.stdout.read() if command.poll() else ""
        command.terminate()  # SIGTERM to the command only, as `kill PID` does
        assert command.wait(timeout=60) == 143
        wait_for(lambda: not serving(), "vLLM to stop serving", timeout_s=30, poll_s=0.5)
    finally:
        stop_process_group(command)  # the command's group; vLLM runs in its own
        import psutil

        for proc in psutil.process_iter(["cmdline"]):
            if f"{port}" in " ".join(proc.info["cmdline"] or []) and "vllm" in " ".join(
                proc.info["cmdline"] or []
            ):
                proc.kill()  # left over when the behaviour is missing: never leak a server
