"""The designer loop's review step: `shopassist review` and `shopassist review --merge FILE`.

**Export.** Reads the tracker store (the same ``events`` table and reader as :mod:`shopassist.report`) over
a date range and collects the shopper messages worth a designer's look:

* ``fallback``: the NLU said ``nlu_fallback``, or the bot answered with ``action_default_fallback``;
* ``low_confidence``: the top intent's confidence was below ``--threshold``;
* ``handoff``: the message right before ``action_handoff`` (the bot gave up or the shopper asked for a
  person: the message often names a need the assistant does not cover).

Messages are masked (:func:`shop.privacy.mask_personal_data`; order numbers keep their shape with the
digits ``123456``, so the example still teaches the shape while naming no real order), de-duplicated by
normalised text (case and spacing ignored), left out when ``data/nlu`` already holds them (a message
reviewed last week is not reviewed again) and written as a Rasa NLU YAML file. Each example sits under the
intent the model predicted (for a fallback: the best intent below ``nlu_fallback``) with
``metadata: {emotion: <predicted>, review: {...}}``: the designer moves it under the right intent,
corrects the emotion, annotates entities and deletes what should not be learned.

**Merge.** ``--merge FILE`` adds the reviewed examples to one dedicated file, ``data/nlu/reviewed.yml``,
never to the hand-written topic files. It refuses the whole file (writes nothing) when an example names an
intent or entity the domain does not know or an emotion the classifier does not predict; it skips examples
already present anywhere in ``data/nlu`` (case and spacing ignored) and repeated ones; it drops the
``review`` metadata; it writes atomically and reloads the result with Rasa's own loader before replacing
the file.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import sqlalchemy as sa

from shop.privacy import mask_personal_data
from shopassist.report import (
    FALLBACK_ACTION,
    FALLBACK_INTENT,
    HANDOFF_ACTION,
    _loads,
    add_store_arguments,
    iter_conversations,
    tracker_store_url,
)

FALLBACK = "fallback"
LOW_CONFIDENCE = "low_confidence"
HANDOFF = "handoff"
#: Default ``--threshold``: above the FallbackClassifier's 0.4 in config.yml, so the export also shows
#: the messages the assistant answered while unsure.
DEFAULT_THRESHOLD = 0.6
DEFAULT_TARGET = Path("data/nlu/reviewed.yml")
REVIEW_KEY = "review"
EMOTION_KEY = "emotion"
#: Emotions of the shipped classifier (docs/contract.md); config.yml ``emotion_labels`` overrides them.
DEFAULT_EMOTIONS = ("neutral", "joy", "anger", "sadness", "fear", "confusion")
#: Intents Rasa adds to every domain that must never get training examples from a review.
NOT_TRAINABLE_INTENTS = frozenset({FALLBACK_INTENT, "session_start", "restart", "back"})
MAX_TEXT_LENGTH = 300


def normalise(text: str) -> str:
    """The de-duplication key: case-folded, spacing collapsed."""
    return " ".join(str(text).split()).casefold()


# -- export ----------------------------------------------------------------------------------------------
@dataclass
class ReviewItem:
    """One distinct message (masked) and what the conversations said about it."""

    text: str
    count: int = 0
    reasons: Counter = field(default_factory=Counter)
    suggestions: Counter = field(default_factory=Counter)
    emotions: Counter = field(default_factory=Counter)
    min_confidence: float = 1.0

    @property
    def suggested_intent(self) -> str:
        return sorted(self.suggestions.items(), key=lambda item: (-item[1], item[0]))[0][0]

    @property
    def suggested_emotion(self) -> Optional[str]:
        if not self.emotions:
            return None
        return sorted(self.emotions.items(), key=lambda item: (-item[1], item[0]))[0][0]


@dataclass
class ReviewExport:
    since: Optional[date]
    until: Optional[date]
    threshold: float
    items: Dict[str, ReviewItem] = field(default_factory=dict)
    conversations: int = 0
    messages: int = 0
    #: Normalised texts already in the NLU data: such messages are counted, not exported again.
    known: Set[str] = field(default_factory=set)
    already_labelled: int = 0

    def add(self, text: str, reasons: Iterable[str], suggestion: str, emotion: Optional[str],
            confidence: float) -> None:
        masked = " ".join(mask_personal_data(text, order_numbers="shape").split())[:MAX_TEXT_LENGTH]
        if not masked:
            return
        key = normalise(masked)
        if key in self.known:
            self.already_labelled += 1
            return
        item = self.items.setdefault(key, ReviewItem(text=masked))
        item.count += 1
        item.reasons.update(set(reasons))
        item.suggestions[suggestion] += 1
        if emotion:
            item.emotions[emotion] += 1
        item.min_confidence = min(item.min_confidence, confidence)
        self.messages += 1


def _suggestion(parse: Dict[str, Any], intent: str) -> str:
    """The intent to file a message under: the prediction, or for a fallback the best real intent."""
    if intent != FALLBACK_INTENT:
        return intent
    for entry in parse.get("intent_ranking") or []:
        name = (entry or {}).get("name")
        if name and name not in NOT_TRAINABLE_INTENTS:
            return str(name)
    return FALLBACK_INTENT


def collect_conversation(export: ReviewExport, rows: Sequence[Tuple]) -> None:
    """Fold one conversation's events (type_name, timestamp, intent_name, action_name, data) in."""
    pending: Optional[Dict[str, Any]] = None
    candidates: List[Dict[str, Any]] = []

    def close(turn: Optional[Dict[str, Any]]) -> None:
        if turn is not None and turn["reasons"]:
            candidates.append(turn)

    for type_name, _timestamp, intent_name, action_name, data in rows:
        if type_name == "user":
            close(pending)
            event = _loads(data)
            text = str(event.get("text") or "").strip()
            if not text or text.startswith("/"):  # button payloads are not shopper language
                pending = None
                continue
            parse = event.get("parse_data") or {}
            intent = intent_name or (parse.get("intent") or {}).get("name") or FALLBACK_INTENT
            confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
            reasons = set()
            if intent == FALLBACK_INTENT:
                reasons.add(FALLBACK)
            elif confidence < export.threshold:
                reasons.add(LOW_CONFIDENCE)
            pending = {"text": text, "reasons": reasons, "suggestion": _suggestion(parse, intent),
                       "emotion": (parse.get("emotion") or {}).get("name"), "confidence": confidence}
        elif type_name == "action" and pending is not None:
            if action_name == FALLBACK_ACTION:
                pending["reasons"].add(FALLBACK)
            elif action_name == HANDOFF_ACTION:
                pending["reasons"].add(HANDOFF)
    close(pending)
    if candidates:
        export.conversations += 1
    for turn in candidates:
        export.add(turn["text"], turn["reasons"], turn["suggestion"], turn["emotion"], turn["confidence"])


