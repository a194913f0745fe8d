"""Policy intents answer from the help pages (passage + source) whenever a passage fits, and keep the
fixed reply only when none does."""

from __future__ import annotations

import pytest

from actions import policy_answers
from actions.policy_answers import (
    POLICY_INTENTS,
    ActionAnswerDeliveryProblem,
    ActionAnswerPolicyQuestion,
    ActionAskEmail,
    ActionAskOrderId,
    ActionOrderFormInterjection,
    choose_passage,
    policy_threshold,
)
from actions.questions import asks_how_things_work, is_general_question
from shop.knowledge import DEFAULT_PATH, DEFAULT_THRESHOLD, KnowledgeBase, Passage
from tests.actions.conftest import make_tracker, responses, run_action, slot_events
from tests.ci import encoder_missing


def _passage(key, score):
    source, section = key.split("#")
    return Passage(source.title(), section, f"text of {key}", score, source)


# ------------------------------------------------------------------------------------------ the rule
def test_choose_passage_takes_the_best_hit_above_the_threshold():
    hits = [_passage("customs#Duties", 0.55), _passage("shipping#Options", 0.5)]
    assert choose_passage(hits, threshold=0.4).key == "customs#Duties"
    assert choose_passage(hits, threshold=0.6) is None  # too weak: the fixed reply answers
    assert choose_passage([], threshold=0.4) is None


def test_the_policy_threshold_is_the_calibrated_one_and_configurable(monkeypatch):
    monkeypatch.delenv(policy_answers.THRESHOLD_ENV, raising=False)
    assert policy_threshold() == policy_answers.DEFAULT_POLICY_THRESHOLD
    # below it the fixed reply still answers, so the policy path takes a page on weaker evidence than the
    # knowledge fallback, whose alternative is "I don't know" (bench/knowledge/policy_path.py)
    assert policy_threshold() < DEFAULT_THRESHOLD < policy_answers.STRONG_PAGE_THRESHOLD
    monkeypatch.setenv(policy_answers.THRESHOLD_ENV, "0.7")
    assert policy_threshold() == 0.7
    for bad in ("high", "7"):
        monkeypatch.setenv(policy_answers.THRESHOLD_ENV, bad)
        assert policy_threshold() == policy_answers.DEFAULT_POLICY_THRESHOLD


def test_every_policy_intent_has_its_fixed_reply_and_rule(domain):
    for intent in POLICY_INTENTS:
        assert f"utter_{intent}" in domain["responses"]
        assert intent in domain["intents"]


# ------------------------------------------------------------------------------------------ the action
@pytest.fixture(scope="module")
def real_kb(tmp_path_factory):
    """The shop's help pages with the shipped encoder."""
    kb = KnowledgeBase.load(DEFAULT_PATH, cache_dir=tmp_path_factory.mktemp("policy-kcache"))
    if kb.keyword_only:
        encoder_missing("the policy answers")
    return kb


@pytest.fixture
def use_kb(monkeypatch, real_kb):
    monkeypatch.setattr(policy_answers, "_knowledge_base", lambda: real_kb)
    monkeypatch.delenv(policy_answers.THRESHOLD_ENV, raising=False)
    return real_kb


def ask(domain, text, intent):
    tracker = make_tracker(text=text, intent=intent)
    return run_action(ActionAnswerPolicyQuestion(), tracker, domain)[0]


@pytest.mark.parametrize(
    "question, intent, source",
    [
        ("do you ship to Norway and who pays customs?", "delivery_options", "Customs and duties"),
        ("what does the warranty cover on headphones", "invoice", "Warranty"),
        ("how do gift cards work?", "payment_methods", "Gift cards"),
    ],
)
def test_off_topic_questions_get_the_passage_and_source(use_kb, domain, question, intent, source):
    messages = ask(domain, question, intent)
    assert responses(messages) == ["utter_knowledge_answer"]
    assert messages[0]["source"].lower().startswith(source.lower()[:8])
    assert messages[0]["answer"]


