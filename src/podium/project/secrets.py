"""``${VAR}`` interpolation from the environment, and which values are secret.

Any string value in podium.yaml or a workflow YAML may hold ``${NAME}`` (the variable must
be set) or ``${NAME:-default}`` (the default when it is unset or empty). ``$${`` writes a
literal ``${`` (for a shell command that should expand the variable itself).

Secret values, collected so that ``Masker(project.secrets)`` can hide them everywhere:
values read from a variable whose name contains one of ``SECRET_WORDS``; every string under a
``connections`` key that contains one; and the password in any URL under ``connections``
and in the store URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from podium.project.yaml_lines import LineDict, LineList, Problems

SECRET_WORDS = ("token", "secret", "password", "key", "credential")

_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)(?P<close>\}?)")
_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.S)


# settings whose names contain a secret word but name columns, not credentials
NOT_SECRET_NAMES = frozenset(("primary_key", "unique_key", "sort_key", "partition_key"))


def is_secret_name(name: str) -> bool:
    """Whether a variable or key name says its value is secret (``SHOPIFY_TOKEN``, ``api_key``)."""
    lowered = name.lower()
    if lowered in NOT_SECRET_NAMES:
        return False
    return any(word in lowered for word in SECRET_WORDS)


class Interpolator:
    """Replaces ``${…}`` in every string of documents, in place, noting secret values.

    One interpolator serves every file of a project, so ``secrets`` ends up holding the
    secret values read anywhere.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.secrets: set[str] = set()

    def document(self, value: Any, problems: Problems) -> None:
        if isinstance(value, LineDict):
            for key, item in value.items():
                if isinstance(item, str):
                    value[key] = self.text(item, value.line_of(key), problems)
                else:
                    self.document(item, problems)
        elif isinstance(value, LineList):
            for index, item in enumerate(value):
                if isinstance(item, str):
                    value[index] = self.text(item, value.line_at(index), problems)
                else:
                    self.document(item, problems)

    def text(self, text: str, line: int, problems: Problems) -> str:
        if "${" not in text:
            return text
        return _REFERENCE.sub(lambda match: self._replace(match, line, problems), text)

    def _replace(self, match: re.Match[str], line: int, problems: Problems) -> str:
        if match.group(0) == "$${":
            return "${"
        body = _BODY.fullmatch(match.group("body"))
        if body is None or not match.group("close"):
            problems.add(
                line,
                f"malformed reference {match.group(0)!r}; write ${{NAME}} or ${{NAME:-default}}",
            )
            return match.group(0)
        name, default = body.group("name"), body.group("default")
        value = self.environ.get(name)
        if default is not None and not value:
            value = default
        if value is None:
            problems.add(
                line,
                f"environment variable {name} is not set; "
                f"export it or give a default with ${{{name}:-…}}",
            )
            return ""
        if is_secret_name(name) and value:
            self.secrets.add(value)
        return value


def url_secrets(text: str) -> set[str]:
    """The password of a URL such as ``postgresql://user:pw@host/db``, as written and decoded."""
    if "://" not in text or "@" not in text:
        return set()
    try:
        password = urlsplit(text).password
    except ValueError:
        return set()
    return {password, unquote(password)} if password else set()


def connection_secrets(connections: Any) -> set[str]:
    """Strings under secret-named keys inside each connection, and URL passwords.

    Connection names themselves do not count: a connection called ``keystone`` does not
    make its ``type`` secret.
    """
    found: set[str] = set()
    if isinstance(connections, Mapping):
        for settings in connections.values():
            _collect(settings, False, found)
    return found


def _collect(value: Any, secret: bool, found: set[str]) -> None:
    if isinstance(value, str):
        if secret and value:
            found.add(value)
        found |= url_secrets(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _collect(item, secret or is_secret_name(str(key)), found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, secret, found)
