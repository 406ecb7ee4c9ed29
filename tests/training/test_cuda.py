"""On a CUDA GPU (production trains there): SFT and DPO train a LoRA in bf16 on the device and the SFT
adapter loads and generates on it. Skipped without a GPU (CI has none). Passed on an NVIDIA H200
(2026-11-27; torch 2.11 + CUDA 13, transformers 5.17, TRL 1.12, PEFT 0.21; the project's missing
packages carried as wheels), 47 s for both."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_a_lora_trains_in_bf16_on_the_gpu(method, overfit_job, tiny_model_dir):
    from training.common import common_args
    from training.run import run

    job = overfit_job(method, bf16=True)
    assert common_args(job)["use_cpu"] is False  # the trainer is told to use the GPU
    out, metrics = run(method, job)
    assert metrics["train_loss_last"] < 0.7 * metrics["train_loss_first"], metrics
    if method == "sft":
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16).cuda()
        model = PeftModel.from_pretrained(base, str(out))
        assert next(model.parameters()).device.type == "cuda"
        ids = torch.tensor([[1, 2, 3]], device="cuda")
        assert (
            model.generate(input_ids=ids, min_new_tokens=4, max_new_tokens=4, do_sample=False).shape[1] == 7
        )
