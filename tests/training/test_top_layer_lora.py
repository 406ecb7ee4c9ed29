"""SFT with LoRA in the last blocks only (``lora_top_layers``): the adapter holds weights for those
blocks alone, and real vLLM loads it and answers through it."""

from __future__ import annotations

import pytest

from training.config import SFTJob

pytestmark = pytest.mark.slow


def test_an_adapter_on_the_top_layers_trains_and_serves(export_file, tiny_model_dir, vllm_server, tmp_path):
    from safetensors import safe_open

    from serving.vllm_admin import VLLMAdmin
    from training import sft

    job = SFTJob(
        export_path=str(export_file),
        base_model=str(tiny_model_dir),
        output_dir=str(tmp_path / "top"),
        name="top-layer",
        lora_r=8,
        lora_alpha=16,
        lora_top_layers=1,  # the tiny Mistral has 2 blocks: only block 1 gets LoRA
        target_modules=["q_proj", "v_proj"],
        learning_rate=5e-3,
        max_steps=3,
        batch_size=4,
        max_length=256,
        min_rows=2,
    )
    out, _ = sft.main(job)
    with safe_open(str(out / "adapter_model.safetensors"), "pt") as tensors:
        blocks = {key.split(".layers.")[1].split(".")[0] for key in tensors.keys()}  # noqa: SIM118 (not a dict)
    assert blocks == {"1"}

    admin = VLLMAdmin(vllm_server.base_url)
    try:
        admin.load("top-layer", str(out))
        assert "top-layer" in admin.served_adapters()
        assert admin.smoke("top-layer")
    finally:
        admin.unload("top-layer")
        admin.close()
