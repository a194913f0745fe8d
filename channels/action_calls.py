"""Checks action-server responses against Rasa's schema without re-checking the schema on every call.

Rasa 3.6's ``RemoteAction._validate_action_result`` calls ``jsonschema.validate(result, schema)`` for
every custom action call. ``jsonschema.validate`` first validates the *schema* against its meta-schema
(``check_schema``) and builds a new validator, every time, although Rasa's schema is a constant. In a
profile of shopper messages that re-check was the largest single cost of a turn: most of the custom
action stage, more than the action server's own work (figures in bench/load/README.md).

:func:`install` replaces that method with one that checks the schema once, keeps the validator and
validates each response with it: the same schema, the same validator class, the same
``ValidationError`` with Rasa's message, so an invalid response is still refused exactly as before.
It is installed by :class:`channels.outage_guard.OutageGuard` together with the outage handling (and
can be called by any process that loads an agent; it is idempotent).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict

from jsonschema import ValidationError
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

# Appended to the error message, as Rasa does.
RASA_HINT = (
    ". Failed to validate Action server response from API, make sure your response from the Action "
    f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
)


@lru_cache(maxsize=1)
def response_validator() -> Validator:
    """The validator of Rasa's action response schema; the schema itself is checked once, here."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    """Drop-in for ``RemoteAction._validate_action_result`` (same result, same exception)."""
    error = best_match(response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += RASA_HINT
    raise error


def install() -> None:
    """Makes every ``RemoteAction`` of this process use the cached validator."""
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


__all__ = ["ValidationError", "install", "response_validator", "validate_action_result"]
