"""``${VAR}`` and ``${file:PATH}`` interpolation, and which values are secret.

Any string value in podium.yaml or a workflow YAML may hold ``${NAME}`` (the variable must
be set) or ``${NAME:-default}`` (the default when it is unset or empty). ``$${`` writes a
literal ``${`` (for a shell command that should expand the variable itself).

``${file:PATH}`` is the content of a file, as Docker and Kubernetes mount secrets
(``${file:/run/secrets/shopify_token}``); a relative PATH is under the project folder. One
trailing line break is dropped. The file must exist, be readable, be UTF-8 text, not be
empty and hold at most ``MAX_SECRET_FILE`` bytes; otherwise the line that names it is a
problem that says which. Its value is always secret.

Secret values, collected so that ``Masker(project.secrets)`` can hide them everywhere:
values read from a variable whose name contains one of ``SECRET_WORDS``; every value read
from a file; every string under a ``connections`` key that contains one; and the password
in any URL under ``connections`` and in the store URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from podium.settings.yaml_lines import LineDict, LineList, Problems

SECRET_WORDS = ("token", "secret", "password", "key", "credential")
FILE_PREFIX = "file:"
MAX_SECRET_FILE = 64 * 1024

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

    def __init__(self, environ: Mapping[str, str], root: Path | None = None) -> None:
        self.environ = environ
        self.root = root or Path(".")
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
        if match.group("body").startswith(FILE_PREFIX) and match.group("close"):
            return self._file(match.group("body")[len(FILE_PREFIX) :], line, problems)
        body = _BODY.fullmatch(match.group("body"))
        if body is None or not match.group("close"):
            problems.add(
                line,
                f"malformed reference {match.group(0)!r}; write ${{NAME}}, ${{NAME:-default}} "
                "or ${file:PATH}",
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

    def _file(self, name: str, line: int, problems: Problems) -> str:
        value, problem = read_secret_file(self.root, name)
        if problem:
            problems.add(line, f"secret file {name!r} {problem}")
            return ""
        self.secrets.add(value)
        return value


def read_secret_file(root: Path, name: str) -> tuple[str, str]:
    """(the value, "") or ("", what is wrong with the file); the value never in a message."""
    if not name.strip():
        return "", "has no path; write ${file:/run/secrets/NAME}"
    path = root / name.strip()
    try:
        size = path.stat().st_size
        if path.is_dir():
            return "", "is a folder; name the file that holds the secret"
        if size > MAX_SECRET_FILE:
            return "", f"holds {size} bytes, more than a secret ({MAX_SECRET_FILE}); check the path"
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return (
            "",
            "does not exist; create it or fix the path (relative paths start at the project folder)",
        )
    except PermissionError:
        return "", "cannot be read (permission denied); let the user running podium read it"
    except UnicodeDecodeError:
        return "", "is not UTF-8 text"
    except OSError as exc:
        return "", f"cannot be read ({exc.strerror or type(exc).__name__})"
    value = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    if not value:
        return "", "is empty; write the secret into it"
    return value, ""


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
