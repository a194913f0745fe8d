"""Loaders of the third-party benchmark data: toy files, the skip path, and the real files when present."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.nlu import run
from bench.nlu.data import BenchDataMissing, default_data_dir, load_clinc150, load_goemotions_ekman
from tests.bench.conftest import TOY_OOS


def test_clinc_loader_reads_splits_and_few_shot(toy_data_dir: Path) -> None:
    data = load_clinc150(toy_data_dir)
    assert data.intents == ["greet", "order_status", "return_item"]
    assert len(data.train) == 12 and len(data.test) == 6
    assert data.oos_test == TOY_OOS

    few = load_clinc150(toy_data_dir, shots=2)
    assert len(few.train) == 6
    # the first N training rows of each intent, in file order
    assert few.train.texts[:2] == ["where is my parcel", "has my order shipped yet"]


def test_clinc_loader_caps_for_quick_runs(toy_data_dir: Path) -> None:
    data = load_clinc150(toy_data_dir, max_intents=2, max_test_per_intent=1, max_oos=1)
    assert len(data.intents) == 2
    assert set(data.test.labels) <= set(data.intents) and len(data.test) == 2
    assert len(data.oos_test) == 1


def test_goemotions_loader_keeps_single_label_rows(toy_data_dir: Path) -> None:
    data = load_goemotions_ekman(toy_data_dir)
    assert data.labels == ["anger", "joy", "neutral"]
    assert len(data.train) == 4 and "so happy and so cross" not in data.train.texts
    assert data.train.labels == ["anger", "joy", "neutral", "joy"]
    assert data.test.texts == ["i am furious", "yay"]
    assert "dropped 1 multi-label train rows and 1 test rows" in data.notes[0]


def test_loaders_raise_bench_data_missing_for_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(BenchDataMissing):
        load_clinc150(tmp_path)
    with pytest.raises(BenchDataMissing):
        load_goemotions_ekman(tmp_path)


def test_runner_skips_cleanly_without_data(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = run.main(["--data-dir", str(tmp_path / "absent"), "--out", str(tmp_path / "out")])
    assert code == 0
    assert "SKIPPED" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_runner_skips_a_suite_whose_files_are_missing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = run.main(["--suite", "goemotions", "--quick", "--data-dir", str(tmp_path),
                     "--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / "out")])
    assert code == 0
    assert "SKIPPED goemotions" in capsys.readouterr().out


@pytest.mark.skipif(not default_data_dir().is_dir(), reason="../shared/bench-data is absent")
def test_real_clinc150_shapes() -> None:
    data = load_clinc150(shots=10)
    assert len(data.intents) == 150
    assert len(data.train) == 1500 and len(data.test) == 4500 and len(data.oos_test) == 1000


@pytest.mark.skipif(not default_data_dir().is_dir(), reason="../shared/bench-data is absent")
def test_real_goemotions_labels() -> None:
    data = load_goemotions_ekman(max_train=200, max_test=100)
    assert data.labels == ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
    assert set(data.train.labels) == set(data.labels)
