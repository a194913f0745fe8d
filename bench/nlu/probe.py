"""Loads one trained Rasa model in a fresh process and measures what serving it costs.

    python -m bench.nlu.probe MODEL.tar.gz TEXTS.json RESULT.json

Writes load time, resident memory before/after ``Agent.load`` and the process peak (``VmHWM``), and
p50/p95 of single-message ``Agent.parse_message`` latency over the texts (after 5 warm-up messages). A
separate process per model keeps the memory figures of one model from leaking into the other's.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def rss_mib(field: str = "VmRSS") -> float:
    """Resident set size (``VmRSS``) or its peak (``VmHWM``) of this process in MiB (Linux ``/proc``).

    ``VmHWM`` starts afresh with the process image, unlike ``ru_maxrss``, which a child started with
    fork + exec inherits from its (much larger) parent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def main(model: str, texts_file: str, result_file: str) -> None:
    import rasa.core.agent  # noqa: F401  (import cost is not the model's memory)

    from bench.nlu.metrics import percentiles_ms
    from bench.nlu.systems import RasaParser, quiet_rasa

    quiet_rasa()

    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    before = rss_mib()
    started = time.perf_counter()
    parser = RasaParser(model)
    load_seconds = time.perf_counter() - started
    after = rss_mib()
    for text in texts[:5]:
        parser.parse(text)
    durations = []
    for text in texts:
        started = time.perf_counter()
        parser.parse(text)
        durations.append(time.perf_counter() - started)
    parser.close()
    result = {
        "load_seconds": round(load_seconds, 2),
        "rss_before_load_mib": round(before, 1),
        "rss_after_load_mib": round(after, 1),
        "model_rss_mib": round(after - before, 1),
        "peak_rss_mib": round(rss_mib("VmHWM"), 1),
        "messages": len(durations),
        "torch_threads": sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None,
        **percentiles_ms(durations),
    }
    Path(result_file).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:4])
