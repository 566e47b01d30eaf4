"""``${VAR}`` interpolation and which values become secrets to mask."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from podium.core.masking import Masker
from podium.core.workflow import Project
from podium.errors import ProjectError
from podium.project import load_project
from podium.settings.secrets import (
    connection_secrets,
    is_secret_name,
    read_secret_file,
    url_secrets,
)


def project(root: Path, files: Mapping[str, str], environ: Mapping[str, str]) -> Project:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return load_project(root, environ=environ)


def problems(root: Path, files: Mapping[str, str], environ: Mapping[str, str]) -> list[str]:
    with pytest.raises(ProjectError) as info:
        project(root, files, environ)
    return [str(p) for p in info.value.problems]


CONFIG = """
connections:
  shopify:
    type: storefront
    shop: ${SHOP_NAME}
    token: ${SHOPIFY_TOKEN}
    region: ${REGION:-us}
"""


def test_variables_are_read_from_the_environment(tmp_path: Path) -> None:
    environ = {"SHOP_NAME": "brand", "SHOPIFY_TOKEN": "shpat_123456"}
    loaded = project(tmp_path, {"podium.yaml": CONFIG}, environ)
    assert loaded.connections["shopify"] == {
        "type": "storefront",
        "shop": "brand",
        "token": "shpat_123456",
        "region": "us",
    }


def test_unset_variable_is_a_problem_with_its_line(tmp_path: Path) -> None:
    found = problems(tmp_path, {"podium.yaml": CONFIG}, {"SHOP_NAME": "brand"})
    assert found == [
        "podium.yaml:5: environment variable SHOPIFY_TOKEN is not set; "
        "export it or give a default with ${SHOPIFY_TOKEN:-…}"
    ]


def test_default_applies_when_unset_or_empty(tmp_path: Path) -> None:
    files = {"podium.yaml": "connections: {c: {a: '${A:-x}', b: '${B:-y}', c: '${C}'}}\n"}
    loaded = project(tmp_path, files, {"A": "", "C": ""})
    assert loaded.connections["c"] == {"a": "x", "b": "y", "c": ""}


def test_variables_inside_longer_text_and_escapes(tmp_path: Path) -> None:
    files = {"podium.yaml": "connections: {c: {url: 'https://${HOST}/v1', sh: 'echo $${HOME}'}}\n"}
    loaded = project(tmp_path, files, {"HOST": "api.example.com"})
    assert loaded.connections["c"] == {"url": "https://api.example.com/v1", "sh": "echo ${HOME}"}


def test_malformed_reference_is_a_problem(tmp_path: Path) -> None:
    found = problems(tmp_path, {"podium.yaml": "connections: {c: {a: '${1X}'}}\n"}, {})
    assert found == [
        "podium.yaml:1: malformed reference '${1X}'; write ${NAME}, ${NAME:-default} "
        "or ${file:PATH}"
    ]


def test_secret_values_from_variables_and_connection_keys(tmp_path: Path) -> None:
    config = """
    connections:
      shopify:
        shop: ${SHOP_NAME}
        token: ${SHOPIFY_TOKEN}
      netsuite:
        consumer_key: written-in-the-file
        credentials: {client_secret: nested-value}
        note: ${API_KEY_HINT:-not-a-secret-default-but-masked}
      warehouse:
        url: postgresql://loader:pw-in-url@db/wh
    """
    environ = {"SHOP_NAME": "brand-shop", "SHOPIFY_TOKEN": "shpat_123456"}
    loaded = project(tmp_path, {"podium.yaml": config}, environ)
    assert loaded.secrets == {
        "shpat_123456",
        "written-in-the-file",
        "nested-value",
        "not-a-secret-default-but-masked",
        "pw-in-url",
    }
    assert "brand-shop" not in loaded.secrets
    assert Masker(loaded.secrets)("token shpat_123456") == "token ***"


def test_workflow_yaml_is_interpolated_too(tmp_path: Path) -> None:
    files = {
        "podium.yaml": "",
        "workflows/w.yaml": """
            tasks:
              - id: call
                shell: 'curl -H "Authorization: ${API_TOKEN}" ${BASE_URL:-https://x}'
              - id: later
                shell: echo ${MISSING}
            """,
    }
    assert problems(tmp_path, files, {"API_TOKEN": "tok-987654"}) == [
        "workflows/w.yaml:5: environment variable MISSING is not set; "
        "export it or give a default with ${MISSING:-…}"
    ]
    files["workflows/w.yaml"] = files["workflows/w.yaml"].replace("${MISSING}", "$${MISSING}")
    loaded = project(tmp_path, files, {"API_TOKEN": "tok-987654"})
    assert loaded.workflow("w").task("call").target == (
        'curl -H "Authorization: tok-987654" https://x'
    )
    assert loaded.workflow("w").task("later").target == "echo ${MISSING}"
    assert "tok-987654" in loaded.secrets


def test_problems_never_show_a_secret(tmp_path: Path) -> None:
    files = {"podium.yaml": "engine:\n  workers: ${DB_PASSWORD}\n"}
    found = problems(tmp_path, files, {"DB_PASSWORD": "hunter2-long"})
    assert found == ["podium.yaml:2: engine: workers must be a whole number 1 or more, got '***'"]


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("SHOPIFY_TOKEN", True),
        ("db_password", True),
        ("ApiKey", True),
        ("CLIENT_SECRET", True),
        ("gcp_credentials", True),
        ("SHOP_NAME", False),
        ("region", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_url_secrets() -> None:
    assert url_secrets("postgresql://u:p%2Fw@h/db") == {"p%2Fw", "p/w"}
    assert url_secrets("postgresql://u@h/db") == set()
    assert url_secrets("not a url") == set()


def test_connection_names_themselves_do_not_make_values_secret() -> None:
    assert connection_secrets({"keystone": {"type": "postgres"}}) == set()


def test_a_masker_learns_secrets_fetched_later() -> None:
    mask = Masker(["sk_static_123"])
    assert mask("token atza_fetched_999") == "token atza_fetched_999"
    mask.add("atza_fetched_999", "no")  # too short to mask: ignored
    assert mask("sk_static_123 atza_fetched_999 no") == "*** *** no"


def test_column_settings_named_like_keys_are_not_secrets() -> None:
    # ``primary_key: [store, day]`` names columns; masking "store" would hide task ids,
    # model names and error messages that mention it
    connections = {"retail": {"streams": {"sales": {"primary_key": ["store", "day"]}}}}
    assert connection_secrets(connections) == set()
    assert connection_secrets({"shop": {"api_key": "k-123"}}) == {"k-123"}


# -- ${file:PATH}: secrets mounted as files -----------------------------------------------------

FILE_CONFIG = """
connections:
  shopify:
    shop: brand
    token: ${file:%s}
