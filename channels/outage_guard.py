"""Outages become an apology, never silence and never a reply that is forgotten later.

Rasa 3.6 hides three kinds of outage from the shopper, on every channel:

* **Action server down or failing.** ``MessageProcessor._run_action`` logs the exception of a
  ``RemoteAction`` and carries on with no events: the shopper gets no reply at all.
* **Tracker store down.** Rasa wraps every tracker store in ``FailSafeTrackerStore``: a failed read
  returns "no such conversation" and a failed write goes to an in-memory store. The shopper gets an
  answer from a conversation that starts from scratch, kept only in the memory of one replica and lost
  (with the acknowledged message) once the database is back; a read that fails once (a stale pooled
  connection after a database restart) makes the next save append a blank tracker's events to the
  stored ones.
* **Lock store (Redis) down**, or any other error while handling a message: the connectors log the
  exception; REST answers ``200 []``, socket.io and Telegram send nothing.

This module fixes all three for every channel at once, inside Rasa's own extension points:

* The action endpoint becomes an :class:`OutageTolerantActionEndpoint`: when the action server cannot
  be reached, times out or answers 5xx/404, it answers *for* the action server with the apology
  response (``utter_action_unavailable``). ``RemoteAction`` then utters it through the current output
  channel like any action response, so it is recorded in the tracker as what the shopper saw. A 400
  (``ActionExecutionRejection``, used by forms) passes through untouched. While a conversation is paused
  for a human (handoff), Rasa runs no actions at all, so the guard cannot speak then.
* The tracker store's silent fallback is switched off: an error of the tracker store raises
  :class:`TrackerStoreUnavailable` instead of starting a fresh conversation in memory.
* Message handling is wrapped: an error while handling a message discards replies collected for it
  (they were not stored, so they must not be acknowledged), sends ``utter_message_not_received`` through
  the message's own output channel and re-raises, so the connector still logs it / answers with its error
  status.

It is installed by configuring it like a channel in ``credentials.yml`` (it serves no route; Rasa loads
channels by module path, and a channel's blueprint can run code once the agent is loaded)::

    channels.outage_guard.OutageGuard:
      action_unavailable_response: utter_action_unavailable   # optional, these are the defaults
      message_not_received_response: utter_message_not_received
      action_timeout_s: 30      # Rasa waits up to 300 s for the action server by default

When the domain has no such response (a model trained before it was added), the built-in text is sent.
A model loaded later through ``PUT /model`` keeps the action endpoint guard (the endpoint object is
shared) but not the other two; restart the server after loading a model that way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.tracker_store import FailSafeTrackerStore, TrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import ClientResponseError, EndpointConfig
from sanic import Blueprint, Sanic

from channels import action_calls

logger = logging.getLogger(__name__)

DEFAULT_ACTION_UNAVAILABLE_RESPONSE = "utter_action_unavailable"
DEFAULT_MESSAGE_NOT_RECEIVED_RESPONSE = "utter_message_not_received"
DEFAULT_ACTION_TIMEOUT_S = 30.0
# Sent when the loaded model's domain lacks the response (trained before the response was added).
FALLBACK_TEXTS = {
    DEFAULT_ACTION_UNAVAILABLE_RESPONSE: (
        "Sorry, something went wrong on our side and I couldn't finish that. Please try again in a moment."
    ),
    DEFAULT_MESSAGE_NOT_RECEIVED_RESPONSE: (
        "Sorry, I couldn't receive your message just now. Please send it again in a minute."
    ),
}
# HTTP statuses of the action server that mean "the action did not run properly" (400 is Rasa's
# ActionExecutionRejection protocol and must reach RemoteAction unchanged).
ACTION_REJECTION_STATUS = 400


class TrackerStoreUnavailable(RuntimeError):
    """The tracker store failed; raised instead of falling back to a store that forgets."""


class OutageTolerantActionEndpoint(EndpointConfig):
    """The action endpoint, answering with an apology response when the action server cannot.

    Rasa creates the endpoint from ``endpoints.yml`` as a plain ``EndpointConfig``;
    :func:`make_action_endpoint_tolerant` upgrades that very object, so the agent, its processor and any
    agent Rasa creates later from the same endpoints all use it.
    """

    apology_response: str = DEFAULT_ACTION_UNAVAILABLE_RESPONSE
    apology_text: str = FALLBACK_TEXTS[DEFAULT_ACTION_UNAVAILABLE_RESPONSE]
    domain_has_apology: bool = False
    timeout_s: float = DEFAULT_ACTION_TIMEOUT_S

    async def request(
        self,
        method: str = "post",
        subpath: Optional[str] = None,
        content_type: Optional[str] = "application/json",
        compress: bool = False,
        **kwargs: Any,
    ) -> Optional[Any]:
        kwargs["timeout"] = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            return await super().request(method, subpath, content_type, compress, **kwargs)
        except ClientResponseError as error:
            if error.status == ACTION_REJECTION_STATUS:
                raise
            logger.error("Action server at %s answered %s: the shopper gets an apology.",
                         self.url, error.status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.error("Action server at %s unreachable (%r): the shopper gets an apology.",
                         self.url, error)
        return self.apology()

    def apology(self) -> Dict[str, Any]:
        """An action-server response that utters the apology and changes nothing else."""
        if self.domain_has_apology:
            message = {"response": self.apology_response}
        else:
            message = {"text": self.apology_text}
        return {"events": [], "responses": [message]}


def make_action_endpoint_tolerant(
    endpoint: EndpointConfig, apology_response: str, domain_responses: Iterable[str], timeout_s: float
) -> OutageTolerantActionEndpoint:
    """Upgrades Rasa's action ``EndpointConfig`` in place (it is shared by every agent Rasa creates)."""
    endpoint.__class__ = OutageTolerantActionEndpoint
    assert isinstance(endpoint, OutageTolerantActionEndpoint)
    endpoint.apology_response = apology_response
    endpoint.apology_text = FALLBACK_TEXTS.get(
        apology_response, FALLBACK_TEXTS[DEFAULT_ACTION_UNAVAILABLE_RESPONSE]
    )
    endpoint.domain_has_apology = apology_response in set(domain_responses)
    endpoint.timeout_s = timeout_s
    return endpoint


