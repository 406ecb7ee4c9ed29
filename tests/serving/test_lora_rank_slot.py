"""The loop sizes its vLLM server to its adapter's rank, using only values vLLM accepts."""

from typing import get_args

import pytest

from ragloop.serve import VLLM_LORA_RANKS, lora_rank_slot


def test_rank_slots_are_the_values_this_vllm_accepts():
    from vllm.config.lora import MaxLoRARanks

    assert get_args(MaxLoRARanks) == VLLM_LORA_RANKS


@pytest.mark.parametrize(("rank", "slot"), [(1, 1), (4, 8), (8, 8), (16, 16), (24, 32), (512, 512)])
def test_smallest_slot_that_fits(rank, slot):
    assert lora_rank_slot(rank) == slot


def test_rank_above_every_slot_is_refused():
    with pytest.raises(ValueError, match="above vLLM's largest"):
        lora_rank_slot(1024)