"""


def test_a_secret_is_read_from_a_file_and_masked_like_one(tmp_path: Path) -> None:
    mounted = tmp_path / "run" / "shopify_token"
    mounted.parent.mkdir()
    mounted.write_text("shpat_from_a_file_42\n")  # as `echo > file` leaves it
    loaded = project(tmp_path, {"podium.yaml": FILE_CONFIG % mounted}, {})
    assert loaded.connections["shopify"]["token"] == "shpat_from_a_file_42"
    assert "shpat_from_a_file_42" in loaded.secrets
    assert Masker(loaded.secrets)("sent shpat_from_a_file_42") == "sent ***"


def test_a_relative_secret_file_is_under_the_project_folder(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ns").write_text("line one\nline two\r\n")
    files = {"podium.yaml": "connections: {ns: {note: '${file:secrets/ns}'}}\n"}
    loaded = project(tmp_path, files, {})
    assert loaded.connections["ns"]["note"] == "line one\nline two"  # one line break dropped
    assert "line one\nline two" in loaded.secrets  # secret whatever its key is called


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: None, "does not exist; create it or fix the path"),
        (lambda p: p.mkdir(), "is a folder; name the file that holds the secret"),
        (lambda p: p.write_text(""), "is empty; write the secret into it"),
        (lambda p: p.write_bytes(b"\xff\xfe\x00"), "is not UTF-8 text"),
        (lambda p: p.write_bytes(b"x" * 70_000), "holds 70000 bytes, more than a secret"),
    ],
    ids=["missing", "folder", "empty", "binary", "huge"],
)
def test_a_bad_secret_file_is_a_problem_at_its_line(
    tmp_path: Path, make: Any, problem: str
) -> None:
    target = tmp_path / "token"
    make(target)
    (found,) = problems(tmp_path, {"podium.yaml": FILE_CONFIG % target}, {})
    assert found.startswith(f"podium.yaml:4: secret file '{target}' {problem}"), found


def test_an_unreadable_secret_file_is_a_problem(tmp_path: Path) -> None:
    """Root reads any file whatever its mode, so as root the check runs in a child that
    has become ``nobody`` first."""
    target = tmp_path / "token"
    target.write_text("shpat_unreadable")
    target.chmod(0)
    if os.geteuid() != 0:
        (found,) = problems(tmp_path, {"podium.yaml": FILE_CONFIG % target}, {})
        assert "cannot be read (permission denied)" in found and "shpat" not in found
        return
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.setgid(65534)
        os.setuid(65534)
        os.write(writer, read_secret_file(tmp_path, "token")[1].encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader) as said:
        assert said.read().startswith("cannot be read (permission denied)")


def test_a_file_reference_without_a_path_is_a_problem(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, {"podium.yaml": "connections: {c: {t: '${file:}'}}\n"}, {})
    assert found == "podium.yaml:1: secret file '' has no path; write ${file:/run/secrets/NAME}"
