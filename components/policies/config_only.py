"""Persistence of a policy whose only state is its config (HandoffPolicy, OtherClausePolicy).

Such a policy learns nothing. ``persist`` writes the effective config as JSON through Rasa's model storage
(for inspection: ``{"format_version": ..., "config": ...}``), and ``load`` builds the policy from the graph's
config, reading the persisted file only to check it; a missing or unreadable file is no error.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, ClassVar, Dict

from rasa.core.policies.policy import Policy
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.exceptions import RasaException


class ConfigOnlyPolicy(Policy):
    """Base of a policy whose only state is its config; subclasses name the file it is persisted in."""

    #: Name of the JSON file in the policy's resource.
    persisted_file: ClassVar[str]
    #: Written as ``format_version`` next to the config.
    format_version: ClassVar[int] = 1
    #: Whether ``load`` warns when the persisted ``format_version`` differs from ``format_version``.
    check_format_version: ClassVar[bool] = True

    def persist(self) -> None:
        """Writes the effective config (for inspection; `load` gets the config from the model)."""
        with self._model_storage.write_to(self._resource) as directory:
            payload = {"format_version": self.format_version, "config": self.config}
            (Path(directory) / self.persisted_file).write_text(
                json.dumps(payload, indent=2, sort_keys=True, default=str), encoding="utf-8"
            )

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ConfigOnlyPolicy:
        """Loads the policy; the graph's config wins, the persisted file is only checked (a missing one is no
        error). Logs to the policy module's logger."""
        logger = logging.getLogger(cls.__module__)
        try:
            with model_storage.read_from(resource) as directory:
                payload = json.loads((Path(directory) / cls.persisted_file).read_text(encoding="utf-8"))
            if cls.check_format_version and payload.get("format_version") != cls.format_version:
                logger.warning(
                    f"{cls.__name__}: persisted format {payload.get('format_version')} differs from "
                    f"{cls.format_version}; using the model's config."
                )
        except (ValueError, FileNotFoundError, OSError, RasaException) as error:
            logger.debug(f"{cls.__name__}: no persisted data for '{resource.name}' ({error}); using config.")
        return cls(config, model_storage, resource, execution_context)