def known_examples(nlu_dir: str | Path) -> Set[str]:
    """Normalised texts of every example in *nlu_dir* (empty when the folder does not exist)."""
    path = Path(nlu_dir)
    if not path.is_dir():
        return set()
    return {normalise(m.get("text")) for m in _load_nlu(path).training_examples if m.get("text")}


def collect(db_url: str, since: Optional[date] = None, until: Optional[date] = None,
            threshold: float = DEFAULT_THRESHOLD, known: Optional[Iterable[str]] = None) -> ReviewExport:
    """Scan the tracker store at *db_url* for the messages of [since, until] worth reviewing; messages
    whose normalised text is in *known* (see :func:`known_examples`) are left out."""
    export = ReviewExport(since=since, until=until, threshold=threshold, known=set(known or ()))
    engine = sa.create_engine(db_url)
    try:
        for rows in iter_conversations(engine, since, until):
            collect_conversation(export, rows)
    finally:
        engine.dispose()
    return export


def _quote(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def render_yaml(export: ReviewExport) -> str:
    """The export as Rasa NLU YAML, grouped by suggested intent, most frequent messages first."""
    groups: Dict[str, List[ReviewItem]] = {}
    for item in export.items.values():
        groups.setdefault(item.suggested_intent, []).append(item)
    span = f"{export.since or 'start'} .. {export.until or 'now'}"
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# ShopAssist review export, {span} (UTC days), created {created}.",
        f"# {export.messages} messages ({len(export.items)} distinct) from {export.conversations} "
        f"conversations: fallbacks, confidence below {export.threshold:g}, or right before a handoff;",
        f"# {export.already_labelled} more were left out because data/nlu already has them.",
        "#",
        "# For each example: move it under the intent it really is (or delete it), correct the emotion,",
        "# annotate entities as usual ([SA-123456](order_id)), then run:",
        "#     shopassist review --merge <this file>",
        "# The merge refuses unknown intents, entities and emotions, skips examples already in data/nlu,",
        "# drops the `review` metadata and writes data/nlu/reviewed.yml. Personal data is masked: e-mails",
        "# as a***@example.com, [phone], [card]; order numbers keep their shape with the digits 123456.",
        "# Rewrite [phone]/[card] into a made-up number (or delete the example) before merging.",
        "",
        'version: "3.1"',
        "nlu:" if groups else "nlu: []",
    ]
    order = sorted(groups, key=lambda name: (-sum(i.count for i in groups[name]), name))
    for intent in order:
        items = sorted(groups[intent], key=lambda i: (-i.count, i.text))
        note = "no intent above nlu_fallback: pick one" if intent == FALLBACK_INTENT else "model's suggestion"
        lines += ["", f"# {intent}: {note}, {len(items)} distinct messages", f"- intent: {intent}",
                  "  examples:"]
        for item in items:
            review = {"reasons": sorted(item.reasons), "times": item.count,
                      "confidence": round(item.min_confidence, 3)}
            lines.append(f"  - text: {_quote(item.text)}")
            lines.append("    metadata:")
            if item.suggested_emotion:
                lines.append(f"      {EMOTION_KEY}: {_quote(item.suggested_emotion)}")
            lines.append(f"      {REVIEW_KEY}: {json.dumps(review)}")
    return "\n".join(lines) + "\n"


