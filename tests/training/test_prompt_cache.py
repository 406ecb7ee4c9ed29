"""SFT over the base model's cached prompt (``training.prompt_cache``): the answer's loss over the cache
is the full forward pass's while the adapter is still the identity, the cache is the base's and is
reused, and a job trained that way lowers the served (full forward) loss on rows it never trained on."""

from __future__ import annotations

import pytest

from training.config import SFTJob


def lora_model(tiny_model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    return get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"]))


def full_answer_loss(model, ids, first):
    import torch

    logits = model(input_ids=ids[None]).logits[0, first - 1 : -1]
    return float(torch.nn.functional.cross_entropy(logits.float(), ids[first:], reduction="sum"))


def test_answer_loss_over_the_cached_prompt_is_the_full_forward_one_and_the_cache_the_bases(
    tiny_model_dir,
):
    import torch

    from training.prompt_cache import PromptCache, answer_loss_sum

    torch.manual_seed(0)
    model = lora_model(tiny_model_dir).eval()
    ids = torch.randint(5, 200, (40,))
    first = 31  # 31 prompt tokens, 9 answer tokens
    labels = ids.clone()
    labels[:first] = -100
    mask = torch.ones_like(ids)
    cache = PromptCache()
    with torch.no_grad():
        # a new LoRA is the identity (B = 0): over the cache the answer's loss is the full forward's
        cached, count = answer_loss_sum(model, cache, ids, mask, labels)
        assert count == 9 and float(cached) == pytest.approx(full_answer_loss(model, ids, first), rel=1e-4)
        # with a trained (non-zero) adapter the prompt stays the base's reading of it: the cache is not
        # recomputed, and the loss differs from the full forward, which runs the adapter on the prompt too
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
        again, _ = answer_loss_sum(model, cache, ids, mask, labels)
        assert (cache.misses, cache.hits, len(cache)) == (1, 1, 1)
        assert float(again) != pytest.approx(full_answer_loss(model, ids, first), rel=1e-3)
        fresh, _ = answer_loss_sum(model, PromptCache(), ids, mask, labels)
        assert float(fresh) == pytest.approx(float(again), rel=1e-5)  # the cache holds the base's prompt


def test_a_full_cache_computes_further_prompts_each_time_and_keeps_what_it_holds(tiny_model_dir):
    """Over its byte budget the cache stores no more prompts: the next one is computed again each time it
    is asked for (same loss), and the prompts it holds stay hits."""
    import torch

    from training.prompt_cache import PromptCache, answer_loss_sum

    torch.manual_seed(0)
    model = lora_model(tiny_model_dir).eval()
    rows = []
    for length in (30, 34):
        ids = torch.randint(5, 200, (length + 6,))
        labels = ids.clone()
        labels[:length] = -100
        rows.append((ids, torch.ones_like(ids), labels))
    one = PromptCache()
    with torch.no_grad():
        answer_loss_sum(model, one, *rows[0])
    cache = PromptCache(max_bytes=one.bytes)  # room for the first prompt only
    with torch.no_grad():
        losses = [float(answer_loss_sum(model, cache, *row)[0]) for row in rows + rows]
    assert len(cache) == 1 and cache.bytes == one.bytes
    assert (cache.misses, cache.hits, cache.uncached) == (3, 1, 2)
    assert losses[2:] == pytest.approx(losses[:2], rel=1e-5)


@pytest.mark.slow
def test_sft_over_cached_prompts_lowers_the_served_loss_on_held_out_rows(toy_job):
    """Trained on the answers over cached prompts, the adapter lowers the loss of the full forward pass
    (the adapter on every token, as vLLM serves it) on validation rows it never trained on; each
    prompt went through the base once and was reused every later epoch."""
    from training import sft

    fields = toy_job("sft", batch_size=1, gradient_accumulation=8, gradient_checkpointing=False)
    job = SFTJob(**fields, prompt_cache=True)
    _, metrics = sft.main(job)
    assert metrics["eval_loss"] < 0.6 * metrics["eval_loss_before"], metrics
    cache = metrics["prompt_cache"]
    assert cache["prompts"] > 0 and cache["hits"] > cache["prompts"], cache


def test_neftune_noise_reaches_the_answer_at_the_whole_rows_scale_and_never_the_cached_prompt(
    tiny_model_dir,
):
    """With NEFTune on (as the trainer switches it on), the cached prompt is the base's clean reading
    (the same keys as without noise), and the answer's embeddings carry noise bounded as in a full
    forward pass of the row: alpha / sqrt(row tokens x width), not the answer's own shorter length."""
    import torch
    from transformers.integrations.neftune import activate_neftune

    from training.prompt_cache import PromptCache, answer_loss_sum

    torch.manual_seed(0)
    model = lora_model(tiny_model_dir).train()
    ids = torch.randint(5, 200, (40,))
    first, alpha = 31, 50.0
    labels = ids.clone()
    labels[:first] = -100
    mask = torch.ones_like(ids)
    clean = PromptCache()
    with torch.no_grad():
        answer_loss_sum(model, clean, ids, mask, labels)
    embeddings = model.get_input_embeddings()
    activate_neftune(model, alpha)
    noise = []  # after NEFTune's hook: how far each pass's embeddings are from the clean ones
    embeddings.register_forward_hook(lambda m, i, o: noise.append((o - m.weight[i[0]]).abs().max().item()))
    noisy = PromptCache()
    with torch.no_grad():
        answer_loss_sum(model, noisy, ids, mask, labels)
    prefix = tuple(ids[: first - 1].tolist())
    for (k0, v0), (k1, v1) in zip(clean._entries[prefix], noisy._entries[prefix], strict=True):
        assert torch.equal(k0, k1) and torch.equal(v0, v1)
    bound = alpha / (40 * embeddings.weight.shape[1]) ** 0.5
    assert noise[0] == 0.0  # the prompt's pass
    assert 0.5 * bound < noise[1] <= bound * 1.0001  # the answer's, at the whole row's scale
