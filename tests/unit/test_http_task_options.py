"""Checking http tasks and ``outgoing_webhooks:`` when a project loads: every problem at its
file:line, and the options a valid task carries to its attempts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from podium.core.masking import Masker
from podium.errors import ProjectError
from podium.outgoing.hooks_config import OutgoingWebhook, event_types, outgoing_webhooks
from podium.project import load_project


def write(root: Path, workflow: str, config: str = "") -> None:
    (root / "workflows").mkdir(parents=True, exist_ok=True)
    (root / "podium.yaml").write_text(textwrap.dedent(config).lstrip())
    (root / "workflows" / "send.yaml").write_text(textwrap.dedent(workflow).lstrip())


def problems(root: Path, workflow: str, config: str = "") -> list[str]:
    write(root, workflow, config)
    with pytest.raises(ProjectError) as info:
        load_project(root, environ={"HOOK_SECRET": "whsec_abcdef123"})
    return [str(p) for p in info.value.problems]


# -- http tasks --------------------------------------------------------------------------------


def test_a_valid_http_task_carries_its_options(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        name: send
        tasks:
          - {id: orders, shell: "echo"}
          - id: send_orders
            http: https://3pl.example.com/api/orders/{{ row.order_id }}
            depends_on: [orders]
            method: put
            headers: {Authorization: "Bearer ${THREEPL_TOKEN}", X-Count: 3}
            body: {order: "{{ row }}", n: "{{ upstream.orders.last_line }}"}
            for_each: {query: "SELECT 1 AS order_id", key: order_id, warehouse: default}
            expect: [201, 200]
            retries: 3
        """,
    )
    project = load_project(tmp_path, environ={"THREEPL_TOKEN": "tok_123456"})
    task = project.workflows["send"].task("send_orders")
    assert task.kind == "http"
    assert task.target == "https://3pl.example.com/api/orders/{{ row.order_id }}"
    assert task.retry.retries == 3
    assert task.options == {
        "method": "PUT",
        "headers": {"Authorization": "Bearer tok_123456", "X-Count": "3"},
        "body": {"order": "{{ row }}", "n": "{{ upstream.orders.last_line }}"},
        "for_each": {"query": "SELECT 1 AS order_id", "key": ["order_id"]},
        "expect": [200, 201],
    }
    assert "tok_123456" in project.secrets


def test_every_http_problem_is_reported_at_its_line(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        name: send
        tasks:
          - id: a
            http: ftp://files.example.com/x
            method: FETCH
            expect: [99, 200]
            headers: {"bad header": x, X-Obj: {a: 1}}
          - id: b
            http: https://x.example.com/{{ row.id }}
            method: GET
            body: {x: "{{ rows }}", y: "{{ upstream.nope.rows }}", z: "{{ env.HOME }}"}
          - id: c
            http: https://x.example.com/
            for_each: {rows: "not a reference", batch: 0, what: 1, warehouse: other}
            body: "{{ row }}"
          - id: d
            http: https://x.example.com/
            for_each: {query: "SELECT 1", rows: "{{ params.rows }}"}
          - id: e
            http: https://x.example.com/
            streams: [orders]
        """,
    )
    assert found == [
        "workflows/send.yaml:4: task 'a': the URL must start with http:// or https:// and name a host",
        "workflows/send.yaml:5: task 'a': method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, got 'FETCH'",
        "workflows/send.yaml:6: task 'a': expect must be a status code or a list of them (100-599), got [99, 200]",
        "workflows/send.yaml:7: task 'a': headers: 'bad header' is not a valid header name",
        "workflows/send.yaml:7: task 'a': headers: the value of X-Obj must be text, got {'a': 1}",
        "workflows/send.yaml:9: task 'b': url: {{ row }} needs for_each: (one call per row)",
        "workflows/send.yaml:11: task 'b': a GET request has no body; use method: POST",
        "workflows/send.yaml:11: task 'b': body.x: {{ rows }} needs for_each: with batch: N (N rows per call)",
        "workflows/send.yaml:11: task 'b': body.y: upstream.nope is not a task this one depends on; add it to depends_on",
        "workflows/send.yaml:11: task 'b': body.z: {{ env.HOME }} starts with unknown 'env'; references start with row, rows, params, upstream, trigger, run",
        "workflows/send.yaml:14: task 'c': for_each: batch must be a whole number 1 or more, got 0",
        "workflows/send.yaml:14: task 'c': for_each: rows must be one reference such as {{ upstream.TASK.rows }}",
        "workflows/send.yaml:14: task 'c': for_each: unknown key 'what'; allowed: batch, key, query, rows, warehouse",
        "workflows/send.yaml:14: task 'c': for_each: warehouse must be default (the warehouse in podium.yaml)",
        "workflows/send.yaml:15: task 'c': body: with batch:, each call sends {{ rows }} (a list), not {{ row }}",
        "workflows/send.yaml:18: task 'd': for_each: write exactly one of query: SQL (the warehouse) or rows: {{ … }}",
        "workflows/send.yaml:21: task 'e': 'streams' applies only to extract tasks",
    ]  # fmt: skip


def test_http_options_on_another_kind_are_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, "tasks:\n  - {id: a, shell: echo, body: {x: 1}}\n")
    assert found == ["workflows/send.yaml:2: task 'a': 'body' applies only to http tasks"]


def test_for_each_rows_may_not_name_a_row(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        tasks:
          - id: a
            http: https://x.example.com/
            for_each: {rows: "{{ row.items }}"}
        """,
    )
    assert found == [
        "workflows/send.yaml:4: task 'a': for_each: rows: {{ row.items }} starts with unknown"
        " 'row'; references start with params, upstream, trigger, run"
    ]


