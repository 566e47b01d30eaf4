"""Triggers: turning stored events and clock ticks into runs, exactly once.

Events that may start runs are stored with ``pending = 1``; dispatching them and creating
the runs they cause happen in one transaction, which also clears the flag. A crash before
the commit leaves the events pending; after it, the runs exist. Schedules keep their last
fired tick in ``trigger_state`` the same way, and every run they create carries a
``dedupe_key`` so two engines can never fire the same tick twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from podium.core.cron import Cron
from podium.core.status import Catchup
from podium.core.workflow import (
    AssetTrigger,
    EventTrigger,
    Project,
    ScheduleTrigger,
    Workflow,
    WorkflowTrigger,
)
from podium.engine import crashpoints, pauses, state, trigger_state
from podium.engine.journal import Journal
from podium.engine.sla import SlaWatch
from podium.engine.state import Graphs
from podium.engine.webhook_runs import WebhookProcessor

#: a schedule tick older than this when the engine sees it counts as missed (catchup)
MISSED_AFTER = 60.0
#: ``catchup: all`` starts at most this many missed ticks per schedule at once
MAX_CATCHUP = 1000


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def run_params(wf: Workflow, given: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow's declared params, with the declared ones found in ``given`` replaced."""
    return {**wf.params, **{k: v for k, v in given.items() if k in wf.params}}