@pytest.mark.parametrize(
    "question, intent, source",
    [
        ("how long does delivery take?", "delivery_time", "Shipping"),
        ("what is your return policy?", "return_policy", "Returns"),
        ("how do I reset my password", "account_help", "Account"),
    ],
)
def test_questions_on_the_intents_own_topic_cite_its_page_too(use_kb, domain, question, intent, source):
    """Help pages by default: before, these kept the fixed summary, which cites no page."""
    messages = ask(domain, question, intent)
    assert responses(messages) == ["utter_knowledge_answer"]
    assert messages[0]["source"].lower().startswith(source.lower())


def test_a_question_no_passage_fits_keeps_the_fixed_reply(use_kb, domain):
    assert responses(ask(domain, "zzz qqq", "invoice")) == ["utter_invoice"]


def test_a_broken_knowledge_base_keeps_the_fixed_reply(monkeypatch, domain):
    def broken():
        raise OSError("documents missing")

    monkeypatch.setattr(policy_answers, "_knowledge_base", broken)
    assert responses(ask(domain, "who pays customs?", "delivery_options")) == ["utter_delivery_options"]


def test_without_the_encoder_the_fixed_reply_is_kept(monkeypatch, domain):
    keyword_only = KnowledgeBase.load(DEFAULT_PATH, encoder=None, cache_dir=None)
    monkeypatch.setattr(policy_answers, "_knowledge_base", lambda: keyword_only)
    assert responses(ask(domain, "how do gift cards work?", "payment_methods")) == ["utter_payment_methods"]


def test_other_intents_and_empty_text(monkeypatch, domain):
    monkeypatch.setattr(policy_answers, "_knowledge_base", lambda: pytest.fail("not consulted"))
    assert responses(ask(domain, "hello", "greet")) == ["utter_default"]
    assert responses(ask(domain, "   ", "invoice")) == ["utter_invoice"]


# ------------------------------------------------------------------------ questions vs requests
@pytest.mark.parametrize(
    "text, general",
    [
        ("can I swap for a bigger size?", True),
        ("how long do refunds take?", True),
        ("is it still under guarantee?", True),
        ("what if my parcel arrives damaged?", True),
        ("where is my order?", False),
        ("can I cancel my order SA-100003?", False),
        ("I want to return the boots", False),
        ("cancel my order", False),
        ("track SA-100001", False),
    ],
)
def test_general_questions_and_requests_are_told_apart(text, general):
    assert is_general_question(text, []) is general


def test_an_order_number_makes_it_a_request():
    assert not is_general_question("can I return these?", [{"entity": "order_id", "value": "SA-100002"}])


def test_a_general_question_that_starts_the_order_form_gets_the_help_page_first(use_kb, domain):
    question = "can I exchange something for another size instead of a refund?"
    tracker = make_tracker(text=question, intent="return_item")
    messages, events = run_action(ActionAskOrderId(), tracker, domain)
    assert responses(messages) == ["utter_knowledge_answer", "utter_ask_order_id_after_answer"]
    assert messages[0]["source"].lower().startswith("returns")
    assert events == []


@pytest.mark.parametrize(
    "text, intent",
    [("I want to return the boots", "return_item"), ("cancel my order", "cancel_order"), ("SA-1", "inform")],
)
def test_a_request_gets_the_plain_question_for_the_order_number(monkeypatch, domain, text, intent):
    monkeypatch.setattr(policy_answers, "_knowledge_base", lambda: pytest.fail("not consulted"))
    messages, _ = run_action(ActionAskOrderId(), make_tracker(text=text, intent=intent), domain)
    assert responses(messages) == ["utter_ask_order_id"]


def test_delivery_trouble_question_or_report(use_kb, domain):
    question = make_tracker(text="what do I do if a parcel arrives damaged?", intent="delivery_problem")
    messages, _ = run_action(ActionAnswerDeliveryProblem(), question, domain)
    assert responses(messages) == ["utter_knowledge_answer"]
    report = make_tracker(text="my parcel never arrived", intent="delivery_problem")
    messages, _ = run_action(ActionAnswerDeliveryProblem(), report, domain)
    assert responses(messages) == ["utter_delivery_problem"]


def _in_form_tracker(text, intent):
    """The order form asks for the e-mail of a cancellation; the shopper's message set order_task anew."""
    tracker = make_tracker(
        text=text,
        intent=intent,
        slots={"order_task": "refund_status"},
        active_loop="order_form",
        requested_slot="email",
    )
    tracker.events[:0] = [{"event": "slot", "name": "order_task", "value": "cancel"}]
    tracker.events.append({"event": "slot", "name": "order_task", "value": "refund_status"})
    return tracker