# -- outgoing webhooks -------------------------------------------------------------------------


def test_outgoing_webhooks_are_read_with_defaults(tmp_path: Path) -> None:
    write(
        tmp_path,
        "tasks:\n  - {id: a, shell: echo}\n",
        """
        outgoing_webhooks:
          - url: https://ops.example.com/podium-hook
            secret: ${HOOK_SECRET}
          - url: https://chain.example.com/in
            name: chain
            secret: literal-secret-value
            events: [RunFinished, orders_ready]
            workflows: [daily]
            attempts: 3
            retry_delay: 1m
            timeout: 5s
        """,
    )
    project = load_project(tmp_path, environ={"HOOK_SECRET": "whsec_abcdef123"})
    first, second = outgoing_webhooks(project.outgoing_webhooks)
    assert first == OutgoingWebhook(
        name=first.name,
        url="https://ops.example.com/podium-hook",
        secret="whsec_abcdef123",
        events=frozenset({"RunFinished", "AssetUpdated"}),
        workflows=frozenset(),
    )
    assert first.name.startswith("ops.example.com-")
    assert second == OutgoingWebhook(
        "chain",
        "https://chain.example.com/in",
        "literal-secret-value",
        frozenset({"RunFinished", "orders_ready"}),
        frozenset({"daily"}),
        attempts=3,
        retry_delay=60.0,
        timeout=5.0,
    )
    mask = Masker(project.secrets)  # a secret written literally is masked like the others
    assert mask("whsec_abcdef123 literal-secret-value") == "*** ***"
    assert [second.retry_wait(n) for n in (0, 1, 2, 3, 7)] == [0.0, 60.0, 120.0, 240.0, 3600.0]


def test_every_outgoing_webhook_problem_is_reported_at_its_line(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "tasks:\n  - {id: a, shell: echo}\n",
        """
        outgoing_webhooks:
          - url: ftp://ops.example.com/hook
            secret: ${HOOK_SECRET}
          - url: https://a.example.com/
            events: [RunFinish, my_custom_event]
            attempts: 0
            colour: blue
          - {url: https://a.example.com/, secret: s1, name: x}
          - {url: https://b.example.com/, secret: s2, name: x, retry_delay: soon}
          - just text
        """,
    )
    assert found == [
        "podium.yaml:2: outgoing_webhooks[0]: url must start with http:// or https:// and name a host",
        "podium.yaml:4: outgoing_webhooks[1]: add secret: ${OUTGOING_HOOK_SECRET}; each delivery is signed with it so the receiver can check it came from podium",
        "podium.yaml:5: outgoing_webhooks[1]: unknown event type 'RunFinish'; did you mean 'RunFinished'?",
        "podium.yaml:6: outgoing_webhooks[1]: attempts must be a whole number 1 or more, got 0",
        "podium.yaml:7: outgoing_webhooks[1]: unknown key 'colour'; allowed: attempts, events, name, retry_delay, secret, timeout, url, workflows",
        "podium.yaml:9: outgoing_webhooks[3]: another outgoing webhook (item 2) is also named 'x'; give each a name: of its own",
        "podium.yaml:9: outgoing_webhooks[3]: retry_delay: 'soon' is not a duration; write e.g. 30s, 5m, 1h30m or 2d",
        "podium.yaml:10: each outgoing webhook must be a mapping",
    ]  # fmt: skip


def test_event_types_come_from_the_event_classes() -> None:
    names = event_types()
    assert {"RunFinished", "AssetUpdated", "AttemptFinished", "TaskLate"} <= set(names)
    assert "Event" not in names and "CustomEvent" not in names
