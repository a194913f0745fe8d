"""`shopassist review`: the export from a real tracker store, and merging reviewed examples into a copy
of the project's data/nlu that must still load and validate with Rasa's own code."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from shop.config import REPO_ROOT
from shopassist.cli import main as cli_main
from shopassist.review import MergeError, collect, merge_review, render_yaml

DAY1 = date(2026, 11, 10)
PHONE_TEXT = "my number is [phone] and mail a***@example.com about SA-123456"


@pytest.fixture(scope="module")
def export(review_tracker_db):
    return collect(review_tracker_db, since=DAY1, until=DAY1)


def _by_text(export):
    return {item.text: item for item in export.items.values()}


def test_export_picks_fallbacks_low_confidence_and_handoffs(export) -> None:
    items = _by_text(export)
    assert set(items) == {"do you gift wrap parcels?", PHONE_TEXT,
                          "I was charged twice on card [card]", "blorp zing"}
    assert (export.conversations, export.messages) == (5, 5)
    assert set(items[PHONE_TEXT].reasons) == {"low_confidence"}
    assert set(items["I was charged twice on card [card]"].reasons) == {"handoff"}
    assert set(items["blorp zing"].reasons) == {"fallback"}  # answered by action_default_fallback


def test_export_deduplicates_and_suggests_the_best_real_intent(export) -> None:
    gift = _by_text(export)["do you gift wrap parcels?"]
    assert gift.count == 2 and set(gift.reasons) == {"fallback"}
    assert gift.suggested_intent == "delivery_options"  # the best intent below nlu_fallback
    assert gift.min_confidence == pytest.approx(0.29)
    assert _by_text(export)["blorp zing"].suggested_intent == "greet"


def test_export_masks_personal_data_but_keeps_order_number_shape(export) -> None:
    text = render_yaml(export)
    for secret in ("7700", "alex.morgan", "4111", "SA-100002"):
        assert secret not in text
    assert "SA-123456" in text and "[phone]" in text and "[card]" in text


def test_threshold_and_date_range(review_tracker_db) -> None:
    strict = collect(review_tracker_db, since=DAY1, until=DAY1, threshold=0.5)
    assert PHONE_TEXT not in _by_text(strict)  # 0.52 is not below 0.5
    day2 = collect(review_tracker_db, since=date(2026, 11, 11))
    assert list(_by_text(day2)) == ["can I pay with bitcoin"]


def test_export_loads_with_rasas_reader(export, tmp_path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    path = tmp_path / "review.yml"
    path.write_text(render_yaml(export), encoding="utf-8")
    data = load_data(str(path))
    intents = {m.get("text"): m.get("intent") for m in data.training_examples}
    assert intents == {"do you gift wrap parcels?": "delivery_options", PHONE_TEXT: "order_status",
                       "I was charged twice on card [card]": "payment_issue", "blorp zing": "greet"}
    gift = next(m for m in data.training_examples if m.get("intent") == "delivery_options")
    example_metadata = gift.get("metadata")["example"]
    assert example_metadata["emotion"] == "confusion"  # tie neutral/confusion: alphabetical, stable
    assert example_metadata["review"] == {"reasons": ["fallback"], "times": 2, "confidence": 0.29}


def test_command_line_export_leaves_out_what_is_labelled(review_tracker_db, tmp_path, capsys) -> None:
    out = tmp_path / "out" / "review.yml"
    nlu = tmp_path / "nlu"
    nlu.mkdir()
    _write(nlu / "chitchat.yml", "- intent: greet\n  examples: |\n    - Blorp   ZING\n")
    options = ["--db", review_tracker_db, "--since", "2026-11-10", "--until", "2026-11-10", "--out", str(out)]
    assert cli_main(["review", *options, "--nlu-dir", str(nlu)]) == 0
    assert "4 messages (3 distinct) from 5 conversations" in capsys.readouterr().out
    assert "blorp" not in out.read_text(encoding="utf-8")
    assert cli_main(["review", *options, "--nlu-dir", str(nlu), "--include-labelled"]) == 0
    assert "5 messages (4 distinct) from 5 conversations" in capsys.readouterr().out
    assert "blorp zing" in out.read_text(encoding="utf-8")
    assert cli_main(["review", "--db", review_tracker_db, "--threshold", "2"]) == 2
    assert cli_main(["review", "--db", f"sqlite:///{tmp_path / 'none.db'}", "--out", str(out)]) == 2


# -- merge -------------------------------------------------------------------------------------------------
@pytest.fixture()
def project(tmp_path) -> Path:
    """A copy of the project's NLU data, domain and config: merges never touch the real data/nlu."""
    root = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "data" / "nlu", root / "data" / "nlu")
    for name in ("domain.yml", "config.yml"):
        shutil.copy(REPO_ROOT / name, root / name)
    return root


def _merge(project: Path, review: Path):
    return merge_review(review, project / "data" / "nlu", project / "domain.yml", project / "config.yml")


def _validate(project: Path) -> None:
    """What `rasa data validate` checks about NLU data, with Rasa's own importer and validator."""
    from rasa.shared.importers.importer import TrainingDataImporter
    from rasa.validator import Validator

    importer = TrainingDataImporter.load_from_config(
        config_path=str(project / "config.yml"), domain_path=str(project / "domain.yml"),
        training_data_paths=[str(project / "data" / "nlu")])
    validator = Validator.from_importer(importer)
    assert validator.verify_intents(ignore_warnings=False)
    assert validator.verify_example_repetition_in_intents(ignore_warnings=False)