def write_export(export: ReviewExport, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_yaml(export), encoding="utf-8")
    return out


# -- merge -----------------------------------------------------------------------------------------------
class MergeError(Exception):
    """The review file cannot be merged; the message lists every problem. Nothing was written."""


@dataclass
class MergeResult:
    target: Path
    added: List[Tuple[str, str]] = field(default_factory=list)          # (intent, text)
    duplicates: List[Tuple[str, str]] = field(default_factory=list)     # (text, where)
    warnings: List[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"added {len(self.added)} examples to {self.target}, skipped {len(self.duplicates)} "
                 "already present"]
        lines += [f"  skipped {text!r}: {where}" for text, where in self.duplicates[:20]]
        if len(self.duplicates) > 20:
            lines.append(f"  ... and {len(self.duplicates) - 20} more")
        lines += [f"  warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


def _load_nlu(path: Path) -> Any:
    from rasa.shared.nlu.training_data.loading import load_data

    try:
        return load_data(str(path))
    except Exception as error:  # noqa: BLE001 - Rasa raises many kinds for a malformed file
        raise MergeError(f"{path} is not valid Rasa NLU YAML: {error}") from error


def _nlu_files(nlu_dir: Path) -> List[Path]:
    return sorted(p for p in nlu_dir.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def _known_emotions(config_path: Path) -> Tuple[str, ...]:
    import yaml

    if config_path.exists():
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
        for component in config.get("pipeline") or []:
            labels = (component or {}).get("emotion_labels")
            if labels:
                return tuple(str(label) for label in labels)
    return DEFAULT_EMOTIONS


def _example_metadata(message: Any) -> Dict[str, Any]:
    metadata = message.get("metadata") or {}
    return dict(metadata.get("example") or {}) if isinstance(metadata, dict) else {}


def _problems(examples: Sequence[Any], intents: Set[str], entities: Set[str], emotions: Set[str],
              domain_path: Any) -> List[str]:
    """Everything that makes the review file unmergeable, checked before any data is loaded or written."""
    problems: List[str] = []
    labels: Dict[str, str] = {}
    for message in examples:
        text, intent = str(message.get("text") or ""), str(message.get("intent"))
        if intent not in intents:
            problems.append(f"{text!r}: intent {intent!r} is not in {domain_path} (move it under one of "
                            "the domain's intents or delete it)")
        for entity in message.get("entities") or []:
            if entity.get("entity") not in entities:
                problems.append(f"{text!r}: entity {entity.get('entity')!r} is not in {domain_path}")
        emotion = _example_metadata(message).get(EMOTION_KEY)
        if emotion is not None and emotion not in emotions:
            problems.append(f"{text!r}: emotion {emotion!r} is not one of {', '.join(sorted(emotions))}")
        key = normalise(text)
        if key and labels.setdefault(key, intent) != intent:
            problems.append(f"{text!r}: listed under both {labels[key]!r} and {intent!r}")
    return problems


def merge_review(review_file: str | Path, nlu_dir: str | Path = "data/nlu",
                 domain_path: str | Path = "domain.yml", config_path: str | Path = "config.yml",
                 target: str | Path | None = None) -> MergeResult:
    """Merge the reviewed examples of *review_file* into *target* (default ``<nlu_dir>/reviewed.yml``)."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.training_data import TrainingData

    review_path, nlu_path = Path(review_file), Path(nlu_dir)
    target_path = Path(target) if target else nlu_path / DEFAULT_TARGET.name
    if not review_path.is_file():
        raise MergeError(f"{review_path} does not exist")
    if not nlu_path.is_dir():
        raise MergeError(f"{nlu_path} is not a folder of NLU data")
    reviewed = _load_nlu(review_path)
    examples = [m for m in reviewed.training_examples if m.get("intent")]
    if not examples:
        raise MergeError(f"{review_path} holds no intent examples")

    if not Path(domain_path).exists():
        raise MergeError(f"the domain {domain_path} does not exist")
    try:
        domain = Domain.load(str(domain_path))
    except Exception as error:  # noqa: BLE001 - Rasa raises many kinds for a malformed domain
        raise MergeError(f"the domain {domain_path} cannot be read: {error}") from error
    intents = set(domain.intents) - NOT_TRAINABLE_INTENTS
    entities = set(domain.entities)
    emotions = set(_known_emotions(Path(config_path)))

    problems = _problems(examples, intents, entities, emotions, domain_path)
    if problems:
        raise MergeError(f"{review_path} was not merged (nothing was written):\n  " + "\n  ".join(problems))

    existing: Dict[str, Tuple[str, Path]] = {}
    target_data = None
    for path in _nlu_files(nlu_path):
        data = _load_nlu(path)
        if path.resolve() == target_path.resolve():
            target_data = data
        for message in data.training_examples:
            if message.get("text"):
                existing.setdefault(normalise(message.get("text")), (str(message.get("intent")), path))

    result = MergeResult(target=target_path)
    seen: Set[str] = set()
    new_messages = []
    for message in examples:
        text, intent = str(message.get("text") or ""), str(message.get("intent"))
        key = normalise(text)
        if not key:
            continue
        if key in existing:
            where_intent, where = existing[key]
            result.duplicates.append((text, f"already in {where} as {where_intent}"))
            continue
        if key in seen:
            result.duplicates.append((text, "repeated in the review file"))
            continue
        seen.add(key)
        if any(mask in text for mask in ("[phone]", "[card]", "[number]", "***@")):
            result.warnings.append(f"{text!r} still holds a masked placeholder")
        metadata = _example_metadata(message)
        metadata.pop(REVIEW_KEY, None)
        message.data.pop("metadata", None)
        if metadata:
            message.data["metadata"] = {"example": metadata}
        new_messages.append(message)
        result.added.append((intent, text))
    if not new_messages:
        return result

    combined = TrainingData(training_examples=new_messages)
    if target_data is not None:  # keep what designers added by hand (examples, synonyms, regexes)
        combined = target_data.merge(combined)
    body = RasaYAMLWriter().dumps(combined)
    header = ("# Examples reviewed by conversation designers from real conversations (`shopassist review`).\n"
              "# Written by `shopassist review --merge`: edit freely; merges keep data, not comments.\n")
    content = header + body
    with tempfile.TemporaryDirectory() as check_dir:  # Rasa's loader picks the format by file suffix
        check_path = Path(check_dir) / target_path.name
        check_path.write_text(content, encoding="utf-8")
        written = {normalise(m.get("text")) for m in _load_nlu(check_path).training_examples}
    if written != {normalise(m.get("text")) for m in combined.training_examples}:
        raise MergeError(f"writing {target_path} would lose examples; nothing was changed")
    target_path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target_path.name}.", suffix=".tmp", dir=target_path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(content)
        os.replace(tmp_name, target_path)  # atomic: readers see the old file or the new one
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return result


# -- command line ----------------------------------------------------------------------------------------
def add_arguments(parser: Any) -> None:
    """The options of `shopassist review`."""
    parser.add_argument("--merge", metavar="FILE", help="merge a reviewed export into data/nlu/ instead")
    add_store_arguments(parser)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help="export messages whose intent confidence is below this (default: %(default)s)")
    parser.add_argument("--out", default="results/review.yml", help="export file (default: %(default)s)")
    parser.add_argument("--nlu-dir", default="data/nlu",
                        help="NLU data: the export leaves out what it holds, --merge writes into it "
                             "(default: %(default)s)")
    parser.add_argument("--include-labelled", action="store_true",
                        help="export messages even when data/nlu already has them")
    parser.add_argument("--domain", default="domain.yml", help="domain for --merge (default: %(default)s)")
    parser.add_argument("--config", default="config.yml",
                        help="model config for --merge (default: %(default)s)")
    parser.add_argument("--target", help="file --merge writes (default: <nlu-dir>/reviewed.yml)")


def run(args: Any) -> int:
    """Handler of `shopassist review`."""
    if args.merge:
        try:
            result = merge_review(args.merge, args.nlu_dir, args.domain, args.config, args.target)
        except MergeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(result.describe())
        if result.added:
            print("Next: `make validate`, `make train`, then talk to it and `make test`.")
        return 0
    if not 0.0 <= args.threshold <= 1.0:
        print("error: --threshold must be between 0 and 1", file=sys.stderr)
        return 2
    if args.since and args.until and args.since > args.until:
        print("error: --since is after --until", file=sys.stderr)
        return 2
    try:
        db_url = args.db or tracker_store_url(args.endpoints)
        engine = sa.create_engine(db_url)
        try:
            if not sa.inspect(engine).has_table("events"):
                print("error: no tracker store events table at the configured database", file=sys.stderr)
                return 2
        finally:
            engine.dispose()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except sa.exc.SQLAlchemyError as error:
        print(f"error: the tracker store cannot be read ({type(error).__name__})", file=sys.stderr)
        return 2
    try:
        known = set() if args.include_labelled else known_examples(args.nlu_dir)
    except MergeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    export = collect(db_url, args.since, args.until, args.threshold, known=known)
    out = write_export(export, args.out)
    print(f"{export.messages} messages ({len(export.items)} distinct) from {export.conversations} "
          f"conversations written to {out}; {export.already_labelled} already in {args.nlu_dir} left out")
    return 0
