"""Shared fixtures of the NLU benchmark tests: tiny hand-written stand-ins for the benchmark files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# Hand-written toy sentences (not from any benchmark), a few per intent.
TOY_INTENTS = {
    "order_status": ["where is my parcel", "has my order shipped yet", "track the package i bought",
                     "when will my delivery arrive", "status of my purchase please",
                     "is my order on its way"],
    "return_item": ["i want to send this back", "how do i return these shoes", "start a return for me",
                    "the jacket does not fit, can i return it", "refund and return my item",
                    "i need a return label"],
    "greet": ["hello there", "hi", "good morning", "hey, how are you", "hello friend", "good evening"],
}
TOY_OOS = ["what is the capital of peru", "play some jazz music"]


@pytest.fixture
def toy_data_dir(tmp_path: Path) -> Path:
    """A bench-data folder in the benchmarks' file formats, with toy content."""
    clinc = tmp_path / "clinc150"
    clinc.mkdir()
    train = [[text, intent] for intent, texts in TOY_INTENTS.items() for text in texts[:4]]
    test = [[text, intent] for intent, texts in TOY_INTENTS.items() for text in texts[4:]]
    (clinc / "data_full.json").write_text(json.dumps({
        "train": train, "val": [], "test": test, "oos_train": [], "oos_val": [],
        "oos_test": [[text, "oos"] for text in TOY_OOS],
    }))
    emotions = tmp_path / "goemotions_ekman"
    emotions.mkdir()
    (emotions / "labels.txt").write_text("anger\njoy\nneutral\n")
    (emotions / "train.tsv").write_text(
        "this is outrageous\t0\ta1\nwhat a lovely day\t1\ta2\nok noted\t2\ta3\n"
        "so happy and so cross\t0,1\ta4\nbrilliant news\t1\ta5\n"
    )
    (emotions / "test.tsv").write_text("i am furious\t0\tb1\nyay\t1\tb2\nfine\t2,1\tb3\n")
    return tmp_path
