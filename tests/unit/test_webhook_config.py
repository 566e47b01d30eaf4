"""Webhook settings in podium.yaml and ``webhook`` triggers in workflows: read, checked
with file:line, secrets masked; and which deliveries a trigger matches."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from podium.core.workflow import Project, WebhookTrigger, Workflow
from podium.errors import ProjectError
from podium.project import load_project
from podium.webhooks.match import PayloadError, lookup, matches, run_params
from podium.webhooks.settings import all_webhook_settings, parse_size

ENV = {"SHOPIFY_WEBHOOK_SECRET": "shpss_current_secret_1", "OLD_SECRET": "shpss_old_secret_22"}
CONFIG = """
connections:
  shopify:
    type: shopify
    shop: acme
    access_token: shpat_token_1234
    webhooks: {secret: "${SHOPIFY_WEBHOOK_SECRET}", previous_secret: "${OLD_SECRET}", max_body: 256KB}
  stripe:
    type: webhook
    webhooks: {verify: stripe, secret: whsec_abcdef, tolerance: 2m}
"""
WORKFLOW = """
name: on_order
params: {order_id: null, note: x}
triggers:
  - webhook: shopify
    topic: [orders/create, refunds/*]
    filters: {financial_status: paid, "customer.tags": vip}
    params: {order_id: id}
tasks: [{id: a, shell: "echo hi"}]
"""


def write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def load(root: Path, files: Mapping[str, str]) -> Project:
    write(root, files)
    return load_project(root, environ=ENV)


def problems(root: Path, files: Mapping[str, str]) -> list[str]:
    with pytest.raises(ProjectError) as info:
        load(root, files)
    return [str(p) for p in info.value.problems]


def test_a_project_with_webhook_connections_and_a_webhook_trigger_loads(tmp_path: Path) -> None:
    project = load(tmp_path, {"podium.yaml": CONFIG, "workflows/w.yaml": WORKFLOW})
    trigger = project.workflow("on_order").triggers[0]
    assert trigger == WebhookTrigger(
        "shopify",
        ("orders/create", "refunds/*"),
        {"financial_status": "paid", "customer.tags": "vip"},
        {"order_id": "id"},
        trigger.location,
    )
    assert str(trigger.location) == "workflows/w.yaml:4"
    settings = all_webhook_settings(project.connections)
    assert settings["shopify"].scheme == "shopify"
    assert settings["shopify"].secrets == ("shpss_current_secret_1", "shpss_old_secret_22")
    assert settings["shopify"].max_body == 256 * 1024
    assert (settings["stripe"].scheme, settings["stripe"].tolerance) == ("stripe", 120.0)
    assert {"shpss_current_secret_1", "shpss_old_secret_22", "whsec_abcdef"} <= project.secrets


def test_a_webhook_connection_is_not_an_extract_source(tmp_path: Path) -> None:
    workflow = "tasks: [{id: a, extract: stripe}]\n"
    found = problems(tmp_path, {"podium.yaml": CONFIG, "workflows/w.yaml": workflow})
    assert len(found) == 1 and "connection 'stripe' is not a source" in found[0]
    assert found[0].startswith("workflows/w.yaml:1: task 'a'")


def test_webhook_settings_problems_name_their_line(tmp_path: Path) -> None:
    config = """
    connections:
      stripe:
        type: webhook
        region: eu
        webhooks:
          verify: stripes
          secret: ""
          max_body: lots
          header: X-Sig
      erp:
        type: webhook
      shop:
        type: shopify
        shop: acme
        access_token: shpat_x1234
        webhooks:
          algorithm: sha256
      gen:
        type: webhook
        webhooks: {verify: hmac, secret: s3cr3t-value, encoding: hexa, max_attempts: 0}
    """
    assert problems(tmp_path, {"podium.yaml": config}) == [
        "podium.yaml:4: connections: stripe.region: unknown key; a connection of type webhook"
        " takes only type: and webhooks:",
        "podium.yaml:6: connections: stripe.webhooks.verify: expected one of shopify, stripe,"
        " klaviyo, hmac, got 'stripes'",
        "podium.yaml:7: connections: stripe.webhooks.secret: expected a non-empty secret,"
        " e.g. ${VAR}",
        "podium.yaml:8: connections: stripe.webhooks.max_body: expected a size such as 1MB,"
        " 256KB or a number of bytes, got 'lots'",
        "podium.yaml:11: connections: erp.webhooks: required for a connection of type webhook,"
        " e.g. webhooks: {verify: stripe, secret: ${STRIPE_WEBHOOK_SECRET}}",
        "podium.yaml:16: connections: shop.webhooks.secret: required; the signing secret the"
        " sender shows you, e.g. secret: ${WEBHOOK_SECRET}",
        "podium.yaml:17: connections: shop.webhooks.algorithm: applies only to verify: hmac",
        "podium.yaml:20: connections: gen.webhooks.encoding: expected one of hex, base64,"
        " got 'hexa'",
        "podium.yaml:20: connections: gen.webhooks.header: required with verify: hmac; the"
        " header carrying the signature, e.g. X-Signature",
        "podium.yaml:20: connections: gen.webhooks.max_attempts: expected a whole number of at"
        " least 1, got 0",
    ]


def test_a_webhook_trigger_must_name_a_connection_that_receives_webhooks(tmp_path: Path) -> None:
    config = CONFIG + "  plain: {type: shopify, shop: acme, access_token: shpat_zz11}\n"
    workflow = """
    name: w
    triggers:
      - webhook: shopfy
      - webhook: plain
      - webhook: stripe
        params: {missing: data.object.id}
      - webhook: stripe
        colour: red
        filters: {a: 1}
        filter: {b: 2}
        params: {x: 3}
    params: {x: 1}
    tasks: [{id: a, shell: x}]
    """
    assert problems(tmp_path, {"podium.yaml": config, "workflows/w.yaml": workflow}) == [
        "workflows/w.yaml:3: webhook trigger: unknown connection 'shopfy'; did you mean 'shopify'?",
        "workflows/w.yaml:4: webhook trigger: connection 'plain' receives no webhooks; add"
        " webhooks: {secret: ${WEBHOOK_SECRET}} to it in podium.yaml",
        "workflows/w.yaml:5: webhook trigger: param 'missing' is not declared by workflow 'w';"
        " declare it under params:",
        "workflows/w.yaml:8: webhook trigger: unknown key 'colour'; allowed: filter, filters,"
        " params, topic, webhook",
        "workflows/w.yaml:10: webhook trigger: write filters: once (filter: is the same thing)",
        "workflows/w.yaml:11: webhook trigger: params maps each workflow param to a dotted path"
        " in the payload (e.g. order_id: id); 'x' is not a path",
    ]


@pytest.mark.parametrize(
    ("text", "size"),
    [("1MB", 1 << 20), ("1 MiB", 1 << 20), ("256KB", 256 << 10), (512, 512), ("10b", 10)],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


def test_not_sizes() -> None:
    assert parse_size("1GB") is None and parse_size(True) is None and parse_size("") is None


# -- matching ------------------------------------------------------------------------------

ORDER = {
    "id": 1001,
    "financial_status": "paid",
    "customer": {"id": 7, "tags": ["vip", "wholesale"], "email": "a@b.c"},
    "line_items": [{"sku": "TEE-M"}],
    "test": False,
}


def trigger(**kw: object) -> WebhookTrigger:
    return WebhookTrigger("shopify", **kw)  # type: ignore[arg-type]


def test_lookup_walks_dotted_paths_through_objects_and_lists() -> None:
    assert lookup(ORDER, "customer.email") == (True, "a@b.c")
    assert lookup(ORDER, "line_items.0.sku") == (True, "TEE-M")
    assert lookup(ORDER, "line_items.1.sku") == (False, None)
    assert lookup(ORDER, "customer.phone") == (False, None)


def test_topics_match_exactly_or_by_glob_and_any_of_a_list() -> None:
    assert matches(trigger(), "shopify", None, ORDER)
    assert not matches(trigger(), "stripe", "orders/create", ORDER)
    assert matches(trigger(topics=("orders/create",)), "shopify", "orders/create", ORDER)
    assert not matches(trigger(topics=("orders/create",)), "shopify", "orders/updated", ORDER)
    assert matches(trigger(topics=("refunds/*", "orders/*")), "shopify", "orders/paid", ORDER)
    assert not matches(trigger(topics=("orders/*",)), "shopify", None, ORDER)
    klaviyo_batch = "event:klaviyo.clicked_email,event:klaviyo.opened_email"
    assert matches(trigger(topics=("event:*.opened_email",)), "shopify", klaviyo_batch, ORDER)


def test_filters_compare_json_values_and_look_inside_lists() -> None:
    assert matches(trigger(filters={"financial_status": "paid"}), "shopify", None, ORDER)
    assert matches(trigger(filters={"customer.tags": "vip"}), "shopify", None, ORDER)
    assert matches(
        trigger(filters={"financial_status": ["pending", "paid"]}), "shopify", None, ORDER
    )
    assert not matches(trigger(filters={"financial_status": "pending"}), "shopify", None, ORDER)
    assert not matches(trigger(filters={"customer.phone": "1"}), "shopify", None, ORDER)
    assert not matches(trigger(filters={"id": "1001"}), "shopify", None, ORDER)
    assert matches(trigger(filters={"id": 1001.0}), "shopify", None, ORDER)
    assert not matches(trigger(filters={"test": 0}), "shopify", None, ORDER)
    assert matches(trigger(filters={"test": False}), "shopify", None, ORDER)


def test_filters_on_a_payload_that_is_not_an_object_cannot_be_evaluated() -> None:
    with pytest.raises(PayloadError, match="JSON array, not an object"):
        matches(trigger(filters={"a": 1}), "shopify", None, [1, 2])
    assert matches(trigger(), "shopify", None, [1, 2])  # no filters: nothing to evaluate


def test_run_params_come_from_the_payload_and_a_missing_path_fails() -> None:
    wf = Workflow("w", (), params={"order_id": None, "financial_status": "?", "other": 1})
    params = run_params(trigger(params={"order_id": "id"}), wf, ORDER)
    assert params == {"order_id": 1001, "financial_status": "paid", "other": 1}
    with pytest.raises(PayloadError, match="no 'data.id' for param 'order_id'"):
        run_params(trigger(params={"order_id": "data.id"}), wf, ORDER)


def test_the_python_api_writes_webhook_triggers_like_yaml() -> None:
    import dataclasses

    import podium

    wf = podium.Workflow(
        "w",
        params={"order_id": None},
        triggers=[
            podium.on_webhook("shopify"),
            podium.on_webhook(
                "shopify",
                {"customer.tags": "vip"},
                topic=["orders/create", "orders/paid"],
                params={"order_id": "id"},
                financial_status="paid",
            ),
        ],
    )
    wf.shell("a", "x")
    triggers = [dataclasses.replace(t, location=None) for t in wf.build().triggers]
    assert triggers == [
        WebhookTrigger("shopify"),
        WebhookTrigger(
            "shopify",
            ("orders/create", "orders/paid"),
            {"customer.tags": "vip", "financial_status": "paid"},
            {"order_id": "id"},
        ),
    ]
