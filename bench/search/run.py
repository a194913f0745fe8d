"""Benchmark of product search: keyword-only vs hybrid quality, and query latency at two catalog sizes.

1. Quality: every query of ``queries.yml`` (team-written, relevant SKUs judged from catalog attributes)
   runs through ``ShopService.search_products`` on the seeded demo catalog, with the encoder switched
   off (keyword-only: BM25 ranking) and hybrid (BM25 + MiniLM cosine), the encoder in fp32 and in
   dynamic int8 (the CPU default). Printed: precision@5 and MRR
   (first relevant result in the top 10), overall and per query kind.
2. Latency: end-to-end ``search_products`` calls (filters, ranking, reading the page from SQLite) on the
   demo catalog and on a synthetic catalog of ``--large`` products (default 30,000) written to a temporary
   SQLite file. The query-vector cache is cleared before every call, so each hybrid call encodes its
   query. By default the large catalog lists 3,000 distinct designs under 10 SKUs each (only price and
   stock differ), so its first run embeds 3,000 texts (minutes on a shared CPU, with a progress bar) while
   every query still scores all 30,000 rows; ``--designs 0`` makes every product distinct. Later runs read
   the vectors from the state folder's search cache, keyed by the catalog's content.

Run: ``nice -n 10 .venv/bin/python bench/search/run.py [--large 30000] [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from synthetic import write_synthetic_catalog  # noqa: E402

from shop.db import dispose_engine  # noqa: E402
from shop.search import SearchConfig, engine_for  # noqa: E402
from shop.seed import seed_database  # noqa: E402
from shop.service import ShopService  # noqa: E402


@dataclass
class Args:
    queries: Path = Path(__file__).resolve().parent / "queries.yml"
    large: int = 30_000
    repeats: int = 2
    designs: int = 3000
    work_dir: Path | None = None
    top_k: int = 5
    mrr_depth: int = 10

    @classmethod
    def parse(cls) -> Args:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--queries", type=Path, default=cls.queries)
        parser.add_argument(
            "--large", type=int, default=cls.large, help="products in the large catalog (0: skip)"
        )
        parser.add_argument(
            "--repeats", type=int, default=cls.repeats, help="passes over the queries per latency run"
        )
        parser.add_argument(
            "--designs",
            type=int,
            default=cls.designs,
            help="distinct product texts in the large catalog (0: every product distinct)",
        )
        parser.add_argument(
            "--work-dir", type=Path, default=None, help="where the SQLite files go (default: tmp)"
        )
        return cls(**vars(parser.parse_args()))


@dataclass
class Query:
    text: str
    kind: str
    relevant: set[str]
    filters: dict[str, Any] = field(default_factory=dict)


def load_queries(path: Path) -> list[Query]:
    data = yaml.safe_load(path.read_text())
    return [
        Query(q["text"], q.get("kind", "descriptive"), set(q["relevant"]), q.get("filters") or {})
        for q in data["queries"]
    ]


def quality(svc: ShopService, queries: list[Query], top_k: int, depth: int) -> dict[str, dict[str, float]]:
    """precision@k and MRR@depth per query kind and overall."""
    per_kind: dict[str, list[tuple[float, float]]] = {}
    for query in queries:
        found = [p.sku for p in svc.search_products(text=query.text, limit=depth, **query.filters).products]
        precision = sum(sku in query.relevant for sku in found[:top_k]) / top_k
        rank = next((i + 1 for i, sku in enumerate(found) if sku in query.relevant), None)
        for kind in (query.kind, "all"):
            per_kind.setdefault(kind, []).append((precision, 1 / rank if rank else 0.0))
    return {
        kind: {"p@k": statistics.mean(p for p, _ in v), "mrr": statistics.mean(r for _, r in v), "n": len(v)}
        for kind, v in per_kind.items()
    }


def latency(
    svc: ShopService, config: SearchConfig, queries: list[Query], repeats: int
) -> tuple[float, float]:
    """p50 and p95 (ms) of end-to-end searches; the query-vector cache is emptied before each call."""
    engine = engine_for(svc.db_url, config)
    svc.search_products(text="warm up the index")
    samples = []
    for _ in range(repeats):
        for query in queries:
            engine.query_vectors.clear()
            start = time.perf_counter()
            svc.search_products(text=query.text, limit=5, **query.filters)
            samples.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def main() -> int:
    args = Args.parse()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    queries = load_queries(args.queries)
    hybrid = SearchConfig.from_env(index_ttl_s=3600.0)
    if hybrid.encoder_path is None:
        print("no encoder configured (SHOP_SEARCH_ENCODER); only keyword-only figures are possible")
    keyword = hybrid.keyword_only()
    modes = {
        "keyword-only": keyword,
        "hybrid-fp32": replace(hybrid, quantize=False),
        "hybrid-int8": replace(hybrid, quantize=True),
    }
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        small_url = f"sqlite:///{work / 'seed.db'}"
        seed_database(small_url, reset=True)
        print(f"{len(queries)} judged queries on the demo catalog; cache folder {hybrid.cache_dir}")

        results = {}
        for name, config in modes.items():
            svc = ShopService(small_url, search_config=config)
            engine_for(svc.db_url, config).index(svc._transaction, progress=True)
            results[name] = quality(svc, queries, args.top_k, args.mrr_depth)
        print(f"\nquality (precision@{args.top_k}, MRR@{args.mrr_depth}), one column pair per mode")
        print(f"{'queries':<13}{'n':>4}" + "".join(f"{name + ' P@5':>18}{'MRR':>7}" for name in modes))
        for kind in ("all", "exact", "descriptive", "filtered"):
            if kind not in results["keyword-only"]:
                continue
            cells = "".join(f"{results[m][kind]['p@k']:>18.3f}{results[m][kind]['mrr']:>7.3f}" for m in modes)
            print(f"{kind:<13}{results['keyword-only'][kind]['n']:>4}{cells}")

        catalogs = [("demo", small_url, 320)]
        if args.large:
            large_url = f"sqlite:///{work / f'synthetic-{args.large}.db'}"
            started = time.perf_counter()
            write_synthetic_catalog(large_url, args.large, args.designs or None)
            took = time.perf_counter() - started
            distinct = args.designs or args.large
            print(f"\nsynthetic catalog: {args.large} products, {distinct} distinct texts ({took:.1f} s)")
            catalogs.append(("synthetic", large_url, args.large))

        print(
            f"\nlatency of search_products, ms ({args.repeats} x {len(queries)} queries, cold query vectors)"
        )
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'catalog':<22}{'mode':<14}{'p50':>8}{'p95':>8}{'index build s':>15}")
        for label, url, size in catalogs:
            for name, config in modes.items():
                svc = ShopService(url, search_config=config)
                started = time.perf_counter()
                engine_for(svc.db_url, config).index(svc._transaction, progress=True)
                built = time.perf_counter() - started
                p50, p95 = latency(svc, config, queries, args.repeats)
                print(f"{f'{label} ({size})':<22}{name:<14}{p50:>8.1f}{p95:>8.1f}{built:>15.1f}", flush=True)
            dispose_engine(url)
        dispose_engine(small_url)
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