def _raise_unavailable(error: Exception) -> None:
    raise TrackerStoreUnavailable(f"tracker store failed: {error}") from error


def refuse_in_memory_fallback(tracker_store: TrackerStore) -> None:
    """Makes the agent's ``FailSafeTrackerStore`` raise on errors of the real store.

    Its error callback (a constructor argument, hence the private attribute) runs before it falls back,
    for reads as well as writes: a failed read would otherwise start the conversation from scratch, and
    a later save of that blank tracker appends to the stored events as if it held them all.
    """
    if isinstance(tracker_store, FailSafeTrackerStore):
        tracker_store._on_tracker_store_error = _raise_unavailable


async def tell_shopper_not_received(agent: Any, message: UserMessage, response: str) -> None:
    """Sends the "not received" apology on the message's own channel, replacing collected replies."""
    output = message.output_channel
    if isinstance(output, CollectingOutputChannel):
        output.messages.clear()
    draft = None
    if agent.domain is not None and response in agent.domain.responses:
        tracker = DialogueStateTracker(message.sender_id, agent.domain.slots)
        draft = await agent.nlg.generate(response, tracker, output.name())
    if not draft:
        draft = {"text": FALLBACK_TEXTS.get(response, FALLBACK_TEXTS[DEFAULT_MESSAGE_NOT_RECEIVED_RESPONSE])}
    try:
        await output.send_response(message.sender_id, draft)
    except Exception:  # the channel itself may be what is down; the original error is re-raised anyway
        logger.exception("Could not send the apology to %s.", output.name())


def guard_message_handling(agent: Any, response: str) -> None:
    """Wraps ``agent.handle_message`` so that a failure reaches the shopper as an apology."""
    handle: Callable[[UserMessage], Awaitable[Optional[List[Dict[str, Any]]]]] = agent.handle_message

    async def handle_message_or_apologise(message: UserMessage) -> Optional[List[Dict[str, Any]]]:
        try:
            return await handle(message)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Message from %s not handled: the shopper gets an apology.", message.sender_id)
            await tell_shopper_not_received(agent, message, response)
            raise

    agent.handle_message = handle_message_or_apologise


class OutageGuard(InputChannel):
    """Not a channel shoppers talk to: installs the outage handling above on the loaded agent."""

    def __init__(
        self,
        action_unavailable_response: str = DEFAULT_ACTION_UNAVAILABLE_RESPONSE,
        message_not_received_response: str = DEFAULT_MESSAGE_NOT_RECEIVED_RESPONSE,
        action_timeout_s: float = DEFAULT_ACTION_TIMEOUT_S,
    ) -> None:
        self.action_unavailable_response = action_unavailable_response
        self.message_not_received_response = message_not_received_response
        self.action_timeout_s = float(action_timeout_s)

    @classmethod
    def name(cls) -> str:
        return "outage_guard"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> OutageGuard:
        return cls(**(credentials or {}))

    def install(self, agent: Any) -> None:
        """Applies all three guards to a loaded agent (idempotent)."""
        if getattr(agent, "outage_guard_installed", False):
            return
        responses = agent.domain.responses if agent.domain is not None else {}
        if agent.action_endpoint is not None:
            make_action_endpoint_tolerant(
                agent.action_endpoint, self.action_unavailable_response, responses, self.action_timeout_s
            )
        refuse_in_memory_fallback(agent.tracker_store)
        guard_message_handling(agent, self.message_not_received_response)
        action_calls.install()  # not an outage fix: the start-up hook every Rasa process here runs
        agent.outage_guard_installed = True
        logger.info("Outage guard installed (action timeout %.0f s).", self.action_timeout_s)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("outage_guard", __name__)

        async def install_on_loaded_agent(app: Sanic, _loop: asyncio.AbstractEventLoop) -> None:
            # Rasa loads the agent in a `before_server_start` listener registered after the channels'.
            self.install(app.ctx.agent)

        blueprint.listener("after_server_start")(install_on_loaded_agent)
        return blueprint