def test_a_question_while_the_form_asks_is_answered_and_keeps_the_task(use_kb, domain):
    tracker = _in_form_tracker(
        "wait, once I cancel, how many days before the money is back?", "refund_status"
    )
    messages, events = run_action(ActionOrderFormInterjection(), tracker, domain)
    assert responses(messages) == ["utter_knowledge_answer"]
    assert slot_events(events) == {"order_task": "cancel"}


def test_a_repeated_request_while_the_form_asks_gets_a_reminder(monkeypatch, domain):
    monkeypatch.setattr(policy_answers, "_knowledge_base", lambda: pytest.fail("not consulted"))
    tracker = _in_form_tracker("cancel my order", "cancel_order")
    messages, events = run_action(ActionOrderFormInterjection(), tracker, domain)
    assert responses(messages) == ["utter_order_form_still_asking"]
    assert events == []


def test_a_how_question_about_a_named_order_gets_the_help_page_before_the_identity_check(use_kb, domain):
    order = [{"entity": "order_id", "value": "SA-100003"}]
    text = "is it too late to cancel SA-100003? it shipped already"
    tracker = make_tracker(text=text, intent="cancel_order", entities=order)
    messages, _ = run_action(ActionAskEmail(), tracker, domain)
    assert responses(messages) == ["utter_knowledge_answer", "utter_ask_email"]
    plain = make_tracker(text="cancel SA-100003 please", intent="cancel_order", entities=order)
    assert responses(run_action(ActionAskEmail(), plain, domain)[0]) == ["utter_ask_email"]
    retry = make_tracker(text="alex@example.com", intent="inform")
    assert responses(run_action(ActionAskEmail(), retry, domain)[0]) == ["utter_ask_email"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("how long until my refund arrives?", True),
        ("is it too late to cancel my order?", True),
        ("where is my order?", False),
        ("cancel my order please", False),
        ("when will my order SA-100001 come?", False),
    ],
)
def test_policy_cues_in_questions_about_ones_own_order(text, expected):
    assert asks_how_things_work(text, []) is expected


# ----------------------------------------------------------- general questions under the search intents
def _search_hoodies(domain, text):
    """Messages of action_search_products for a search_product message naming hoodies."""
    from actions.products import ActionSearchProducts

    tracker = make_tracker(
        slots={"category": "hoodies"},
        text=text,
        intent="search_product",
        entities=[{"entity": "category", "value": "hoodies"}],
    )
    return run_action(ActionSearchProducts(), tracker, domain)[0]


def test_a_size_question_that_names_a_category_gets_the_size_guide_then_the_products(use_kb, shop_db, domain):
    messages = _search_hoodies(domain, "chest 102 cm, is that an L or an XL in hoodies?")
    assert responses(messages) == ["utter_knowledge_answer", "utter_search_results"]
    assert messages[0]["source"].lower().startswith("size guide: clothing")


def test_a_plain_search_consults_no_help_page(monkeypatch, shop_db, domain):
    monkeypatch.setattr(policy_answers, "_knowledge_base", lambda: pytest.fail("not consulted"))
    assert responses(_search_hoodies(domain, "show me hoodies")) == ["utter_search_results"]


def test_the_category_question_answers_a_sizing_question_first(use_kb, domain):
    from actions.products import ActionAskCategory

    text = "what is a UK 8 in your shoe sizes?"
    tracker = make_tracker(text=text, intent="search_product")
    messages, events = run_action(ActionAskCategory(), tracker, domain)
    assert responses(messages) == ["utter_knowledge_answer", "utter_ask_category_after_answer"]
    assert "shoes" in messages[0]["source"].lower()
    assert events == []


@pytest.mark.parametrize(
    "text, intent",
    [
        ("I'm looking for something", "search_product"),
        ("what bags do you have", "search_product"),
        ("no idea", "inform"),
    ],
)
def test_the_category_question_is_plain_without_a_fitting_page(use_kb, domain, text, intent):
    from actions.products import ActionAskCategory

    messages, _ = run_action(ActionAskCategory(), make_tracker(text=text, intent=intent), domain)
    assert responses(messages) == ["utter_ask_category"]


