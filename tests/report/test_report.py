"""`shopassist report` over a real tracker store: every figure, the date filter and the HTML page."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from shopassist.report import build_report, main, mask_text, render_html, tracker_store_url

DAY1 = date(2026, 11, 1)


@pytest.fixture(scope="module")
def day1(tracker_db):
    return build_report(tracker_db, since=DAY1, until=DAY1)


@pytest.fixture(scope="module")
def everything(tracker_db):
    return build_report(tracker_db)


def test_counts_and_rates(day1):
    assert day1.conversations == 6
    assert (day1.contained, day1.handed_off) == (5, 1)
    assert day1.containment_rate == pytest.approx(5 / 6)
    assert day1.handoff_rate == pytest.approx(1 / 6)
    assert day1.user_turns == 12
    assert day1.fallback_turns == 4
    assert day1.fallback_rate == pytest.approx(4 / 12)
    assert day1.conversations_with_fallback == 2
    assert dict(day1.per_day) == {"2026-11-01": 6}
    assert day1.median_turns_to_resolution == 2.0  # contained: 2, 3, 1, 2, 2


def test_handoff_triggers_from_slot_and_metadata(day1, everything):
    assert dict(day1.handoff_reasons) == {"anger_sustained": 1}
    assert dict(everything.handoff_reasons) == {"anger_sustained": 1, "fraud": 1}
    assert everything.conversations == 7
    assert dict(everything.per_day) == {"2026-11-01": 6, "2026-11-02": 1}


def test_date_filter_excludes_other_days(tracker_db):
    day2 = build_report(tracker_db, since=date(2026, 11, 2))
    assert (day2.conversations, day2.handed_off, day2.user_turns) == (1, 1, 1)
    assert build_report(tracker_db, until=date(2026, 10, 31)).conversations == 0


def test_top_intents_and_confidence(day1):
    top = day1.top_intents(3)
    expected = [("order_status", 4), ("greet", 3), ("nlu_fallback", 3)]
    assert [(name, count) for name, count, _ in top] == expected
    assert top[0][2] == pytest.approx((0.85 + 0.75 + 0.7 + 0.65) / 4)
    assert day1.confidence_hist["order_status"] == [0, 0, 0, 0, 0, 0, 1, 2, 1, 0]
    assert sum(day1.confidence_hist["greet"]) == 3


def test_emotion_mix(day1):
    assert dict(day1.emotions) == {"joy": 3, "neutral": 4, "anger": 3, "confusion": 2}
    assert day1.emotion_mix()["neutral"] == pytest.approx(4 / 12)
    assert dict(day1.emotion_per_intent["order_status"]) == {"neutral": 2, "anger": 2}
    assert dict(day1.emotion_per_day["2026-11-01"]) == dict(day1.emotions)


def test_not_understood_deduplicated_and_masked(day1):
    assert day1.top_not_understood() == [
        ("blorp zing", 2), ("<script>alert(1)</script>", 1), ("my mail is a***@example.com", 1)]
    assert mask_text("write to sam.lee@example.com now") == "write to s***@example.com now"


def test_html_is_self_contained_and_escapes_shopper_text(day1):
    page = render_html(day1)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "alex.morgan" not in page
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?!data:)", page)
    assert "http://" not in page and "https://" not in page
    images = re.findall(r'<img [^>]*src="data:image/png;base64,', page)
    assert len(images) >= 5


def test_csat_from_feedback(tracker_db, tmp_path):
    import sqlalchemy as sa

    from shop.models import Base, Feedback

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = sa.create_engine(url)
    Base.metadata.create_all(engine, tables=[Feedback.__table__])
    with engine.begin() as connection:
        for rating in (5, 4, 2, None):
            connection.execute(sa.insert(Feedback.__table__).values(
                sender_id="c1", rating=rating, text="thanks", created_at=datetime(2026, 11, 1, 10)))
    engine.dispose()
    report = build_report(tracker_db, since=DAY1, until=DAY1, shop_db_url=url)
    assert report.csat["responses"] == 3
    assert report.csat["csat"] == pytest.approx(2 / 3)
    assert report.csat["mean"] == pytest.approx(11 / 3)
    assert build_report(tracker_db, since=date(2026, 11, 2), shop_db_url=url).csat is None
    missing = build_report(tracker_db, shop_db_url=f"sqlite:///{tmp_path / 'none.db'}")
    assert missing.csat is None and not (tmp_path / "none.db").exists()


def test_command_line(tracker_db, tmp_path, capsys):
    out = tmp_path / "r.html"
    code = main(["--db", tracker_db, "--since", "2026-11-01", "--until", "2026-11-01", "--out", str(out),
                 "--shop-db", f"sqlite:///{tmp_path / 'none.db'}", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "6 conversations" in printed and "containment 83.3%" in printed and "anger_sustained 1" in printed
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert main(["--db", f"sqlite:///{tmp_path / 'empty.db'}", "--out", str(out)]) == 2


def test_tracker_store_url_from_endpoints(tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: .state/tracker.db\n")
    assert tracker_store_url(endpoints) == "sqlite:///.state/tracker.db"
    endpoints.write_text("tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: db.local\n  port: 5432\n"
                         "  db: rasa\n  username: u\n  password: p\n")
    assert tracker_store_url(endpoints) == "postgresql://u:p@db.local:5432/rasa"
