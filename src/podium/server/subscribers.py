"""The subscribers a project's ``podium up`` runs: its notifiers and outgoing webhooks."""

from __future__ import annotations

from podium.core.workflow import Project
from podium.notify.notifier import notifiers_for
from podium.notify.runner import Subscriber
from podium.outgoing.webhooks import outgoing_subscribers
from podium.store.database import Database


def subscribers_for(project: Project, db: Database) -> list[Subscriber]:
    return [*notifiers_for(project, db), *outgoing_subscribers(project, db)]