@pytest.mark.parametrize(
    "text",
    [
        "the jumper went bobbly after two washes, is that expected and how can I avoid it",
        "torn between M and L for the linen shirt, which would you take",
        "I was wondering whether you ship to Norway",
        "I'd like to know if the boots are waterproof",
    ],
)
def test_questions_asked_late_or_indirectly_are_questions(text):
    assert is_general_question(text, []) is True


@pytest.mark.parametrize(
    "text",
    [
        "I know what I want",
        "the boots are too small so I want to return them",
        "I want to know where my parcel SA-100007 is",
        "show me what you have in red",
    ],
)
def test_statements_and_requests_with_question_words_inside_are_not(text):
    assert is_general_question(text, []) is False


class _OnePassageKB:
    """A knowledge base whose best passage always scores ``score``."""

    keyword_only = False

    def __init__(self, score):
        self.score = score

    def search(self, question, k=3):
        return [_passage("care#Wool and merino", self.score)]


def test_the_policy_path_takes_weaker_pages_than_the_product_and_order_flows(monkeypatch, domain):
    """Between the two thresholds a page beats a policy intent's fixed summary, but not a question back."""
    from actions.products import ActionProductInfo

    monkeypatch.delenv(policy_answers.THRESHOLD_ENV, raising=False)
    between = (policy_answers.DEFAULT_POLICY_THRESHOLD + DEFAULT_THRESHOLD) / 2
    monkeypatch.setattr(policy_answers, "_knowledge_base", lambda: _OnePassageKB(between))
    question = "how should I wash a wool jumper?"
    assert responses(ask(domain, question, "return_policy")) == ["utter_knowledge_answer"]
    messages, _ = run_action(ActionProductInfo(), make_tracker(text=question, intent="product_info"), domain)
    assert responses(messages) == ["utter_ask_which_product"]
    messages, _ = run_action(ActionAskOrderId(), make_tracker(text=question, intent="return_item"), domain)
    assert responses(messages) == ["utter_ask_order_id"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("can I change the delivery address on SA-100033? we moved", True),
        ("tracking has shown nothing since yesterday, did something go wrong?", True),
        ("the parcel still says label created, is that normal?", True),
        ("could i still swap the size on my order", True),
        ("where is my order SA-100001?", False),
        ("change the address on SA-100033 please", False),
        ("can i", False),
    ],
)
def test_questions_about_what_is_allowed(text, expected):
    from actions.questions import asks_what_is_allowed

    assert asks_what_is_allowed(text) is expected


@pytest.mark.parametrize("score, expected", [(0.7, ["utter_knowledge_answer", "utter_ask_email"]),
                                             (0.62, ["utter_ask_email"])])
def test_a_can_i_request_about_a_named_order_gets_only_a_strongly_fitting_page(monkeypatch, domain, score,
                                                                               expected):
    """"can I change the address on SA-100033?" asks and requests at once: the order form answers it from the
    help pages first only when a page fits strongly (STRONG_PAGE_THRESHOLD), then goes on."""
    monkeypatch.setattr(policy_answers, "_knowledge_base", lambda: _OnePassageKB(score))
    order = [{"entity": "order_id", "value": "SA-100033"}]
    text = "can I change the delivery address on SA-100033? we moved"
    tracker = make_tracker(text=text, intent="change_shipping_address", entities=order)
    messages, _ = run_action(ActionAskEmail(), tracker, domain)
    assert responses(messages) == expected
    plain = make_tracker(text="where is SA-100033?", intent="order_status", entities=order)
    assert responses(run_action(ActionAskEmail(), plain, domain)[0]) == ["utter_ask_email"]


def test_a_button_payload_gets_the_intents_own_reply(monkeypatch, domain):
    """"/place_order" is a button, not a question: it must not be matched against the help pages (a page about
    placing an order replaced the reply's "Shall I search for something?" offer)."""
    monkeypatch.setattr(policy_answers, "_knowledge_base", lambda: _OnePassageKB(0.9))
    assert responses(ask(domain, "/place_order", "place_order")) == ["utter_place_order"]
    assert responses(ask(domain, "how do I place an order?", "place_order")) == ["utter_knowledge_answer"]
