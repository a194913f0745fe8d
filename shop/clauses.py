"""Two requests in one message: where a shopper's message splits into clauses that each ask for something.

"How long does shipping take and is it free?" asks two things; an intent classifier gives the whole message
one intent, and the bot answered only one half. The NLU (``TransformerIntentEmotionClassifier`` with
``classify_clauses``) therefore cuts such a message into its clauses with :func:`split_requests`, classifies
each one and records them in the parse data under :data:`CLAUSES_KEY`; after the bot answered the message's
intent, ``OtherClausePolicy`` and ``action_answer_other_clause`` take up the clauses that are left
(:func:`unanswered_clauses`; a message may ask up to :data:`MAX_CLAUSES` things).

Pure text helpers, shared by the NLU component and the actions (components never import actions, so the
question heuristics they both need live here). Splitting is deliberately conservative: a message is cut
only where *both* sides read as a question or a request of their own, because a wrong cut costs an extra,
off-topic answer while a missed one only costs what the message cost before:

* hard boundaries: after "?", "!", "." or ";" followed by a space (a decimal point "4.95" is no boundary);
* soft boundaries: " and ", " also ", " plus ", " and also " (optionally with a comma), but only when the
  words after them start a question or a request ("... and is it free?", "... and I want a refund");
  "black and white", "return it and get a refund" and "if I cancel, will I ..." are never cut;
* a comma alone, more strictly (commas mostly sit inside one request: "a red, warm jacket", "hi, where is
  my order", "yes, please", "shoes, bags and hats"): only when the words after it open a question by
  inversion ("is it ...", "can I ...", "how long does ...") or a plain request ("I want ...", "please
  cancel ..."), bring a topic of their own (not "do you know?", "is that possible?", "how do I do that?"),
  and the words before it are a request that is neither a "when/where" clause without inversion ("when
  it arrives, can I ...") nor a lead-in ("could you tell me, is ...");
* a piece that is not a question or request of at least three words ("Hi!", "It's been two weeks.",
  "Can you help me?") stays with its neighbour, so "My parcel is late. Where is it?" is one request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

#: Key of the clause list in Rasa's message / parse data (``tracker.latest_message["clauses"]``).
CLAUSES_KEY = "clauses"
#: Key, in the clause OtherClausePolicy hands to the answer action, of the clauses left open after it (a
#: message that asked three things leaves two open).
FURTHER_KEY = "further"
#: A message cut into more pieces than this is a story, not a list of requests: it is left whole.
MAX_CLAUSES = 3
#: Words a clause needs to count as a request of its own ("is it free?", "I want a refund").
MIN_CLAUSE_WORDS = 3

#: Clause intents that are never followed up: answers, small talk, and what other parts of the bot handle
#: (a request for a person goes to HandoffPolicy; a complaint or feedback is no question to answer).
DEFAULT_IGNORED_INTENTS: tuple[str, ...] = (
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "inform",
    "bot_challenge",
    "out_of_scope",
    "other_language",
    "request_human",
    "nlu_fallback",
    "rate",
    "give_feedback",
    "complaint",
)
#: Message intents after whose answer no clause is followed up: the message was not understood as a whole, or
#: it answers the bot (a yes or no is never a second request).
DEFAULT_IGNORED_MESSAGE_INTENTS: tuple[str, ...] = (
    "affirm",
    "deny",
    "inform",
    "nlu_fallback",
    "out_of_scope",
    "other_language",
    "rate",
    "request_human",
)
#: Intents that ask for the same thing: a clause of one of them counts as answered with the other.
DEFAULT_EQUIVALENT_INTENTS: tuple[tuple[str, ...], ...] = (
    ("order_status", "delivery_problem"),
    ("return_item", "request_refund"),
)
#: A clause's own intent must be at least this sure to be followed up (clauses are short, often vague).
DEFAULT_MIN_CLAUSE_CONFIDENCE = 0.6

_LEAD = r"(?:(?:hi|hello|hey|ok|okay|oh|so|and|also|plus|btw|but|well)\b[,!.\s]*)*"
#: First words of a question ("how long ...", "is it ...", "where is ...").
_QUESTION_START = re.compile(
    _LEAD + r"(how|what|whats|what's|when|where|wheres|where's|which|who|whom|whose|why|can|could|do|does|"
    r"did|is|are|was|were|will|would|should|shall|may|might|have|has|any)\b",
    re.IGNORECASE,
)
#: First words of a request ("I want ...", "please cancel ...", "tell me ...").
_REQUEST_START = re.compile(
    _LEAD + r"(?:please\s+)?(i\s+(want|wanna|need|would\s+like)|i'?d\s+like|please|cancel|return|refund|"
    r"track|change|show\s+me|tell\s+me|find\s+me|check|send\s+me|help\s+me|let\s+me\s+know)\b",
    re.IGNORECASE,
)
#: Openers that ask for attention rather than for something ("can you help me?", "anyone there?").
_FILLER = re.compile(
    r"^\W*(?:(?:hi|hello|hey)\b\W*)?(?:(?:can|could|would|will)\s+(?:you|u|someone|anyone)\s+(?:please\s+)?"
    r"help(?:\s+me)?(?:\s+(?:out|please|with\s+something))?|(?:can|could|may)\s+i\s+ask\s+(?:you\s+)?"
    r"(?:something|a\s+question)|(?:is\s+)?(?:any(?:one|body)|some(?:one|body))\s+there|are\s+you\s+there)"
    r"[\s?!.]*$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+")
#: After a "?", "!", "." or ";" and a space (or straight after a "?"): the next sentence.
_HARD_BOUNDARY = re.compile(r"(?<=[?!.;])\s+|(?<=\?)(?=[^\W\d_])")
#: " and ", " also ", " plus ", ", and also ": a clause may start after it.
_SOFT_BOUNDARY = re.compile(r"\s*,?\s+(?:and\s+also|and|also|plus|&)\s*,?\s+", re.IGNORECASE)
#: A comma with no conjunction after it (", and" is a soft boundary); "4,95" is no boundary.
_COMMA_BOUNDARY = re.compile(r"\s*,(?!\d)(?!\s*(?:and|also|plus|&)\b)\s*", re.IGNORECASE)
#: Auxiliaries and modals: a question after a comma starts with one ("is it free?") or has one right after
#: its question word ("how long *does* ...").
_AUXILIARY = (
    r"(?:am|is|isn't|are|aren't|was|wasn't|were|weren't|do|don't|does|doesn't|did|didn't|can|can't|could|"
    r"couldn't|will|won't|would|wouldn't|should|shouldn't|shall|may|might|must|have|haven't|has|hasn't)"
)
#: Who or what an inverted question is about: "is *it* free", "can *I* change", "does *the* parka".
_SUBJECT = (
    r"(?:(?:i|you|u|we|it|they|he|she|there|this|that|these|those|the|my|your|its|our|their|a|an|any|some|"
    r"someone|anyone|anything|sa)\b|[#\d])"
)
#: Words between a question word and its auxiliary ("how *long* does", "which *size* should"); a pronoun
#: there makes a relative clause ("..., where *it* is safe"), not a question.
_QUESTION_MIDDLE = r"(?:\s+(?!(?:i|you|u|we|it|they|he|she|there|someone|somebody)\b)[^\W\d_]+){0,2}?"
#: How the words after a comma start when they are a request of their own: a question by inversion
#: ("is it free?", "can I still change it?", "how long does it take?", "where's my refund?"; "which is too
#: small" and "who is ..." need a word between, else they are relative clauses), or a plain request ("I
#: want ...", "please cancel it", "tell me ..."; a bare "please" is politeness, not a request).
_COMMA_CLAUSE_START = re.compile(
    _LEAD
    + r"(?:(?:how|what|when|where|why)"
    + _QUESTION_MIDDLE
    + r"\s+"
    + _AUXILIARY
    + r"\b|(?:which|who|whose|whom)(?:\s+[^\W\d_]+){1,2}?\s+"
    + _AUXILIARY
    + r"\b|(?:what|where|when|how|who)(?:['’]?s)\b|"
    + _AUXILIARY
    + r"\s+"
    + _SUBJECT
    + r"|(?:please\s+)?(?:i\s+(?:want|wanna|need|would\s+like)|i['’]?d\s+like|cancel|return|refund|track|"
    r"change|check|show\s+me|tell\s+me|find\s+me|send\s+me|help\s+me|let\s+me\s+know)\b|please\s+[^\W\d_]+)",
    re.IGNORECASE,
)
#: Before a comma: "when"/"where" not followed by an auxiliary starts a condition ("when it arrives, can
#: I return it?"), not a question of its own.
_CONDITION_START = re.compile(_LEAD + r"(?:when|where)\b(?!['’]s\b|\s+" + _AUXILIARY + r"\b)", re.IGNORECASE)
#: Before a comma: words that only lead in to the question after it ("could you tell me, is ...", "do you
#: know, ...", "can you check, ...", "what do you think, ...").
_LEAD_IN_END = re.compile(
    r"\b(?:tell\s+me|let\s+me\s+know|know|wonder(?:ing|ed)?|ask(?:\s+you)?|question|check|see|find\s+out|"
    r"confirm|think|reckon|say)\W*$",
    re.IGNORECASE,
)
#: Words that give a clause after a comma no topic of its own: "is that possible?", "do you know?", "can
#: you tell me?", "how does that work?", "how do they work?" only point back at what came before the comma.
_NO_TOPIC_WORDS = frozenset(
    "possible okay alright fine right true correct sure doable work works know think reckon remember tell "
    "help please thanks thank they them their theirs there".split()
)
#: ... while "how much", "how long", "how many" ask for a price, a time or a number: a topic of its own,
#: even about something named before the comma ("do you have it in M, how much is it?").
_MEASURE_QUESTION = re.compile(_LEAD + r"how\s+(?:much|long|many|soon|fast)\b", re.IGNORECASE)

#: Conjunctions a clause starts with that are not part of what it asks.
_LEADING_CONJUNCTION = re.compile(r"^(?:(?:and|also|plus|&|but|btw|oh)\b[,\s]*)+", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    """One request of a message: its text (no leading "and"/"also") and where it sits in the message."""

    text: str
    start: int
    end: int


def looks_like_request(text: str) -> bool:
    """Whether ``text`` reads as a question or a request of its own: it starts like one ("how ...", "is
    ...", "I want ...", "please ..."), has at least :data:`MIN_CLAUSE_WORDS` words and is no mere opener
    ("can you help me?")."""
    text = text.strip()
    if len(_WORD.findall(text)) < MIN_CLAUSE_WORDS or _FILLER.match(text):
        return False
    return bool(_QUESTION_START.match(text) or _REQUEST_START.match(text))


def _pieces(text: str, boundary: re.Pattern[str], start: int, end: int) -> List[tuple[int, int]]:
    """``text[start:end]`` cut at every match of ``boundary`` (the boundaries themselves left out)."""
    pieces, last = [], start
    for match in boundary.finditer(text, start, end):
        if match.start() > last:
            pieces.append((last, match.start()))
        last = match.end()
    if last < end:
        pieces.append((last, end))
    return pieces


def _comma_cut(before: str, after: str) -> bool:
    """Whether a comma between ``before`` and ``after`` separates two requests (see the module doc): the
    stricter test, as most commas sit inside one request."""
    if not _COMMA_CLAUSE_START.match(after.strip()) or not looks_like_request(after):
        return False
    has_topic = any(word not in _NO_TOPIC_WORDS for word in _topic_words(after))
    if not has_topic and not _MEASURE_QUESTION.match(after.strip()):
        return False
    return (
        looks_like_request(before)
        and not _CONDITION_START.match(before.strip())
        and not _LEAD_IN_END.search(before)
    )


def _soft_split(text: str, start: int, end: int) -> List[tuple[int, int]]:
    """A sentence cut at " and " / " also " wherever what follows starts a question or request and what
    precedes is one too, and at a comma where :func:`_comma_cut` says so; otherwise left whole."""
    boundaries = sorted(
        [(m, False) for m in _SOFT_BOUNDARY.finditer(text, start, end)]
        + [(m, True) for m in _COMMA_BOUNDARY.finditer(text, start, end)],
        key=lambda found: found[0].start(),
    )
    spans: List[tuple[int, int]] = []
    last = start
    for match, comma in boundaries:
        if match.start() < last:
            continue  # the comma of ", and also, ...": inside a soft boundary already cut
        before, after = text[last : match.start()], text[match.end() : end]
        if comma:
            cut = _comma_cut(before, after)
        else:
            cut = looks_like_request(after) and looks_like_request(before)
        if cut:
            spans.append((last, match.start()))
            last = match.end()
    spans.append((last, end))
    return spans


def _trimmed(text: str, start: int, end: int) -> Optional[Clause]:
    """The clause at ``text[start:end]`` without outer spaces and leading conjunctions; None if empty."""
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    start += lead
    piece = piece.strip()
    conjunction = _LEADING_CONJUNCTION.match(piece)
    if conjunction and conjunction.end() < len(piece):
        start += conjunction.end()
        piece = piece[conjunction.end() :]
    if not piece:
        return None
    return Clause(piece, start, start + len(piece))


def split_requests(text: Optional[str], max_clauses: int = MAX_CLAUSES) -> List[Clause]:
    """The clauses of a message that asks two (up to ``max_clauses``) things, in order; an empty list for a
    message with one request (the usual case), none, or more than ``max_clauses``.

    Offsets are into ``text`` as given, so entities found in the whole message can be assigned to a clause.
    """
    if not text or not text.strip():
        return []
    spans: List[tuple[int, int]] = []
    for start, end in _pieces(text, _HARD_BOUNDARY, 0, len(text)):
        spans.extend(_soft_split(text, start, end))
    # A piece that asks nothing of its own ("Hi!", "It's been two weeks.") joins its neighbour.
    merged: List[List[int]] = []
    pending_start: Optional[int] = None
    for start, end in spans:
        if looks_like_request(text[start:end]):
            merged.append([pending_start if pending_start is not None else start, end])
            pending_start = None
        elif merged:
            merged[-1][1] = end
        elif pending_start is None:
            pending_start = start
    if len(merged) < 2 or len(merged) > max_clauses:
        return []
    clauses = [_trimmed(text, start, end) for start, end in merged]
    return [clause for clause in clauses if clause is not None]


def _intent_name(value: Any) -> Optional[str]:
    if isinstance(value, Mapping):
        value = value.get("name")
    return str(value) if value else None


def _confidence(value: Any) -> float:
    if not isinstance(value, Mapping):
        return 0.0
    try:
        return float(value.get("confidence") or 0.0)
    except (TypeError, ValueError):
        return 0.0


def request_key(
    intent: Optional[str], equivalent: Iterable[Sequence[str]] = DEFAULT_EQUIVALENT_INTENTS
) -> str:
    """The intent, or the first intent of its group of ``equivalent`` intents."""
    for group in equivalent:
        if intent in group:
            return str(group[0])
    return str(intent)


def unanswered_clauses(
    clauses: Any,
    message_intent: Optional[str],
    ignored: Iterable[str] = DEFAULT_IGNORED_INTENTS,
    equivalent: Iterable[Sequence[str]] = DEFAULT_EQUIVALENT_INTENTS,
    min_confidence: float = DEFAULT_MIN_CLAUSE_CONFIDENCE,
    ignored_message_intents: Iterable[str] = DEFAULT_IGNORED_MESSAGE_INTENTS,
) -> List[Dict[str, Any]]:
    """The clauses (as recorded in the parse data, in message order) that the answer to ``message_intent``
    left open; an empty list when none.

    The bot answers a message by its intent, which covers the clause of the same (or an equivalent) intent.
    A clause is left open when its own intent differs from that, is at least ``min_confidence`` sure and not
    ``ignored``. When no clause has the message's intent it cannot be told which one the answer covered, and
    nothing is returned: a second answer to the same question is worse for the shopper than none. Nor is
    anything left open when the message's intent is one of ``ignored_message_intents`` (a message not
    understood, a yes or no). A message that asked three things may leave two clauses open.
    """
    ignored = set(ignored)
    equivalent = [tuple(group) for group in equivalent]
    if (
        not isinstance(clauses, list)
        or len(clauses) < 2
        or not message_intent
        or message_intent in set(ignored_message_intents)
    ):
        return []
    answered = request_key(message_intent, equivalent)
    recorded = [clause for clause in clauses if isinstance(clause, Mapping)]
    if not any(request_key(_intent_name(c.get("intent")), equivalent) == answered for c in recorded):
        return []
    open_clauses = []
    for clause in recorded:
        intent = _intent_name(clause.get("intent"))
        if (
            intent is None
            or intent in ignored
            or request_key(intent, equivalent) == answered
            or _confidence(clause.get("intent")) < min_confidence
        ):
            continue
        open_clauses.append(dict(clause))
    return open_clauses


#: Words that point back to what the other clause named ("is *it* free?").
_BACK_REFERENCE = re.compile(r"\b(it|its|they|them|their|that|this|those|these|one|ones)\b", re.IGNORECASE)
#: Words that carry no topic of their own (on top of :data:`shop.matching.STOPWORDS`).
_CONTEXT_STOPWORDS = frozenset(
    "how what whats when where which who why do does did can could would should will shall may might be been "
    "was were has have had you your there here much many long take takes about still also just yet not no "
    "so as at by from into than then too very what's where's".split()
)
_CONTEXT_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
#: A clause with at most this many words of its own that points back takes the other clauses' words along.
MAX_CONTEXT_FREE_WORDS = 2


def _topic_words(text: str) -> List[str]:
    from shop.matching import STOPWORDS

    words = []
    for word in _CONTEXT_WORD.findall(text.lower()):
        if len(word) > 2 and word not in STOPWORDS and word not in _CONTEXT_STOPWORDS and word not in words:
            words.append(word)
    return words


def contextual_query(clause_text: str, other_texts: Iterable[str]) -> str:
    """The clause as a search query for the help pages: a clause that only points back ("is it free?", at
    most :data:`MAX_CONTEXT_FREE_WORDS` topic words and an "it"/"they"/"that") gets the topic words of the
    other clauses added ("is it free? shipping"); any other clause is searched as it stands."""
    if len(_topic_words(clause_text)) > MAX_CONTEXT_FREE_WORDS or not _BACK_REFERENCE.search(clause_text):
        return clause_text
    context = [word for text in other_texts for word in _topic_words(text)]
    context = [word for i, word in enumerate(context) if word not in context[:i]]
    return f"{clause_text} {' '.join(context)}".strip() if context else clause_text


def entities_in(clause: Mapping[str, Any], entities: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The message's entities that lie inside ``clause`` (by their ``start``/``end`` offsets)."""
    start, end = clause.get("start"), clause.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        return []
    inside = []
    for entity in entities or ():
        e_start, e_end = entity.get("start"), entity.get("end")
        if isinstance(e_start, int) and isinstance(e_end, int) and start <= e_start and e_end <= end:
            inside.append(dict(entity))
    return inside


__all__ = [
    "CLAUSES_KEY",
    "Clause",
    "DEFAULT_EQUIVALENT_INTENTS",
    "DEFAULT_IGNORED_INTENTS",
    "DEFAULT_IGNORED_MESSAGE_INTENTS",
    "DEFAULT_MIN_CLAUSE_CONFIDENCE",
    "FURTHER_KEY",
    "contextual_query",
    "entities_in",
    "looks_like_request",
    "request_key",
    "split_requests",
    "unanswered_clauses",
]
