"""Benchmark of the designer-loop tools on a synthetic tracker store: `shopassist review` export against
the report scan of the same store (same reader), and `shopassist analytics-sink` throughput against the
rate at which the same events were published to RabbitMQ (skipped when no broker answers).

    .venv/bin/python -m bench.review.run --conversations 20000 [--sink-events 20000]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.report.run import generate

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _timed(function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - started


async def _publish(queue: str, bodies) -> float:
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL, timeout=3)
    try:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        started = time.perf_counter()
        for body in bodies:
            await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue)
        return time.perf_counter() - started
    finally:
        await connection.close()


async def _delete(queue: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL, timeout=3)
    try:
        channel = await connection.channel()
        await channel.queue_delete(queue)
    finally:
        await connection.close()


def bench_sink(db: Path, workdir: Path, events: int) -> None:
    from shopassist.analytics_sink import consume

    with sqlite3.connect(db) as connection:
        query = "SELECT sender_id, data FROM events ORDER BY id LIMIT ?"
        rows = connection.execute(query, (events,)).fetchall()
    bodies = [json.dumps({"sender_id": sender, **json.loads(data)}).encode() for sender, data in rows]
    queue = f"shopassist_bench_{uuid.uuid4().hex[:8]}"
    try:
        publish_s = asyncio.run(_publish(queue, bodies))
    except Exception as error:  # noqa: BLE001 - no broker: say so and skip this part
        print(f"analytics-sink: skipped, RabbitMQ not reachable at {AMQP_URL} ({type(error).__name__})")
        return
    try:
        sink_url = f"sqlite:///{workdir / 'analytics.db'}"
        stats, consume_s = _timed(asyncio.run, consume(AMQP_URL, queue, sink_url, idle_exit=1.0))
        consume_s -= 1.0  # the idle wait that ends the run
    finally:
        asyncio.run(_delete(queue))
    print(f"{'step':<38}{'events':>10}{'seconds':>10}{'events/s':>12}")
    print(f"{'publish (aio-pika, baseline)':<38}{len(bodies):>10}{publish_s:>10.1f}"
          f"{len(bodies) / publish_s:>12,.0f}")
    print(f"{'analytics-sink (consume+mask+store)':<38}{stats.stored:>10}{consume_s:>10.1f}"
          f"{stats.stored / consume_s:>12,.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--sink-events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    from shopassist.report import build_report
    from shopassist.review import collect, render_yaml

    workdir = Path(tempfile.mkdtemp(prefix="review-bench-"))
    db = workdir / "tracker.db"
    events = generate(db, args.conversations, args.seed)
    url = f"sqlite:///{db}"
    report, report_s = _timed(build_report, url)
    export, review_s = _timed(collect, url)
    text, render_s = _timed(render_yaml, export)
    print(f"{args.conversations} conversations, {events} events")
    print(f"{'step':<38}{'seconds':>10}{'conversations/s':>18}")
    for name, seconds in (("report scan (baseline, same reader)", report_s),
                          ("review export (scan + mask + dedupe)", review_s)):
        print(f"{name:<38}{seconds:>10.1f}{args.conversations / seconds:>18,.0f}")
    print(f"{'review YAML rendering':<38}{render_s:>10.2f}")
    print(f"review: {export.messages} messages, {len(export.items)} distinct, "
          f"{len(text) / 1024:.0f} KiB YAML; "
          f"report: {report.fallback_turns} fallback turns")
    if args.sink_events:
        bench_sink(db, workdir, args.sink_events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
