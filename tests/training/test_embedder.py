"""Fine-tuning the embedding model learns the corpus's own words, on questions it did not train on.

The documents call two machines by code names (ZQ-7 is the pump, ZX-9 the fan); users ask about "the
pump" and "the fan". The stock model cannot tell which code name a question means, so for a held-out
fact stated about both machines it picks the right passage about half the time. Trained on other facts
(real packaged MiniLM, real sentence-transformers training), it must pick the right one for held-out
facts, clearly more often than the stock model."""

from __future__ import annotations

import pytest

from core.jsonl import write_rows
from core.settings import default_embedding_model
from training.embedder import EmbedderJob, main, read_pairs

ALIASES = {"pump": "ZQ-7", "fan": "ZX-9"}
TRAIN_FACTS = [
    ("stops when the tank is empty", "stop when the tank runs dry"),
    ("must be cleaned every month", "need cleaning each month"),
    ("draws 40 watts", "use 40 W of power"),
    ("is mounted under the desk", "sit below the desk"),
    ("beeps twice on a fault", "make two beeps when something fails"),
    ("has a blue status light", "show a blue light"),
    ("runs on 12 volts", "need a 12 V supply"),
    ("is covered for three years", "come with a three-year warranty"),
    ("weighs 2 kilograms", "weigh 2 kg"),
    ("can be paused from the app", "pause from the phone app"),
]
HELD_OUT = [
    ("shuts down above 60 degrees", "switch off when it gets hotter than 60 °C"),
    ("is made of aluminium", "have an aluminium body"),
    ("ships with two spare filters", "come with spare filters"),
    ("needs a firmware update after reset", "need new firmware after a reset"),
    ("is quieter than 30 decibels", "stay under 30 dB"),
]


def passage(machine: str, fact: str) -> str:
    return f"The {ALIASES[machine]} unit {fact}."


def question(machine: str, asked: str) -> str:
    return f"Does the {machine} {asked}?"


def accuracy(model_dir: str) -> float:
    """Share of held-out questions whose own machine's passage beats the other machine's."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cpu", local_files_only=True)
    right = 0
    for fact, asked in HELD_OUT:
        for machine, other in (("pump", "fan"), ("fan", "pump")):
            q, own, wrong = model.encode(
                [question(machine, asked), passage(machine, fact), passage(other, fact)],
                normalize_embeddings=True,
            )
            right += float(q @ own) > float(q @ wrong)
    return right / (2 * len(HELD_OUT))


@pytest.mark.slow
def test_fine_tuning_learns_the_corpus_words_on_held_out_questions(tmp_path):
    rows = [
        {"question": question(m, asked), "passage": passage(m, fact), "source": "synthetic"}
        for fact, asked in TRAIN_FACTS
        for m in ALIASES
    ]
    pairs = write_rows(rows, tmp_path / "pairs.jsonl")
    assert read_pairs(pairs) == rows
    stock = accuracy(default_embedding_model())
    tuned_dir = tmp_path / "tuned"
    manifest = main(
        EmbedderJob(pairs, default_embedding_model(), tuned_dir, epochs=4, batch_size=8, learning_rate=5e-5)
    )
    tuned = accuracy(str(tuned_dir))
    assert (
        manifest["pairs"] == 20 and manifest["pairs_by_source"] == {"synthetic": 20} and manifest["steps"] > 0
    )
    assert (tuned_dir / "manifest.json").exists()
    assert tuned >= 0.8 and tuned >= stock + 0.2, (stock, tuned)


def test_pairs_without_a_passage_are_refused(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"question": "q?", "passage": ""}\n')
    with pytest.raises(ValueError, match="lack a question or a passage"):
        read_pairs(path)
