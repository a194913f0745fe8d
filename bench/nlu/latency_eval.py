"""Single-message latency of TransformerIntentEmotionClassifier, alone and inside a trained Rasa model.

    python -m bench.nlu.latency_eval --model models/shopassist.tar.gz \\
        --variants none,dynamic_int8 [--agent] [--baseline-ref HEAD] [--json out.json]

Loads the transformer node of a trained model archive once per variant (``SETTING[@THREADS]``, e.g.
``dynamic_int8@2``; SETTING is the component's ``quantization``) and times ``process`` on one message
at a time over ~300 texts of the NLU data (spread over the intents). Variants are measured round-robin,
message by message, so load from other jobs on a shared machine hits all of them alike. ``--agent`` also
times ``Agent.load(model).parse_message`` (the whole NLU pipeline) with each variant's model swapped
into the loaded graph. ``--baseline-ref REF`` adds the component as committed at git ``REF`` (read with
``git show``, nothing is checked out) as variant ``REF``, loaded from the same trained weights
(component timing only).

p50 / p95 / mean are those of the NLU benchmark (:func:`bench.nlu.metrics.percentiles_ms`: numpy's linear
interpolation between the two nearest samples). Until this tool moved to bench/ (it was
``components.classifiers.latency_eval``) it reported the nearest sample instead (index
``round(q * (n - 1))``), as the figures of docs/NOTES.md measured with it did (e.g. int8 vs fp32
``Agent.parse_message`` p50/p95 7.2/11.3 vs 13.8/19.2 ms): on the same timings the two differ by less than
the gap between two neighbouring samples, and p50 is the same whenever n is odd.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.nlu.metrics import percentiles_ms  # noqa: E402

COMPONENT_SUFFIX = "TransformerIntentEmotionClassifier"
MODULE_PATH = "components/classifiers/transformer_intent_emotion.py"


def shop_texts(nlu_path: str, count: int) -> List[str]:
    """``count`` example texts of the NLU data, taken evenly from the intents (round-robin)."""
    from rasa.shared.nlu.training_data.loading import load_data

    by_intent: Dict[str, List[str]] = {}
    for example in load_data(nlu_path).intent_examples:
        text = (example.get("text") or "").strip()
        if text:
            by_intent.setdefault(str(example.get("intent")), []).append(text)
    texts: List[str] = []
    queues = [list(v) for _, v in sorted(by_intent.items())]
    while len(texts) < count and any(queues):
        for queue in queues:
            if queue and len(texts) < count:
                texts.append(queue.pop(0))
    return texts


def percentiles(durations_s: Sequence[float]) -> Dict[str, float]:
    """p50 / p95 / mean in milliseconds of durations in seconds (as the NLU benchmark), and their count."""
    return {**percentiles_ms(durations_s), "n": len(durations_s)} if durations_s else {}


def parse_variant(spec: str) -> Tuple[str, Optional[int]]:
    setting, _, threads = spec.partition("@")
    return setting.strip(), int(threads) if threads else None


def _transformer_node(metadata: Any) -> Tuple[str, Dict[str, Any]]:
    for node in metadata.predict_schema.nodes.values():
        if node.uses.__name__ == COMPONENT_SUFFIX and node.resource is not None:
            return node.resource.name, dict(node.config)
    raise SystemExit("the model archive has no TransformerIntentEmotionClassifier node")


def _old_component_class(ref: str) -> Any:
    """The component class as committed at ``ref`` (``git show``; read only)."""
    source = subprocess.run(["git", "show", f"{ref}:{MODULE_PATH}"], capture_output=True, text=True,
                            check=True).stdout
    path = Path(tempfile.mkdtemp(prefix="latency-baseline-")) / "transformer_intent_emotion_baseline.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("transformer_intent_emotion_baseline", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.TransformerIntentEmotionClassifier


def measure(model_archive: str, nlu: str, messages: int, variants: Sequence[str], agent: bool,
            baseline_ref: Optional[str], rounds_warmup: int = 5) -> Dict[str, Any]:
    import torch
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message

    from components.classifiers.transformer_intent_emotion import TransformerIntentEmotionClassifier

    texts = shop_texts(nlu, messages)
    storage_dir = Path(tempfile.mkdtemp(prefix="latency-eval-"))
    storage, metadata = LocalModelStorage.from_model_archive(storage_dir, Path(model_archive))
    resource_name, node_config = _transformer_node(metadata)
    resource = Resource(resource_name)
    context = ExecutionContext(GraphSchema({}), node_name=resource_name)

    components: Dict[str, Tuple[Any, Optional[int]]] = {}
    for spec in variants:
        setting, threads = parse_variant(spec)
        config = {**node_config, "quantization": setting}
        components[spec] = (TransformerIntentEmotionClassifier.load(config, storage, resource, context),
                            threads)
    if baseline_ref:
        old_class = _old_component_class(baseline_ref)
        old_config = {k: v for k, v in node_config.items() if k in old_class.get_default_config()}
        components[f"{baseline_ref}"] = (old_class.load(old_config, storage, resource, context), None)
    default_threads = torch.get_num_threads()

    def with_threads(threads: Optional[int], call: Callable[[], Any]) -> float:
        """Seconds ``call`` takes with ``threads`` torch threads."""
        wanted = threads or default_threads
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    timings: Dict[str, List[float]] = {name: [] for name in components}
    stages: Dict[str, Dict[str, List[float]]] = {name: {"tokenize": [], "forward": []} for name in components}
    for index, text in enumerate(texts):
        for name, (component, threads) in components.items():
            message = Message(data={"text": text})
            elapsed = with_threads(threads, lambda c=component, m=message: c.process([m]))
            if index >= rounds_warmup:
                timings[name].append(elapsed)
            if index % 3 == 0:  # stage split on a third of the messages
                holder: Dict[str, Any] = {}
                stages[name]["tokenize"].append(with_threads(
                    threads, lambda c=component, t=text, h=holder: h.update(c._encode([t]))))
                with torch.inference_mode():
                    stages[name]["forward"].append(
                        with_threads(threads, lambda c=component, h=holder: c.model(**h)))
    result: Dict[str, Any] = {
        "model": model_archive, "messages": len(texts), "torch_threads_default": default_threads,
        "component": {name: {**percentiles(values),
                             **{f"{stage}_p50_ms": percentiles(stages[name][stage]).get("p50_ms")
                                for stage in ("tokenize", "forward")}}
                      for name, values in timings.items()},
    }
    if agent:  # the baseline's code cannot run inside the loaded graph: current-code variants only
        current = {name: value for name, value in components.items() if name != baseline_ref}
        result["agent"] = _agent_latency(model_archive, texts, current, default_threads, rounds_warmup)
    torch.set_num_threads(default_threads)
    return result


def _agent_latency(model_archive: str, texts: Sequence[str], components: Dict[str, Tuple[Any, Optional[int]]],
                   default_threads: int, warmup: int) -> Dict[str, Any]:
    """``Agent.parse_message`` with each variant's model object swapped into the loaded graph node."""
    import torch
    from rasa.core.agent import Agent

    loop = asyncio.new_event_loop()
    agent = Agent.load(model_archive)
    nodes = agent.processor.graph_runner._instantiated_nodes  # noqa: SLF001 - measurement only
    target = None
    for node in nodes.values():
        component = getattr(node, "_component", None)
        if type(component).__name__ == COMPONENT_SUFFIX:
            target = component
    if target is None:  # the graph instantiates components lazily on first use
        loop.run_until_complete(agent.parse_message("hello"))
        for node in nodes.values():
            component = getattr(node, "_component", None)
            if type(component).__name__ == COMPONENT_SUFFIX:
                target = component
    if target is None:
        raise SystemExit("no TransformerIntentEmotionClassifier in the loaded agent")
    timings: Dict[str, List[float]] = {name: [] for name in components}
    for index, text in enumerate(texts):
        for name, (component, threads) in components.items():
            target.model, target.tokenizer = component.model, component.tokenizer
            torch.set_num_threads(threads or default_threads)
            started = time.perf_counter()
            loop.run_until_complete(agent.parse_message(text))
            if index >= warmup:
                timings[name].append(time.perf_counter() - started)
    loop.close()
    return {name: percentiles(values) for name, values in timings.items()}


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/shopassist.tar.gz", help="trained Rasa model archive")
    parser.add_argument("--nlu", default="data/nlu", help="NLU data the texts are taken from")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--variants", default="none,dynamic_int8",
                        help="comma-separated SETTING[@THREADS], SETTING = quantization value")
    parser.add_argument("--agent", action="store_true", help="also time Agent.parse_message (full pipeline)")
    parser.add_argument("--baseline-ref", default=None, help="also time the component as committed at REF")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not Path(args.model).is_file():
        print(f"SKIPPED: no model archive at {args.model}")
        return
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    result = measure(args.model, args.nlu, args.messages, variants, args.agent, args.baseline_ref)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
