"""The programmatic PPO reward scores only the answer: the tokens after the chat template's marker."""

import torch

from training.ppo import ProgrammaticReward

MARKER = (7, 8)


def score(input_ids, attention_mask=None, marker=MARKER):
    model = ProgrammaticReward(vocab_size=16, rewarded_token_ids=[3], response_marker=marker)
    ids = torch.tensor(input_ids)
    mask = None if attention_mask is None else torch.tensor(attention_mask)
    return model.backbone(ids, attention_mask=mask).hidden_states[0][:, -1, 0].tolist()


def test_prompt_tokens_earn_nothing_answer_tokens_do():
    # prompt holds three rewarded tokens, the answer after the marker holds two
    assert score([[3, 3, 3, 7, 8, 3, 1, 3]]) == [2.0]


def test_last_marker_starts_the_answer():
    # a multi-turn prompt repeats the marker; only what follows the last one is the answer
    assert score([[7, 8, 3, 3, 7, 8, 3]]) == [1.0]


def test_rows_without_marker_count_whole_and_padding_counts_nothing():
    assert score([[3, 3, 1, 3]], attention_mask=[[1, 1, 1, 0]]) == [2.0]


def test_each_row_has_its_own_answer_start():
    assert score([[3, 7, 8, 3, 3], [7, 8, 3, 3, 3]]) == [2.0, 3.0]


def test_sequence_shorter_than_marker():
    assert score([[3]], marker=(7, 8, 9)) == [1.0]


def test_no_marker_configured_scores_everything():
    assert score([[3, 7, 8, 3]], marker=()) == [2.0]
