"""SFT on the answer tokens over the base model's cached prompt: most of a RAG row is its prompt.

A loop row is ~400 prompt tokens (system, sources, question) and ~30 answer tokens, and the loss is on
the answer only. Full training runs the forward and backward pass over all 430 tokens, with the LoRA on
every one of them. Here each prompt goes through the *base* model once, without gradients, and its
key/value cache is kept (keyed by the prompt's tokens; ~10 MB a row for the 0.5B default in fp32, up to
``MAX_BYTES``).
Each training step then runs only the answer tokens, with the adapter, attending to that cache. After
the first epoch a step costs a few answer tokens instead of the whole row.

What changes: while training, the adapter never sees the prompt tokens. It is trained to answer well over
the base's reading of the prompt, and it is served (vLLM) on every token. So validation (early
stopping's choice) stays the full forward pass with the adapter on every token, the way it is served:
the loss that picks the checkpoint is the served model's. Measured on the realdocs loop's rows
(README, *Training on the answer over a cached prompt*).

``PromptCacheSFTTrainer`` is TRL's ``SFTTrainer`` with one training loss swapped; evaluation,
checkpoints, early stopping and the time budget are TRL's and the job's as before.

With NEFTune (``neftune_alpha``: Transformers puts noise on the input embeddings while training) the
cached prompt is the base's clean reading, computed without noise, and the answer tokens get the noise a
full forward pass of the whole row would give them: Transformers scales it by 1/sqrt(tokens in the
pass), and a pass here holds the answer only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# what the cache may hold: 4 GiB is ~400 of the loop's rows for the 0.5B default in fp32 (a loop export
# has 50-110); vLLM beside a training run already takes ~20 of the 24 GB the loop runs in
MAX_BYTES = 4 * 1024**3


class PromptCache:
    """The base model's key/value cache of each prompt, computed once with the adapter disabled. It keeps
    prompts until it holds ``max_bytes``; a prompt that no longer fits is computed again each time it is
    asked for (``uncached``), so a large export costs time, never memory. Filling it up and then keeping
    what it has (instead of evicting the oldest) suits training's order: every epoch asks for every row,
    shuffled, so an LRU cache smaller than the rows would miss almost every time."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._entries: dict[tuple[int, ...], list[tuple[Any, Any]]] = {}
        self.max_bytes, self.bytes = max_bytes, 0
        self.hits = self.misses = self.uncached = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, model, prefix: tuple[int, ...]):
        """A fresh ``DynamicCache`` holding ``prefix``'s keys and values under the base model (a new
        cache object each time: a forward pass appends to it)."""
        import torch
        from transformers import DynamicCache

        layers = self._entries.get(prefix)
        if layers is None:
            self.misses += 1
            ids = torch.tensor([prefix], device=model.device)
            with torch.no_grad(), model.disable_adapter(), embedding_noise(model, 0.0):
                out = model(input_ids=ids, use_cache=True)
            layers = [(layer.keys.detach(), layer.values.detach()) for layer in out.past_key_values.layers]
            size = sum(k.nbytes + v.nbytes for k, v in layers)
            if self.bytes + size <= self.max_bytes:
                self._entries[prefix], self.bytes = layers, self.bytes + size
            else:
                self.uncached += 1
        else:
            self.hits += 1
        cache = DynamicCache()
        for index, (keys, values) in enumerate(layers):
            cache.update(keys, values, index)
        return cache


@contextmanager
def embedding_noise(model, scale: float) -> Iterator[None]:
    """NEFTune's noise times ``scale`` for the forward passes inside (0: none), when the trainer has
    switched it on (Transformers sets ``neftune_noise_alpha`` on the input embeddings); else nothing."""
    embeddings = model.get_input_embeddings()
    alpha = getattr(embeddings, "neftune_noise_alpha", None)
    if alpha is None:
        yield
        return
    embeddings.neftune_noise_alpha = alpha * scale
    try:
        yield
    finally:
        embeddings.neftune_noise_alpha = alpha


def answer_loss_sum(model, cache: PromptCache, input_ids, attention_mask, labels):
    """Summed cross-entropy of one row's answer tokens (labels != -100), the adapter running on the
    answer only, over the base's cached prompt; and how many tokens it summed."""
    import torch

    length = int(attention_mask.sum())
    targets = (labels[:length] != -100).nonzero()
    if not len(targets):
        return None, 0
    first = int(targets[0])  # the first answer token; the prompt is everything before it
    prefix = tuple(input_ids[: first - 1].tolist())
    past = cache.get(model, prefix)
    positions = torch.arange(first - 1, length, device=input_ids.device)[None]
    # the noise of a pass over the whole row: Transformers scales it by 1/sqrt(the pass's tokens)
    with embedding_noise(model, math.sqrt((length - first + 1) / length)):
        out = model(
            input_ids=input_ids[first - 1 : length][None],
            past_key_values=past,
            position_ids=positions,
            use_cache=True,
        )
    logits = out.logits[0, :-1].float()
    gold = labels[first:length]
    loss = torch.nn.functional.cross_entropy(logits, gold, ignore_index=-100, reduction="sum")
    return loss, int((gold != -100).sum())


def trainer_class():
    """``SFTTrainer`` whose training loss runs the answer over the cached prompt (evaluation unchanged)."""
    from trl import SFTTrainer

    class PromptCacheSFTTrainer(SFTTrainer):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.prompt_cache = PromptCache()

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if not model.training:  # validation: the served forward pass, adapter on every token
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            total, tokens = None, 0
            for ids, mask, labels in zip(
                inputs["input_ids"], inputs["attention_mask"], inputs["labels"], strict=True
            ):
                loss, count = answer_loss_sum(model, self.prompt_cache, ids, mask, labels)
                if loss is not None:
                    total, tokens = (loss if total is None else total + loss), tokens + count
            if total is None:  # nothing to learn in this micro-batch: a zero that still has a graph
                total = sum(p.sum() * 0.0 for p in model.parameters() if p.requires_grad)
            divisor = num_items_in_batch if num_items_in_batch is not None else max(tokens, 1)
            loss = total / divisor
            return (loss, None) if return_outputs else loss

    return PromptCacheSFTTrainer
