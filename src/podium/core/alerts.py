"""Notification rules: which states of which workflows are sent where.

A rule comes from ``notifications:`` in podium.yaml (every workflow, or those it names) or
from ``notify:`` in a workflow file (that workflow only). ``to`` is an apprise URL
(``https://hooks.slack.com/services/…``, ``mailto://…``, ``json://…``) and is a secret: it
is never shown, only the rule's ``name``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: the states a rule may alert on, in the order they are documented
ALERT_STATES = ("failed", "late", "recovered", "check_failed", "sla_missed")


@dataclass(frozen=True)
class NotifyRule:
    name: str
    on: tuple[str, ...]
    to: str = field(repr=False)
    workflows: tuple[str, ...] | None = None  # None: every workflow
    file: str = ""
    line: int = 0
    workflows_line: int = field(default=0, compare=False)

    def covers(self, state: str, workflow: str) -> bool:
        """Whether this rule alerts on ``state`` for ``workflow``."""
        return state in self.on and (self.workflows is None or workflow in self.workflows)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file else self.name
