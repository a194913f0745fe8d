"""`rasa test core` on tests/test_stories.yml must predict every action of every story correctly."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_every_test_story_is_predicted_without_errors(trained_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "core"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "test", "core", "--stories", "tests/test_stories.yml",
         "--model", str(trained_model), "--out", str(out), "--fail-on-prediction-errors"],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    failed = out / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n{details[:4000]}"
    assert "none of the test stories failed" in details.lower() or not details.strip()