class Triggers:
    def __init__(self, project: Project, graphs: Graphs, *, fire_schedules: bool) -> None:
        self.project, self.graphs = project, graphs
        self.fire_schedules = fire_schedules
        self.next_tick: float | None = None
        self._crons: dict[tuple[str, str], Cron] = {}
        self._due: dict[tuple[str, str], float] = {}
        self.sla = SlaWatch(project)
        self.webhooks = WebhookProcessor(project)

    def forget(self) -> None:
        """A transaction that dispatched rolled back: every schedule and deadline is read
        again from the store at the next dispatch (its stored state is the truth)."""
        self._due.clear()
        self.sla.forget()
        self.next_tick = None

    def dispatch(self, j: Journal) -> None:
        self._dispatch_events(j)
        self.webhooks.process(j)
        self._asset_deadlines(j)
        if self.fire_schedules:
            self._fire_schedules(j)
            deadline = self.sla.check(j)  # wakes the engine at the next deadline too
            if deadline is not None:
                self.next_tick = min(self.next_tick or deadline, deadline)

    # -- events --------------------------------------------------------------------
    def _dispatch_events(self, j: Journal) -> None:
        tx = j.tx
        rows = tx.fetchall(
            "SELECT seq, type, run_id, payload FROM events WHERE pending = 1 ORDER BY seq"
            f" LIMIT 1000{tx.skip_locked}"
        )
        for seq, kind, run_id, payload in rows:
            self._dispatch_one(j, int(seq), kind, run_id, json.loads(payload))
        tx.executemany("UPDATE events SET pending = 0 WHERE seq = ?", [(r[0],) for r in rows])

    def _dispatch_one(
        self, j: Journal, seq: int, kind: str, run_id: str | None, payload: dict[str, Any]
    ) -> None:
        for wf in self.project.workflows.values():
            for index, trig in enumerate(wf.triggers):
                if isinstance(trig, EventTrigger) and trig.matches(kind, payload):
                    info = {"type": "event", "event": kind, "seq": seq, "payload": payload}
                    self._start(
                        j, wf, info, run_params(wf, payload), f"event:{seq}:{wf.name}:{index}"
                    )
                elif isinstance(trig, WorkflowTrigger) and kind == "RunFinished":
                    if trig.matches(payload.get("workflow", ""), payload.get("status", "")):
                        info = {
                            "type": "workflow",
                            "workflow": payload.get("workflow"),
                            "run_id": run_id,
                            "status": payload.get("status"),
                        }
                        self._start(j, wf, info, dict(wf.params), f"event:{seq}:{wf.name}:{index}")
                elif isinstance(trig, AssetTrigger) and kind == "AssetUpdated":
                    asset = payload.get("asset", "")
                    if asset in trig.assets:
                        self._asset_updated(j, wf, trig, index, seq, asset)

    def _start(
        self, j: Journal, wf: Workflow, trigger: dict[str, Any], params: dict[str, Any], key: str
    ) -> None:
        state.create_run(
            j, wf, trigger=trigger, params=params, logical_time=iso(j.now), dedupe_key=key
        )

    # -- assets --------------------------------------------------------------------
    def _asset_updated(
        self, j: Journal, wf: Workflow, trig: AssetTrigger, index: int, seq: int, asset: str
    ) -> None:
        if not trig.all_of:
            info = {"type": "asset", "assets": [asset], "seq": seq}
            self._start(j, wf, info, dict(wf.params), f"event:{seq}:{wf.name}:{index}")
            return
        key = f"{index}:{trig.key}"
        seen = trigger_state.load(j, wf.name, key) or {"first_at": j.now, "seen": {}}
        seen["seen"][asset] = seq
        if set(trig.assets) <= set(seen["seen"]):
            info = {"type": "asset", "assets": sorted(seen["seen"]), "missing_assets": []}
            self._start(j, wf, info, dict(wf.params), f"assets:{wf.name}:{index}:{seq}")
            trigger_state.save(j, wf.name, key, None)
        else:
            trigger_state.save(j, wf.name, key, seen)

    def _asset_deadlines(self, j: Journal) -> None:
        for wf in self.project.workflows.values():
            for index, trig in enumerate(wf.triggers):
                if not (isinstance(trig, AssetTrigger) and trig.all_of and trig.deadline):
                    continue
                key = f"{index}:{trig.key}"
                seen = trigger_state.load(j, wf.name, key)
                if seen and j.now >= seen["first_at"] + trig.deadline:
                    missing = sorted(set(trig.assets) - set(seen["seen"]))
                    info = {
                        "type": "asset",
                        "assets": sorted(seen["seen"]),
                        "missing_assets": missing,
                        "deadline_passed": True,
                    }
                    dedupe = f"assets:{wf.name}:{index}:deadline:{seen['first_at']}"
                    self._start(j, wf, info, dict(wf.params), dedupe)
                    trigger_state.save(j, wf.name, key, None)

    # -- schedules -----------------------------------------------------------------
    def _fire_schedules(self, j: Journal) -> None:
        """Fires the due schedules of workflows that are not paused (``pauses``): a paused
        one keeps its last tick, and is looked at again at every step until resumed."""
        next_tick: float | None = None
        paused: set[str] | None = None  # read once, and only when a schedule is due
        for wf in self.project.workflows.values():
            for trig in wf.triggers:
                if isinstance(trig, ScheduleTrigger):
                    tick = self._due.get((wf.name, trig.key), 0.0)
                    if j.now >= tick:
                        paused = pauses.paused_in(j.tx) if paused is None else paused
                        if wf.name in paused:
                            continue
                        tick = self._fire_schedule(j, wf, trig)
                        self._due[(wf.name, trig.key)] = tick
                    next_tick = tick if next_tick is None else min(next_tick, tick)
        self.next_tick = next_tick

    def cron(self, trig: ScheduleTrigger) -> Cron:
        key = (trig.cron, trig.timezone)
        if key not in self._crons:
            self._crons[key] = Cron.parse(trig.cron, trig.timezone)
        return self._crons[key]

    def _fire_schedule(self, j: Journal, wf: Workflow, trig: ScheduleTrigger) -> float:
        cron, now = self.cron(trig), datetime.fromtimestamp(j.now, UTC)
        j.tx.lock(f"podium.schedule.{wf.name}.{trig.key}")
        saved = trigger_state.load(j, wf.name, trig.key)
        last = datetime.fromisoformat(saved["last_tick"]) if saved else now
        due = cron.ticks_between(last, now, limit=100_000)
        if due:
            crashpoints.reached("tick_claimed")
            for tick in self._select(due, trig.catchup, now):
                if self.start_tick(j, wf, trig, tick, kind="schedule"):
                    crashpoints.reached("run_created")
        if due or not saved:
            trigger_state.save(
                j, wf.name, trig.key, {"last_tick": (due[-1] if due else now).isoformat()}
            )
        return cron.next_after(max(last, due[-1]) if due else max(last, now)).timestamp()

    @staticmethod
    def _select(due: list[datetime], catchup: Catchup, now: datetime) -> list[datetime]:
        fresh = [t for t in due if (now - t).total_seconds() <= MISSED_AFTER]
        if catchup is Catchup.ALL:
            return due[-MAX_CATCHUP:]
        if catchup is Catchup.LATEST:
            return due[-1:]
        return fresh

    def start_tick(
        self, j: Journal, wf: Workflow, trig: ScheduleTrigger, tick: datetime, kind: str
    ) -> str | None:
        info = {
            "type": kind,
            "cron": trig.cron,
            "timezone": trig.timezone,
            "tick": tick.isoformat(),
        }
        return state.create_run(
            j,
            wf,
            trigger=info,
            params=dict(wf.params),
            logical_time=tick.isoformat(),
            dedupe_key=f"schedule:{wf.name}:{trig.key}:{tick.isoformat()}",
        )
