"""Load benchmark: simulated shoppers against real `rasa run` replicas in the production setup.

Starts the stack of the scale tests (tests/scale/services.py): private PostgreSQL (tracker store) and
Redis (lock store), one action server on a seeded SQLite shop, two Rasa replicas with the trained
transformer pipeline and the outage guard. Then, for each number of concurrent shoppers, first on one
replica (the baseline) and then on two (messages alternate between them, as behind a load balancer
without sticky sessions), shoppers hold the scripted conversations below for a fixed time, pausing
`think_s` between messages like people typing. It reports messages/s, reply latency percentiles and
errors (non-200, timeouts, silence, apologies).

Finally it loads the same model in-process with the same endpoints and times one shopper's messages
stage by stage (lock store, tracker store, NLU, policies, actions), to show where the time goes.

    .venv/bin/python -m bench.load.run                     # ~6 min on 2 cores
    .venv/bin/python -m bench.load.run --shoppers 10 50 --duration-s 20
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import aiohttp

from tests.scale.services import ScaleStack, missing_service_binaries, start_stack, stop_stack
from tests.servers import REPO

SCRIPTS = [
    ["hi", "show me red hoodies under 60", "in blue", "thanks"],
    ["hello", "what payment methods do you take?", "how long does delivery take?"],
    ["show me shoes", "under 80", "thank you", "bye"],
    ["where is my order SA-100001", "alex.morgan@example.com", "thanks"],
]
APOLOGY_MARKERS = ("Sorry, something went wrong on our side", "couldn't receive your message")


@dataclass
class Args:
    model: Path
    shoppers: List[int]
    duration_s: float
    warmup_s: float
    think_s: float
    breakdown_messages: int
    out: Path
    seed: int


@dataclass
class LevelResult:
    replicas: int
    shoppers: int
    messages: int = 0
    errors: int = 0
    error_kinds: Dict[str, int] = field(default_factory=dict)
    messages_per_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0


def percentile(values: List[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def _shopper(
    session: aiohttp.ClientSession, urls: List[str], number: int, stop_at: float, record_from: float,
    think_s: float, rng: random.Random, latencies: List[float], errors: Dict[str, int],
) -> None:
    """Holds conversations one after the other until `stop_at`; records messages sent after `record_from`."""
    turn = number  # spreads the first messages of the shoppers over the replicas
    while time.monotonic() < stop_at:
        sender = f"load-{number}-{uuid.uuid4().hex[:8]}"
        for text in SCRIPTS[rng.randrange(len(SCRIPTS))]:
            await asyncio.sleep(rng.uniform(0.5 * think_s, 1.5 * think_s))
            if time.monotonic() >= stop_at:
                return
            url = urls[turn % len(urls)]
            turn += 1
            started = time.monotonic()
            kind = None
            try:
                async with session.post(f"{url}/webhooks/rest/webhook",
                                        json={"sender": sender, "message": text}) as response:
                    replies = await response.json() if response.status == 200 else None
                    if replies is None:
                        kind = f"http {response.status}"
                    elif not replies:
                        kind = "silence"
                    elif any(marker in (r.get("text") or "") for r in replies for marker in APOLOGY_MARKERS):
                        kind = "apology"
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                kind = type(error).__name__
            if started >= record_from:
                latencies.append(time.monotonic() - started)
                if kind:
                    errors[kind] = errors.get(kind, 0) + 1


async def run_level(urls: List[str], shoppers: int, args: Args) -> LevelResult:
    latencies: List[float] = []
    errors: Dict[str, int] = {}
    now = time.monotonic()
    record_from, stop_at = now + args.warmup_s, now + args.warmup_s + args.duration_s
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(
            _shopper(session, urls, n, stop_at, record_from, args.think_s, random.Random(args.seed + n),
                     latencies, errors)
            for n in range(shoppers)
        ))
    elapsed = max(time.monotonic() - record_from, 1e-9)
    ms = [latency * 1000 for latency in latencies]
    return LevelResult(
        replicas=len(urls), shoppers=shoppers, messages=len(ms), errors=sum(errors.values()),
        error_kinds=errors, messages_per_s=len(ms) / elapsed, p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95), p99_ms=percentile(ms, 99), max_ms=max(ms, default=float("nan")),
    )


class StageTimer:
    """Accumulates wall time per stage while one message is handled in-process."""

    def __init__(self) -> None:
        self.current: Dict[str, float] = defaultdict(float)
        self.per_message: List[Dict[str, float]] = []

    def wrap_async(self, owner: Any, name: str, stage: str) -> None:
        original: Callable = getattr(owner, name)

        async def timed(*a: Any, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*a, **k)
            finally:
                self.current[stage] += time.perf_counter() - started

        setattr(owner, name, timed)

    def wrap_sync(self, owner: Any, name: str, stage: str) -> None:
        original: Callable = getattr(owner, name)

        def timed(*a: Any, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                self.current[stage] += time.perf_counter() - started

        setattr(owner, name, timed)


async def stage_breakdown(stack: ScaleStack, messages: int) -> Dict[str, Dict[str, float]]:
    """Handles `messages` shopper messages one at a time in-process and times each stage."""
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints

    from channels.outage_guard import OutageGuard

    endpoints = AvailableEndpoints.read_endpoints(str(stack.replicas[0].start_args["endpoints"]))
    agent = await load_agent(model_path=str(stack.replicas[0].start_args["model"]), endpoints=endpoints)
    OutageGuard(action_timeout_s=10).install(agent)
    timer = StageTimer()
    processor = agent.processor
    timer.wrap_async(processor, "parse_message", "nlu")
    timer.wrap_sync(processor, "_predict_next_with_tracker", "policies")
    timer.wrap_async(processor, "_run_action", "actions")
    timer.wrap_async(agent.tracker_store, "retrieve", "tracker store")
    timer.wrap_async(agent.tracker_store, "save", "tracker store")
    for name in ("get_lock", "save_lock", "delete_lock"):
        timer.wrap_sync(agent.lock_store, name, "lock store")

    sent = 0
    while sent < messages:
        sender = f"breakdown-{uuid.uuid4().hex[:8]}"
        for text in SCRIPTS[sent % len(SCRIPTS)]:
            timer.current = defaultdict(float)
            started = time.perf_counter()
            await agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender))
            total = time.perf_counter() - started
            stages = dict(timer.current)
            stages["other"] = total - sum(stages.values())
            stages["total"] = total
            timer.per_message.append(stages)
            sent += 1
    names = ["lock store", "tracker store", "nlu", "policies", "actions", "other", "total"]
    return {
        name: {
            "p50_ms": 1000 * statistics.median([m.get(name, 0.0) for m in timer.per_message]),
            "mean_ms": 1000 * statistics.fmean([m.get(name, 0.0) for m in timer.per_message]),
        }
        for name in names
    }


async def parse_latency(url: str, rounds: int) -> Dict[str, float]:
    """NLU alone over HTTP (`POST /model/parse`), one request at a time."""
    texts = [text for script in SCRIPTS for text in script]
    ms: List[float] = []
    async with aiohttp.ClientSession() as session:
        for i in range(rounds):
            started = time.monotonic()
            async with session.post(f"{url}/model/parse", json={"text": texts[i % len(texts)]}) as response:
                await response.json()
            ms.append((time.monotonic() - started) * 1000)
    return {"p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95)}


def print_table(results: List[LevelResult]) -> None:
    print(f"\n{'replicas':>8} {'shoppers':>8} {'msg/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'messages':>8} {'errors':>6}")
    for r in results:
        print(f"{r.replicas:>8} {r.shoppers:>8} {r.messages_per_s:>7.1f} {r.p50_ms:>8.0f} {r.p95_ms:>8.0f} "
              f"{r.p99_ms:>8.0f} {r.max_ms:>8.0f} {r.messages:>8} {r.errors:>6} {r.error_kinds or ''}")


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    default_model = Path(os.environ.get("SHOPASSIST_MODEL", REPO / "models" / "shopassist.tar.gz"))
    parser.add_argument("--model", type=Path, default=default_model)
    parser.add_argument("--shoppers", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--duration-s", type=float, default=30.0, help="measured time per level")
    parser.add_argument("--warmup-s", type=float, default=5.0, help="unmeasured ramp-up per level")
    parser.add_argument("--think-s", type=float, default=3.0,
                        help="mean pause of a shopper before each message (uniform 0.5x-1.5x)")
    parser.add_argument("--breakdown-messages", type=int, default=42)
    parser.add_argument("--out", type=Path, default=REPO / "results" / "bench" / "load.json")
    parser.add_argument("--seed", type=int, default=42)
    return Args(**vars(parser.parse_args()))


def main() -> None:
    args = parse_args()
    reason = missing_service_binaries()
    if reason or not args.model.is_file():
        raise SystemExit(reason or f"no trained model at {args.model}: run `make train` first")
    from shop.seed import seed_database

    work = Path(tempfile.mkdtemp(prefix="shopassist-load-"))
    shop_db_url = f"sqlite:///{work / 'shop.db'}"
    seed_database(shop_db_url)
    print(f"starting PostgreSQL, Redis, the action server and 2 Rasa replicas (logs in {work}) ...")
    started = time.monotonic()
    stack: Optional[ScaleStack] = start_stack(work, args.model, shop_db_url, replica_count=2)
    print(f"stack up in {time.monotonic() - started:.0f} s")
    try:
        urls = [replica.url for replica in stack.replicas]
        parse = asyncio.run(parse_latency(urls[0], rounds=60))
        print(f"NLU alone (POST /model/parse, one at a time): p50 {parse['p50_ms']:.1f} ms, "
              f"p95 {parse['p95_ms']:.1f} ms")
        results: List[LevelResult] = []
        for replicas in (1, 2):
            for shoppers in args.shoppers:
                result = asyncio.run(run_level(urls[:replicas], shoppers, args))
                results.append(result)
                print_table([result])
        for replica in stack.replicas:  # free the cores for the in-process breakdown
            replica.stop()
        breakdown = asyncio.run(stage_breakdown(stack, args.breakdown_messages))
    finally:
        stop_stack(stack)

    print_table(results)
    print("\nwhere the time of one message goes (in-process, one shopper at a time, same endpoints):")
    for name, figures in breakdown.items():
        print(f"  {name:<14} p50 {figures['p50_ms']:7.1f} ms   mean {figures['mean_ms']:7.1f} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"args": {k: str(v) for k, v in asdict(args).items()}, "parse": parse,
              "levels": [asdict(r) for r in results], "breakdown": breakdown}
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
