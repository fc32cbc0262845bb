"""What the logic needs from the outside world, in one object the handlers build once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from gtstream.aws import (
    Clients,
    LabelingJobs,
    MetricsSink,
    Notifier,
    NullMetrics,
    ObjectStore,
    Queues,
    Topics,
)
from gtstream.config import Settings
from gtstream.ledger import Ledger, utcnow
from gtstream.project_config import ProjectConfig, ProjectConfigError

log = logging.getLogger("gtstream")

CONFIG_CACHE_SECONDS = 60.0


@dataclass
class Deps:
    settings: Settings
    store: ObjectStore
    topics: Topics
    jobs: LabelingJobs
    queues: Queues
    ledger: Ledger
    notifier: Notifier
    metrics: MetricsSink = field(default_factory=NullMetrics)
    now: Callable[[], datetime] = utcnow
    clients: Clients | None = None  # the boto3 clients behind the gateways (created once per container)
    _config_cache: tuple[float, ProjectConfig | None] | None = None

    @classmethod
    def build(cls, settings: Settings, now: Callable[[], datetime] = utcnow) -> Deps:
        clients = Clients(region=settings.region)
        topics = Topics(clients)
        return cls(
            settings=settings,
            store=ObjectStore(clients),
            topics=topics,
            jobs=LabelingJobs(clients),
            queues=Queues(clients),
            ledger=Ledger(settings.ledger_table, clients, now=now),
            notifier=Notifier(topics, settings.notification_topic_arn, settings.project_prefix),
            now=now,
            clients=clients,
        )

    def forget_project_config(self) -> None:
        """The next ``project_config()`` reads the published config again."""
        self._config_cache = None

    def project_config(self, *, fresh: bool = False) -> ProjectConfig | None:
        """The published project config; None when not published yet. Invalid -> ProjectConfigError."""
        if (
            not fresh
            and self._config_cache is not None
            and time.monotonic() - self._config_cache[0] < CONFIG_CACHE_SECONDS
        ):
            return self._config_cache[1]
        data = self.store.get_json(self.settings.project_config_uri)
        # The Lambdas also check that preprocessing.transform imports here, where it runs.
        config = None if data is None else ProjectConfig.parse(data, check_import=True)
        self._config_cache = (time.monotonic(), config)
        return config

    def project_config_or_none(self) -> ProjectConfig | None:
        """For intake: a broken config must not stop images from being accepted (defaults apply)."""
        try:
            return self.project_config()
        except (ProjectConfigError, ValueError) as exc:
            log.warning("project config unusable, using default pre-processing: %s", exc)
            return None
