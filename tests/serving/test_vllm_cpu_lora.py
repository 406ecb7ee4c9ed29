"""The grouped CPU LoRA ops compute what vLLM's own torch ops compute, and give no-adapter tokens no
delta; the plugin is registered where vLLM looks for it."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import torch

from serving import vllm_cpu_lora as grouped

lora_ops = pytest.importorskip("vllm.lora.ops.torch_ops.lora_ops")


def weights(slots: int, out: int, inp: int, four_d: bool) -> torch.Tensor:
    w = torch.randn(slots, out, inp, dtype=torch.bfloat16)
    return w.unsqueeze(1) if four_d else w


@pytest.mark.parametrize("indices", [[0] * 7, [1, 1, 0, 0, 2, 1, 0], [2], [0, 0, 1, 1, 1, 1, 1]])
@pytest.mark.parametrize("four_d", [False, True])
def test_grouped_ops_match_vllms_torch_ops_where_every_token_has_an_adapter(indices, four_d):
    torch.manual_seed(0)
    idx = torch.tensor(indices)
    n = len(indices)
    x, rank, hidden = torch.randn(n, 32), 8, 32
    a, b = weights(3, rank, 32, four_d), weights(3, hidden, rank, four_d)

    ours, theirs = torch.zeros(n, rank), torch.zeros(n, rank)
    grouped.bgmv_shrink(x, a, ours, idx, 0.5)
    lora_ops.bgmv_shrink(x, a, theirs, idx, 0.5)
    torch.testing.assert_close(ours, theirs)

    h, base = torch.randn(n, rank), torch.randn(n, hidden + 8)
    ours, theirs = base.clone(), base.clone()
    grouped.bgmv_expand(h, b, ours, idx, add_inputs=True)
    lora_ops.bgmv_expand(h, b, theirs, idx, add_inputs=True)
    torch.testing.assert_close(ours, theirs)

    ours, theirs = base.clone(), base.clone()
    grouped.bgmv_expand_slice(h, b, ours, idx, 4, hidden, add_inputs=False)
    lora_ops.bgmv_expand_slice(h, b, theirs, idx, 4, hidden, add_inputs=False)
    torch.testing.assert_close(ours, theirs)

    seq_lens = torch.tensor([n])  # the prefill path: vLLM's sgmv ops call the installed bgmv ops
    ours, theirs = torch.zeros(n, rank), torch.zeros(n, rank)
    lora_ops.sgmv_shrink(x, a, theirs, None, seq_lens, idx[:1], 1, n, n, 1.0)
    grouped.bgmv_shrink(x, a, ours, idx[:1].repeat(n), 1.0)
    torch.testing.assert_close(ours, theirs)


def test_tokens_without_an_adapter_get_no_delta():
    """vLLM marks base-model tokens with slot -1; its CPU ops index weights[-1], the last slot."""
    torch.manual_seed(0)
    idx = torch.tensor([0, -1, 0, -1])
    x, a = torch.randn(4, 16), weights(2, 4, 16, four_d=False)
    out = torch.zeros(4, 4)
    grouped.bgmv_shrink(x, a, out, idx, 1.0)
    assert out[1].abs().sum() == 0 and out[3].abs().sum() == 0 and out[0].abs().sum() > 0
    base_only = torch.zeros(4, 4)
    grouped.bgmv_shrink(x, a, base_only, torch.tensor([-1] * 4), 1.0)
    assert base_only.abs().sum() == 0

    theirs = torch.zeros(4, 4)  # what vLLM's own op does with the same batch: the last adapter's delta
    lora_ops.bgmv_shrink(x, a, theirs, idx, 1.0)
    assert theirs[1].abs().sum() > 0


def test_install_puts_the_grouped_ops_where_the_cpu_wrapper_calls_them(monkeypatch):
    from vllm.lora.punica_wrapper import punica_cpu

    for name in grouped.GROUPED:
        monkeypatch.setattr(lora_ops, name, getattr(lora_ops, name))
        monkeypatch.setattr(punica_cpu, name, getattr(punica_cpu, name))
    grouped.install()
    assert punica_cpu.bgmv_shrink is grouped.bgmv_shrink and lora_ops.bgmv_expand is grouped.bgmv_expand
    assert lora_ops.bgmv_expand_slice is grouped.bgmv_expand_slice


def test_vllm_finds_the_plugin_through_its_entry_point():
    [plugin] = [e for e in entry_points(group="vllm.general_plugins") if e.name == "ragloop_cpu_lora"]
    assert plugin.load() is grouped.register
