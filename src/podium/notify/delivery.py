"""Sending a message to a notification URL with apprise, without letting anything log it.

apprise understands Slack incoming webhooks (``https://hooks.slack.com/services/…`` or
``slack://…``), e-mail over SMTP (``mailto://`` / ``mailtos://``, with ``smtp=``,
``mode=``, ``from=``, ``to=``), generic webhooks (``json://``, ``form://``) and many more.

Notification URLs are secrets. apprise and urllib3 log what they do (the URL, the request
path, a bad URL in full); a filter on their loggers removes every URL and every known
secret from those records before any handler sees them, and the reason a delivery failed
is taken from apprise's records the same way.

A plugin adds a scheme apprise does not know by entry point ``podium.notifiers`` (its
name is the scheme: ``teams+acme://…``): an object that satisfies ``NotifierPlugin``. A
scheme apprise has cannot be taken over.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from podium.core.masking import Masker
from podium.plugins import Plugins, load_plugins

#: how long one delivery may take, seconds (apprise's own timeout per call)
SEND_TIMEOUT = 30.0
#: the longest apprise may wait between two sends to one URL (Slack's own 1.2 s is kept)
MIN_GAP = 1.2

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_LOGGERS = ("apprise", "urllib3.connectionpool")
GROUP = "podium.notifiers"


@dataclass(frozen=True)
class Message:
    """What one alert says: ``body`` is CommonMark when ``markdown`` is set, else plain."""

    title: str
    body: str
    markdown: bool = False


class Destination(Protocol):
    """Where a notifier's messages go; ``style`` says how to write them."""

    style: str  # "slack" (CommonMark, sent as Slack mrkdwn), "email" or "text"

    def send(self, message: Message) -> str | None:
        """Delivers ``message``; None when delivered, else why not (no secret in it)."""
        ...


class NotifierPlugin(Protocol):
    """Notification URLs of one scheme, sent by a plugin instead of apprise. The URL is a
    secret: neither method may quote it."""

    def url_problem(self, url: str) -> str | None:
        """Why ``url`` cannot be sent to, worded without it (``has no channel``), or None."""
        ...

    def open(self, url: str, secrets: set[str]) -> Destination:
        """Where the messages of one rule go (``secrets``: values never to show)."""
        ...


def installed() -> Plugins:
    """The plugins installed for this group: found, broken and refused."""
    return load_plugins(GROUP, _apprise_schemes(), "notifier", ("url_problem", "open"))


@lru_cache(maxsize=1)
def _apprise_schemes() -> tuple[str, ...]:
    """The schemes apprise sends to, which no plugin may take (http/https: Slack's hooks)."""
    manager: Any = importlib.import_module("apprise.manager_plugins").NotificationManager()
    return tuple(sorted({"http", "https", *manager.schemas()}))


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower()


def open_notification(url: str, secrets: set[str]) -> Destination:
    """Where a rule's alerts go: a plugin's destination for its scheme, else apprise's."""
    plugin: NotifierPlugin | None = installed().found.get(_scheme(url))
    if plugin is not None:
        return plugin.open(url, secrets)
    return AppriseDestination(url, secrets)


class _Redact(logging.Filter):
    """Rewrites each record of apprise's loggers: URLs and known secrets replaced."""

    def __init__(self) -> None:
        super().__init__()
        self.mask = Masker()
        self._guard = threading.Lock()
        self.quiet = threading.local()  # set while checking a URL: its records are dropped

    def add(self, secrets: set[str]) -> None:
        with self._guard:
            self.mask.add(*secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(self.quiet, "on", False):
            return False
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is dropped
            return False
        record.msg, record.args = redact(text, self.mask), None
        return True


def redact(text: str, mask: Masker) -> str:
    return _URL.sub("<url>", mask(text))


_redact = _Redact()
for _name in _LOGGERS:
    logging.getLogger(_name).addFilter(_redact)


def hide(secrets: set[str]) -> None:
    """From now on, these never appear in apprise's or urllib3's log records."""
    _redact.add(secrets)


def url_words(url: str) -> set[str]:
    """Every part of ``url`` but its scheme and host: user, password, path segments, query
    values. All are masked in apprise's records (a token may look like any word)."""
    try:
        split = urlsplit(url)
        words = [split.username, split.password, split.fragment, *split.path.split("/")]
    except ValueError:
        return {url}
    words += [value for _, value in parse_qsl(split.query)]
    return {url} | {unquote(w) for w in words if w} | {w for w in words if w}


def _apprise() -> Any:
    """apprise, imported on first use (its import and plugin scan take a moment)."""
    import apprise

    return apprise


def url_problem(url: str) -> str | None:
    """Why apprise cannot send to ``url`` (worded without the URL), or None."""
    if "://" not in url:
        return "is not a URL"
    scheme = url.partition("://")[0]
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return "is not a URL"
    broken = installed().problem(scheme.lower())
    if broken:
        return f"names a scheme whose plugin cannot be used: {broken}"
    plugin: NotifierPlugin | None = installed().found.get(scheme.lower())
    if plugin is not None:
        return plugin.url_problem(url)
    _redact.quiet.on = True  # apprise would log what is wrong with it, quoting parts
    try:
        plugin = _apprise().Apprise.instantiate(url)
    finally:
        _redact.quiet.on = False
    if plugin is None:
        return f"is not a notification URL apprise can send to (scheme {scheme.lower()!r})"
    return None


class AppriseDestination:
    """A notification URL, sent to with apprise."""

    def __init__(self, url: str, secrets: set[str]) -> None:
        hide(secrets | url_words(url))
        apprise = _apprise()
        self._plugin = apprise.Apprise.instantiate(url)
        self._mask = Masker(secrets)
        self.style = _style_of(self._plugin)
        if self._plugin is not None and self._plugin.request_rate_per_sec > MIN_GAP:
            # apprise waits 5.5 s between two e-mails by default: a run that fails five
            # tasks would hold every subscriber for half a minute
            self._plugin.request_rate_per_sec = MIN_GAP

    def send(self, message: Message) -> str | None:
        apprise = _apprise()
        if self._plugin is None:
            return "apprise cannot send to this URL"
        sender = apprise.Apprise()
        sender.add(self._plugin)
        form = apprise.NotifyFormat.MARKDOWN if message.markdown else apprise.NotifyFormat.TEXT
        result = sender.notify(
            body=message.body, title=message.title, body_format=form, timeout=SEND_TIMEOUT
        )
        if result:
            return None
        return self._reason(result)

    def _reason(self, result: Any) -> str:
        lines = [redact(entry.message, self._mask) for entry in result.logs()]
        detail = "; ".join(line for line in lines if line)[:500]
        return f"apprise reported {result.status.name.lower()}" + (f": {detail}" if detail else "")


def _style_of(plugin: Any) -> str:
    if plugin is None:
        return "text"
    from apprise.plugins.email import NotifyEmail
    from apprise.plugins.slack import NotifySlack

    if isinstance(plugin, NotifySlack):
        return "slack"
    if isinstance(plugin, NotifyEmail):
        return "email"
    return "text"