def _write(path: Path, body: str) -> Path:
    path.write_text('version: "3.1"\nnlu:\n' + body, encoding="utf-8")
    return path


def test_merge_export_then_again(export, project, tmp_path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    review = tmp_path / "review.yml"
    review.write_text(render_yaml(export), encoding="utf-8")
    result = _merge(project, review)
    assert sorted(result.added) == sorted([
        ("delivery_options", "do you gift wrap parcels?"), ("order_status", PHONE_TEXT),
        ("payment_issue", "I was charged twice on card [card]"), ("greet", "blorp zing")])
    assert any("[phone]" in warning for warning in result.warnings)
    target = project / "data" / "nlu" / "reviewed.yml"
    merged = load_data(str(target))
    assert len(merged.training_examples) == 4
    gift = next(m for m in merged.training_examples if m.get("intent") == "delivery_options")
    assert gift.get("metadata")["example"] == {"emotion": "confusion"}  # review notes dropped
    _validate(project)

    before = target.read_text(encoding="utf-8")
    again = _merge(project, review)
    assert again.added == [] and len(again.duplicates) == 4
    assert target.read_text(encoding="utf-8") == before


def test_merge_skips_examples_already_in_the_topic_files(project, tmp_path) -> None:
    review = _write(tmp_path / "r.yml",
                    "- intent: place_order\n  examples: |\n    - How do I   PLACE an order\n"
                    "    - can I order [two](quantity_free) hoodies at once\n")
    with pytest.raises(MergeError, match="entity 'quantity_free'"):
        _merge(project, review)
    review = _write(tmp_path / "r.yml",
                    "- intent: place_order\n  examples: |\n    - How do I   PLACE an order\n"
                    "    - can I order two [hoodies](category) at once\n")
    result = _merge(project, review)
    assert result.added == [("place_order", "can I order two hoodies at once")]
    [(text, where)] = result.duplicates
    assert text == "How do I   PLACE an order" and "orders.yml as place_order" in where
    _validate(project)


@pytest.mark.parametrize("body, message", [
    ("- intent: buy_gift_card\n  examples: |\n    - I want a gift card\n", "intent 'buy_gift_card'"),
    ("- intent: nlu_fallback\n  examples: |\n    - qwerty\n", "intent 'nlu_fallback'"),
    ("- intent: greet\n  examples:\n  - text: hiya there\n    metadata: {emotion: bored}\n",
     "emotion 'bored'"),
    ("- intent: greet\n  examples: |\n    - hiya there\n- intent: goodbye\n  examples: |\n    - HIYA there\n",
     "under both 'greet' and 'goodbye'"),
])
def test_merge_refuses_the_whole_file(project, tmp_path, body, message) -> None:
    review = _write(tmp_path / "r.yml", "- intent: greet\n  examples: |\n    - a fine new greeting\n" + body)
    with pytest.raises(MergeError, match=message):
        _merge(project, review)
    assert not (project / "data" / "nlu" / "reviewed.yml").exists()  # nothing written, not even the good one


def test_merge_command_line(project, tmp_path, capsys) -> None:
    nlu = project / "data" / "nlu"
    options = ["--nlu-dir", str(nlu), "--domain", str(project / "domain.yml"),
               "--config", str(project / "config.yml")]
    bad = _write(tmp_path / "bad.yml", "- intent: buy_gift_card\n  examples: |\n    - I want a gift card\n")
    assert cli_main(["review", "--merge", str(bad), *options]) == 2
    assert "intent 'buy_gift_card' is not in" in capsys.readouterr().err
    good = _write(tmp_path / "good.yml", "- intent: greet\n  examples: |\n    - ahoy shop people\n")
    assert cli_main(["review", "--merge", str(good), *options]) == 0
    assert "added 1 examples" in capsys.readouterr().out
    assert "ahoy shop people" in (nlu / "reviewed.yml").read_text(encoding="utf-8")


def test_merge_rejects_broken_files(project, tmp_path) -> None:
    with pytest.raises(MergeError, match="does not exist"):
        _merge(project, tmp_path / "missing.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("nlu:\n- intent: greet\n  examples: [unclosed\n", encoding="utf-8")
    with pytest.raises(MergeError):
        _merge(project, broken)


def test_merge_keeps_what_designers_added_to_the_target(project, tmp_path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    target = project / "data" / "nlu" / "reviewed.yml"
    _write(target, "- intent: greet\n  examples: |\n    - howdy shop\n"
                   "- synonym: hoodies\n  examples: |\n    - hoodys\n")
    review = _write(tmp_path / "r.yml",
                    "- intent: goodbye\n  examples: |\n    - laters shop\n    - HOWDY shop\n")
    result = _merge(project, review)
    assert result.added == [("goodbye", "laters shop")]
    assert result.duplicates[0][1].endswith("reviewed.yml as greet")
    merged = load_data(str(target))
    assert {m.get("text"): m.get("intent") for m in merged.training_examples} == {
        "howdy shop": "greet", "laters shop": "goodbye"}
    assert merged.entity_synonyms == {"hoodys": "hoodies"}
    _validate(project)
