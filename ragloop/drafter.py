"""The model that drafts the loop's synthetic question-answer pairs (``loop.synthetic.drafter``).

By default the served model drafts. A larger drafter — the packaged Qwen2.5-Coder-1.5B-Instruct, or any
model directory — runs in a second vLLM process for the drafts stage only and stops before users and
training need the memory. Measured on the same chunks (verified by the judge against the chunk): the
1.5B model 29 of 44 on the demo manual against the 0.5B's 16, but 12 vs 15 of 40 on realdocs and 3 vs
7 of 40 on realdocs2, where it answers from what it knows of the libraries rather than from the chunk;
about 1.5x the time per draft and 1.5-2 minutes to start. So it is an option, not the default.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.settings import Settings
from rag.protocols import LLM

log = logging.getLogger(__name__)


def drafter_model_dir(settings: Settings, drafter: str) -> Path:
    """The model directory for ``drafter``: a packaged model's name (converted once into the data
    folder's ``models/``), a directory named like a packaged model (converted there once), or any model
    directory."""
    from ragloop.models import PACKAGED, prepare_packaged_model

    path = settings.data_dir / "models" / drafter if drafter in PACKAGED else Path(drafter).expanduser()
    if path.name in PACKAGED:  # a packaged model's place: converted there on first use
        return prepare_packaged_model(path.name, path)
    if not (path / "config.json").is_file():
        from core.errors import RagloopError

        raise RagloopError(
            f"loop.synthetic.drafter {drafter!r} is neither a packaged model ({', '.join(PACKAGED)}) "
            "nor a model directory with a config.json"
        )
    return path


@contextmanager
def drafting_llm(settings: Settings, served: LLM, *, start_timeout_s: float = 600.0) -> Iterator[LLM]:
    """The LLM the drafts stage drafts with: ``served`` itself, or the configured drafter served by its
    own vLLM (greedy, the served model's token limit) until the block ends."""
    drafter = settings.loop.synthetic.drafter
    if not drafter:
        yield served
        return
    from rag.backends.openai_llm import OpenAICompatibleLLM
    from ragloop.serve import VLLMServer

    model_dir = drafter_model_dir(settings, drafter)
    server = VLLMServer(
        model_dir,
        served_name=model_dir.name,
        max_model_len=settings.serve.max_model_len,
        dtype=settings.serve.dtype,
        enable_lora=False,
        kv_cache_gib=settings.serve.kv_cache_gib,
        cpu_bind=settings.serve.cpu_bind,
        log_file=settings.data_dir / "logs" / "vllm-drafter.log",
    )
    log.info("starting the drafter %s", drafter)
    with server.start(timeout_s=start_timeout_s):
        yield OpenAICompatibleLLM(
            server.base_url,
            model=model_dir.name,
            max_tokens=settings.llm.max_tokens,
            temperature=0.0,
            timeout_s=settings.llm.timeout_s,
        )
