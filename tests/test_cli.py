"""The `shopassist` command and the interpreter finder behave as the README promises."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHOPASSIST = str(Path(sys.executable).parent / "shopassist")


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300, cwd=REPO,
                          env=dict(os.environ, **env))


def test_seed_creates_then_recognises_a_seeded_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    first = _run(SHOPASSIST, "seed", "--db", url)
    assert first.returncode == 0, first.stderr
    assert "Seeded the shop database" in first.stdout
    second = _run(SHOPASSIST, "seed", "--db", url)
    assert second.returncode == 0, second.stderr
    assert "already seeded" in second.stdout
    reset = _run(SHOPASSIST, "seed", "--db", url, "--reset")
    assert reset.returncode == 0 and "Seeded the shop database" in reset.stdout


def test_seed_uses_shop_db_url_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "from-env.db"
    result = _run(SHOPASSIST, "seed", SHOP_DB_URL=f"sqlite:///{db}")
    assert result.returncode == 0, result.stderr
    assert db.is_file()


def test_seed_reports_an_unreachable_database_without_a_traceback() -> None:
    result = _run(SHOPASSIST, "seed", "--db", "postgresql://postgres@127.0.0.1:1/nope")
    assert result.returncode == 2
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_find_python310_rejects_a_wrong_interpreter_with_the_fix() -> None:
    result = _run("scripts/find-python310", PYTHON="/bin/false")
    assert result.returncode == 1
    assert "not a working Python 3.10" in result.stderr


def test_find_python310_accepts_the_running_interpreter() -> None:
    result = _run("scripts/find-python310", PYTHON=sys.executable)
    assert result.returncode == 0
    assert result.stdout.strip() == sys.executable


def test_report_on_an_empty_tracker_store_explains_the_problem(tmp_path: Path) -> None:
    """A database without Rasa's events table is a clear error (exit 2), not a traceback."""
    result = _run(SHOPASSIST, "report", "--db", f"sqlite:///{tmp_path / 'empty.db'}", "--out",
                  str(tmp_path / "report.html"), "--no-progress")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
