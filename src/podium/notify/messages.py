"""The words of an alert: a title (the e-mail subject, the Slack header) and a body.

Pure: facts in, a ``Message`` out. Two renderings of one draft:

- ``slack``: CommonMark, which apprise turns into Slack mrkdwn. Everything that came from a
  user or the data (ids, errors, check messages) goes in code spans or a code block, where
  apprise escapes ``<``, ``>`` and ``&``: an error holding ``<!channel>`` pings nobody.
- ``email`` and ``text``: plain lines, ``Label: value``.

Every secret the project knows is masked, in each part and in the finished text, and long
errors are cut after masking (a cut never leaves half a secret).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podium.core.durations import format_duration
from podium.core.masking import Masker
from podium.notify.delivery import Message
from podium.notify.facts import Facts

ERROR_LIMIT = 600
CHECK_LIMIT = 200
LIST_LIMIT = 12


class Code(str):
    """Text from a user or the data: a code span in Markdown, as it is in plain text."""


Part = str  # plain podium words, or a Code
Line = tuple[str, list[Part]]


@dataclass
class Draft:
    title: str
    summary: list[Part]
    lines: list[Line] = field(default_factory=list)
    error: str | None = None
    link: str | None = None
    link_text: str = "Open the run in podium"


def compose(facts: Facts, style: str, mask: Masker) -> Message:
    """The message for ``facts``, written for ``style`` (slack, email or text)."""
    draft = _DRAFTS[facts.state](facts, mask)
    if style == "slack":
        return Message(mask(draft.title), mask(_markdown(draft)), markdown=True)
    return Message(mask(draft.title), mask(_text(draft)))


# -- drafts per state --------------------------------------------------------------------------


def _failed(facts: Facts, mask: Masker) -> Draft:
    timed_out = facts.task_status == "timed_out"
    task = str(facts.task_id)
    title = f"[podium] {facts.workflow} failed: {task}" + (" (timed out)" if timed_out else "")
    ended = "timed out" if timed_out else "failed"
    tries = f" after {facts.attempts} attempts" if facts.attempts > 1 else ""
    summary: list[Part] = ["Task ", Code(task), " of ", Code(facts.workflow), f" {ended}{tries}."]
    draft = Draft(title, summary, _run_lines(facts), link=facts.link)
    draft.lines += _task_lines(facts)
    draft.error = _error(facts.error, mask)
    return draft


def _late(facts: Facts, mask: Masker) -> Draft:
    task = str(facts.task_id)
    after = format_duration(facts.late_after) if facts.late_after else "its late_after"
    summary: list[Part] = ["Task ", Code(task), f" is still running after {after}"]
    if facts.on_late == "continue":
        summary.append(
            "; the tasks after it go on with what is fresh, their outputs marked incomplete,"
            " and are re-run when it lands."
        )
    elif facts.on_late == "fail":
        summary.append("; on_late is fail, so it is stopped and fails.")
    else:
        summary.append("; the tasks after it wait for it.")
    draft = Draft(f"[podium] {facts.workflow} late: {task}", summary, _run_lines(facts))
    draft.lines += _task_lines(facts)
    draft.link = facts.link
    return draft


def _check_failed(facts: Facts, mask: Masker) -> Draft:
    task = str(facts.task_id)
    failed = facts.task_status in ("failed", "timed_out")
    consequence = (
        " The task failed: nothing downstream reads what it built."
        if failed
        else " They are warnings: the task succeeded."
    )
    count = len(facts.checks) or 1
    summary: list[Part] = [
        f"{count} check{'s' if count != 1 else ''} failed in task ",
        Code(task),
        " of ",
        Code(facts.workflow),
        "." + consequence,
    ]
    draft = Draft(f"[podium] {facts.workflow} check failed: {task}", summary, _run_lines(facts))
    for check in facts.checks[:LIST_LIMIT]:
        message = _cut(mask(str(check.get("message") or "")), CHECK_LIMIT)
        label = f"Check ({check.get('severity', 'error')})"
        parts: list[Part] = [Code(str(check.get("check")))]
        draft.lines.append((label, [*parts, ": ", Code(message)] if message else parts))
    draft.lines += _task_lines(facts)
    draft.link = facts.link
    return draft


def _recovered(facts: Facts, mask: Masker) -> Draft:
    summary: list[Part] = ["Workflow ", Code(facts.workflow), " succeeded again in run "]
    summary += [Code(str(facts.run_id)), "."]
    if facts.recovered_from:
        summary += [" The run before, ", Code(facts.recovered_from), ", had failed."]
    draft = Draft(f"[podium] {facts.workflow} recovered", summary, _run_lines(facts))
    draft.link = facts.link
    return draft


def _sla_missed(facts: Facts, mask: Masker) -> Draft:
    deadline = facts.deadline or "its deadline"
    title = f"[podium] {facts.workflow} missed its deadline ({deadline.split(' (')[0]})"
    summary: list[Part] = [
        "No run of ",
        Code(facts.workflow),
        f" succeeded on {facts.date} by its deadline, {deadline}.",
    ]
    draft = Draft(title, summary)
    last = facts.last_run
    if last:
        draft.lines.append(
            ("Latest run", [Code(str(last["id"])), f" {last['status']}, started {last['created']}"])
        )
        draft.link, draft.link_text = str(last["link"]), "Open the latest run in podium"
    else:
        draft.lines.append(("Latest run", ["none yet"]))
    return draft


_DRAFTS = {
    "failed": _failed,
    "late": _late,
    "check_failed": _check_failed,
    "recovered": _recovered,
    "sla_missed": _sla_missed,
}


# -- shared lines ------------------------------------------------------------------------------


def _run_lines(facts: Facts) -> list[Line]:
    parts: list[Part] = [Code(str(facts.run_id))]
    details = [d for d in (facts.trigger, facts.run_status) if d]
    if details:
        parts.append(f" ({', '.join(details)})")
    return [("Workflow", [Code(facts.workflow)]), ("Run", parts)]


def _task_lines(facts: Facts) -> list[Line]:
    lines: list[Line] = []
    task: list[Part] = [Code(str(facts.task_id))]
    if facts.task_kind:
        task.append(f" ({facts.task_kind})")
    lines.append(("Task", task))
    if facts.source:
        lines.append(("Source", [Code(facts.source)]))
    if facts.produces:
        lines.append(("Produces", _listed(facts.produces)))
    if facts.not_run:
        lines.append(("Did not run (upstream failed)", _listed(facts.not_run)))
    if facts.rows:
        lines.append((f"Data ({facts.rows_note})", _listed(facts.rows)))
    if facts.revenue:
        lines.append(("Revenue", _listed(facts.revenue)))
    return lines


def _listed(items: list[str]) -> list[Part]:
    parts: list[Part] = []
    for item in items[:LIST_LIMIT]:
        parts += [", "] if parts else []
        parts.append(Code(item))
    if len(items) > LIST_LIMIT:
        parts.append(f" and {len(items) - LIST_LIMIT} more")
    return parts


def _error(error: str | None, mask: Masker) -> str | None:
    return _cut(mask(error), ERROR_LIMIT) if error else None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- rendering ---------------------------------------------------------------------------------


def _markdown(draft: Draft) -> str:
    out = [_md(draft.summary), ""]
    out += [f"**{label}:** {_md(parts)}" for label, parts in draft.lines]
    if draft.error:
        out += ["", "**Error:**", "```", draft.error.replace("```", "ʼʼʼ"), "```"]
    if draft.link:
        out += ["", f"[{draft.link_text}]({draft.link})"]
    return "\n".join(out)


def _md(parts: list[Part]) -> str:
    return "".join(f"`{_span(p)}`" if isinstance(p, Code) else p for p in parts)


def _span(text: str) -> str:
    """Code span content: no backtick (it would end the span) and no line break."""
    return " ".join(text.replace("`", "ʼ").split()) or " "


def _text(draft: Draft) -> str:
    out = ["".join(draft.summary), ""]
    out += [f"{label}: {''.join(parts)}" for label, parts in draft.lines]
    if draft.error:
        out += ["", "Error:", *("    " + line for line in draft.error.splitlines())]
    if draft.link:
        out += ["", f"{draft.link_text}: {draft.link}"]
    return "\n".join(out) + "\n"
