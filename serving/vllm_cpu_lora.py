"""A vLLM plugin for serving LoRA adapters on the CPU build: one matrix product per adapter slot instead
of one copy of the adapter's weights per token.

vLLM's CPU LoRA ops (``vllm/lora/ops/torch_ops``) gather the adapter matrices for every token
(``weights[indices]``) and multiply them one token at a time (``einsum("bi, boi -> bo")``). For a
decode step that is one token; for a RAG prompt of 600 tokens it copies the adapter 600 times per
layer, so prefill through a rank-16 adapter took 5.4x as long as through the base model on
Qwen2.5-Coder-0.5B (18.8x with ``--max-lora-rank 64``; ``benchmarks/lora_latency.py``). The ops here
compute the same product grouped by adapter slot, one ``x @ W.T`` per slot present in the batch
(what vllm-metal's "pure LoRA prefill" change does), and give tokens with slot ``-1`` (no adapter)
no delta, as vLLM's GPU kernels do: the CPU ops index ``weights[-1]``, the last slot, and add that
adapter's delta to base-model tokens batched beside it once every slot is in use
(vllm-project/vllm#48421, open).

vLLM runs ``register`` in each of its processes through the ``vllm.general_plugins`` entry point
(pyproject.toml); it changes nothing unless vLLM runs on the CPU. ``RAGLOOP_VLLM_GROUPED_LORA=0`` in
the server's environment turns it off (the benchmark compares both).
"""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)

OFF_SWITCH = "RAGLOOP_VLLM_GROUPED_LORA"


def lora_product(inputs: torch.Tensor, weights: torch.Tensor, indices: torch.Tensor, dtype) -> torch.Tensor:
    """Row b of the result is ``weights[indices[b]] @ inputs[b]`` (zero where ``indices[b] < 0``):
    vLLM's ``einsum("bi, boi -> bo", inputs, weights[indices])`` with one matrix product per slot."""
    if weights.dim() == 4:
        weights = weights.squeeze(1)
    x = inputs.to(dtype)
    slots = torch.unique(indices)
    if slots.numel() == 1:  # one adapter (or none) for the whole batch: the common case
        slot = int(slots)
        if slot < 0:
            return x.new_zeros((x.shape[0], weights.shape[1]))
        return x @ weights[slot].to(dtype).T
    out = x.new_zeros((x.shape[0], weights.shape[1]))
    for slot in slots.tolist():
        if slot >= 0:
            rows = indices == slot
            out[rows] = x[rows] @ weights[slot].to(dtype).T
    return out


def bgmv_shrink(inputs, lora_a_weights, output_tensor, lora_indices_tensor, scaling: float = 1.0) -> None:
    outputs = lora_product(inputs, lora_a_weights, lora_indices_tensor, output_tensor.dtype)
    output_tensor[:, : outputs.shape[1]] = scaling * outputs[:]


def bgmv_expand(inputs, lora_b_weights, output_tensor, lora_indices_tensor, add_inputs: bool = True) -> None:
    outputs = lora_product(inputs, lora_b_weights, lora_indices_tensor, output_tensor.dtype)
    limit = output_tensor.shape[0]
    if outputs.shape[0] == 1 and output_tensor.shape[0] != 1:
        limit = 1
    common_len = min(outputs.shape[1], output_tensor.shape[1])
    if add_inputs:
        output_tensor[:, :common_len] += outputs[:limit, :common_len]
    else:
        output_tensor[:, :common_len] = outputs[:limit, :common_len]


def bgmv_expand_slice(
    inputs,
    lora_b_weights,
    output_tensor,
    lora_indices_tensor,
    slice_offset: int,
    slice_size: int,
    add_inputs: bool = True,
) -> None:
    outputs = lora_product(inputs, lora_b_weights, lora_indices_tensor, output_tensor.dtype)
    if add_inputs:
        output_tensor[:, slice_offset : slice_offset + slice_size] += outputs[:]
    else:
        output_tensor[:, slice_offset : slice_offset + slice_size] = outputs[:]


GROUPED = {"bgmv_shrink": bgmv_shrink, "bgmv_expand": bgmv_expand, "bgmv_expand_slice": bgmv_expand_slice}


def install() -> None:
    """Put the grouped ops where vLLM's CPU punica wrapper finds them: its own imported names (the
    decode path) and the torch-ops module whose ``sgmv_*`` (the prefill path) call ``bgmv_*``."""
    from vllm.lora.ops.torch_ops import lora_ops
    from vllm.lora.punica_wrapper import punica_cpu

    for name, op in GROUPED.items():
        setattr(lora_ops, name, op)
        setattr(punica_cpu, name, op)


def register() -> None:
    """vLLM's ``general_plugins`` hook."""
    if os.environ.get(OFF_SWITCH, "1") == "0":
        return
    from vllm.platforms import current_platform

    if current_platform.is_cpu():
        install()
        log.info("ragloop: grouped CPU LoRA ops installed (%s=0 turns them off)", OFF_SWITCH)
