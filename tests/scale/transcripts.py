"""What a shopper saw versus what the tracker store kept.

A transcript is the list of ``(kind, text)`` pairs a shopper lived through: ``("user", message)`` followed
by ``("bot", reply)`` for each reply the HTTP channel returned. The tracker store must hold exactly the
same user and bot events, once each and in that order.
"""
from __future__ import annotations

import json
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Tuple

import sqlalchemy as sa

Line = Tuple[str, Optional[str]]


def exchange(message: str, replies: Iterable[Dict]) -> List[Line]:
    """One turn as the shopper saw it."""
    return [("user", message)] + [("bot", reply.get("text")) for reply in replies]


def stored_transcripts(tracker_db_url: str, sender_ids: Iterable[str]) -> Dict[str, List[Line]]:
    """User and bot events per conversation, in the order the tracker store appended them.

    Every stored event is decoded with Rasa's own event classes: a row that does not decode, or whose
    ``type_name`` column disagrees with its JSON, fails the test as corrupted.
    """
    from rasa.shared.core.events import Event

    wanted = list(sender_ids)
    engine = sa.create_engine(tracker_db_url)
    transcripts: Dict[str, List[Line]] = defaultdict(list)
    query = sa.text(
        "SELECT sender_id, type_name, data FROM events WHERE sender_id = ANY(:ids) ORDER BY id"
    )
    try:
        with engine.connect() as connection:
            for sender_id, type_name, data in connection.execute(query, {"ids": wanted}):
                payload = json.loads(data)
                event = Event.from_parameters(payload)
                if event is None or payload.get("event") != type_name:
                    raise AssertionError(f"corrupted event of {sender_id}: {type_name} {data[:200]}")
                if type_name in ("user", "bot"):
                    transcripts[sender_id].append((type_name, payload.get("text")))
    finally:
        engine.dispose()
    return dict(transcripts)
