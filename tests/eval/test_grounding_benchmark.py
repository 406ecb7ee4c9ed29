"""The gate's grounding measure sees support: realdocs2's references that their prompt carries score
above those it does not (labelled by whether the verbatim evidence was retrieved)."""

import pytest

from benchmarks.grounding import HALVES, labelled_references, separation
from eval.metrics import k_precision


@pytest.mark.parametrize("half", HALVES)
def test_k_precision_tells_carried_references_from_uncarried_ones(half):
    figures = separation(labelled_references(), k_precision)[half]
    assert figures["n"][0] >= 30 and figures["n"][1] >= 15
    assert figures["auc"] >= 0.75
    assert figures["carried_mean"] - figures["not_carried_mean"] >= 0.2
