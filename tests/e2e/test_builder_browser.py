"""The workflow builder in headless Chromium (Debian's ``/usr/bin/chromium``) against a real
``podium up`` on the commerce template with its workflow files removed, the sources served
by the sandbox's simulators, and users logged in through the real form:

- an operator builds the commerce ``daily`` workflow on the canvas (palette, forms,
  pickers, a dependency dragged from one task to another, a schedule with its next five
  times), saves it after the diff, ``podium validate`` passes, and the run started from
  the UI (``podium up`` picked the new file up without a restart) finishes;
- a hand-written file opened and saved with one retry changed differs by that one line;
- a save over a file changed on disk since it was opened is refused with a clear message;
- a viewer sees the builder read-only and the server refuses their save.

Screenshots go to ``$PODIUM_TEST_ARTIFACTS/builder/`` (default ``tests/artifacts/builder/``).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from podium.sandbox.brand import BrandConfig
from podium.sandbox.service import SERVED, start_sandbox
from podium.server import access
from podium.store.database import open_database

from .conftest import Project, Up, podium_env
from .test_commerce_model import commerce_project

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package")
expect = sync_api.expect

ARTIFACTS = (
    Path(
        os.environ.get("PODIUM_TEST_ARTIFACTS") or Path(__file__).resolve().parents[1] / "artifacts"
    )
    / "builder"
)
PASSWORD = "correct horse battery"
LIVE = 20_000
#: the brand the commerce tests use: the daily run needs every shape of its data
BRAND = BrandConfig(days=40)
HAND_WRITTEN = """\
# Written by hand: the comments, the order and the quoting stay as they are.
name: handmade
description: Land the retailers' files, then say so   # a trailing comment

tasks:
  - id: land
    extract: retailers
    retries: 2          # the share drops files late
    timeout: 10m
  - id: tell
    shell: 'echo landed'
    depends_on: [land]
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, Up]]:
    with start_sandbox(config=BRAND, fast=True, apis=SERVED) as sandbox:
        root = tmp_path_factory.mktemp("builder")
        commerce_project(root, sandbox, {"type": "duckdb"})
        shutil.rmtree(root / "workflows")
        (root / "workflows").mkdir()
        config = yaml.safe_load((root / "podium.yaml").read_text())
        db = open_database(str(config["store"]).replace("///.podium", f"///{root}/.podium"))
        for name, role in (("otto", "operator"), ("vera", "viewer")):
            access.add_user(db, name, PASSWORD, role, now=time.time())
        db.close()
        project = Project(root, podium_env())
        up = project.up(timeout=60)
        yield project, up
        project.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_page(browser: Any, up: Up, user: str) -> tuple[Any, list[str]]:
    """A fresh page logged in as ``user``; errors collected (an expected refusal's
    "Failed to load resource" line excepted)."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    errors: list[str] = []

    def console(msg: Any) -> None:
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            errors.append(msg.text)

    page.on("console", console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{up.url}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    return page, errors


@pytest.fixture
def operator(browser: Any, served: tuple[Project, Up]) -> Iterator[Any]:
    page, errors = open_page(browser, served[1], "otto")
    yield page
    page.context.close()
    assert errors == [], errors


@pytest.fixture
def viewer(browser: Any, served: tuple[Project, Up]) -> Iterator[Any]:
    page, errors = open_page(browser, served[1], "vera")
    yield page
    page.context.close()
    assert errors == [], errors


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def set_field(page: Any, panel: str, key: str, value: str) -> None:
    """Types ``value`` into the field ``key`` of a panel and leaves it (a change)."""
    box = page.locator(f'{panel} [data-field="{key}"]').first
    control = box.locator("input, select, textarea").first
    if control.evaluate("e => e.tagName") == "SELECT":
        control.select_option(value)
    else:
        control.fill(value)
        control.press("Tab")


def add_task(page: Any, kind: str, task_id: str, target: str, **options: str) -> None:
    page.click(f'#bd-palette button[data-kind="{kind}"]')
    expect(page.locator("#bd-task h2")).to_have_text(re.compile(rf"^Task {kind}"))
    set_field(page, "#bd-task", "id", task_id)
    expect(page.locator("#bd-task h2")).to_have_text(f"Task {task_id}")
    set_field(page, "#bd-task", kind, target)
    for key, value in options.items():
        set_field(page, "#bd-task", key, value)


def drag_dependency(page: Any, before: str, after: str) -> None:
    """Drags from ``before``'s handle onto ``after``: ``after`` depends on ``before``."""
    handle = page.locator(f'[data-handle="{before}"]')
    handle.scroll_into_view_if_needed()
    start = handle.bounding_box()
    target = page.locator(f'.bd-node[data-task="{after}"] rect').bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + 40, target["y"] + 20, steps=8)
    page.mouse.up()


def review_and_save(page: Any) -> str:
    page.click("#bd-review")
    expect(page.locator("#bd-dialog")).to_be_visible()
    diff = str(page.locator("#bd-diff").inner_text())
    page.click("#bd-save")
    return diff


def test_build_the_commerce_daily_workflow_save_validate_and_run_it(
    served: tuple[Project, Up], operator: Any
) -> None:
    project, up = served
    page = operator
    page.goto(f"{up.url}/builder")
    page.fill("#bd-new-name", "daily")
    page.click("#bd-create")
    page.wait_for_url(re.compile(r"/builder/daily$"))
    expect(page.locator("#builder")).to_have_attribute("data-ready", "yes")
    set_field(page, "#bd-workflow", "description", "Land every source; build, check, push VIPs.")
    # the schedule, with its next five times in its time zone
    page.click('button[data-add-trigger="schedule"]')
    set_field(page, '.bd-trigger[data-trigger="0"]', "schedule", "0 6 * * *")
    set_field(page, '.bd-trigger[data-trigger="0"]', "timezone", "America/New_York")
    times = page.locator('[data-next-times="0"] li')
    expect(times).to_have_count(5)
    expect(times.first).to_contain_text(re.compile(r"06:00:00-0[45]:00"))
    # a picker offers the project's connections
    page.click('#bd-palette button[data-kind="extract"]')
    options = page.locator('#bd-task [data-field="extract"] datalist option')
    values = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert {"shopify", "amazon", "netsuite", "klaviyo", "retailers", "ad_spend"} <= set(values)
    page.click("#bd-task button.bd-remove")
    for source in ("shopify", "netsuite", "klaviyo"):
        add_task(page, "extract", source, source, retries="2")
    add_task(page, "extract", "amazon", "amazon", retries="2", late_after="30m", on_late="continue")
    add_task(page, "extract", "retailers", "retailers")
    add_task(page, "extract", "ad_spend", "ad_spend")
    add_task(page, "transform", "models", "*")
    # a mistake shows podium validate's message on the task and field it concerns
    add_task(page, "sync", "push_vip", "vip_to_klaviyo_")
    problem = page.locator('#bd-task [data-error-for="sync"]')
    expect(problem).to_contain_text("sync 'vip_to_klaviyo_' is not in podium.yaml's syncs")
    expect(page.locator('.bd-node[data-task="push_vip"]')).to_have_class(re.compile("bd-bad"))
    set_field(page, "#bd-task", "sync", "vip_to_klaviyo")
    drag_dependency(page, "models", "push_vip")
    expect(page.locator('path.bd-edge[data-from="models"][data-to="push_vip"]')).to_have_count(1)
    expect(page.locator("#bd-status")).to_have_text("valid", timeout=LIVE)
    shot(page, "01-daily-built")
    diff = review_and_save(page)
    assert "+  - id: push_vip" in diff and "+    depends_on: [models]" in diff
    expect(page.locator("#bd-status")).to_contain_text("saved workflows/daily.yaml")
    saved = yaml.safe_load((project.root / "workflows" / "daily.yaml").read_text())
    assert [t["id"] for t in saved["tasks"]] == [
        "shopify", "netsuite", "klaviyo", "amazon", "retailers", "ad_spend", "models", "push_vip"
    ]  # fmt: skip
    assert saved["triggers"] == [{"schedule": "0 6 * * *", "timezone": "America/New_York"}]
    assert saved["tasks"][3] == {
        "id": "amazon", "extract": "amazon", "retries": 2, "late_after": "30m",
        "on_late": "continue",
    }  # fmt: skip
    project.ok("validate")
    # podium up took the new file without a restart: run it from the UI, watch it finish
    answer = page.goto(f"{up.url}/workflows/daily")
    for _ in range(20):  # a store busy under CI's load answers 503: a person reloads
        if answer is None or answer.status != 503:
            break
        page.wait_for_timeout(500)
        answer = page.reload()
    assert answer is not None and answer.status == 200, page.inner_text("body")[:800]
    page.click("form.run-now button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\w+\?notice=started$"))
    run_id = page.url.split("/runs/")[1].split("?")[0]
    expect(page.locator("#run-status")).to_have_attribute(
        "data-state", re.compile("succeeded|failed"), timeout=240_000
    )
    failed = project.query(
        "SELECT task_id, status, error FROM task_runs WHERE run_id = ? AND status <> 'succeeded'",
        (run_id,),
    )
    assert failed == [], failed
    shot(page, "02-daily-ran")


def test_a_hand_written_file_changed_by_one_retry_differs_by_one_line(
    served: tuple[Project, Up], operator: Any
) -> None:
    project, up = served
    path = project.root / "workflows" / "handmade.yaml"
    path.write_text(HAND_WRITTEN)
    page = operator
    page.goto(f"{up.url}/builder/handmade")
    expect(page.locator("#bd-status")).to_have_text("valid", timeout=LIVE)
    page.click('.bd-node[data-task="land"] rect')
    set_field(page, "#bd-task", "retries", "3")
    diff = review_and_save(page)
    changed = [line for line in diff.splitlines() if re.match(r"^[-+](?![-+]{2})", line)]
    assert changed == [
        "-    retries: 2          # the share drops files late",
        "+    retries: 3          # the share drops files late",
    ]
    expect(page.locator("#bd-status")).to_contain_text("saved")
    assert path.read_text() == HAND_WRITTEN.replace("retries: 2 ", "retries: 3 ")
    shot(page, "03-one-retry")


def test_a_save_over_a_file_changed_on_disk_is_refused(
    served: tuple[Project, Up], operator: Any
) -> None:
    project, up = served
    path = project.root / "workflows" / "conflict.yaml"
    path.write_text(HAND_WRITTEN.replace("name: handmade", "name: conflict"))
    page = operator
    page.goto(f"{up.url}/builder/conflict")
    expect(page.locator("#bd-status")).to_have_text("valid", timeout=LIVE)
    page.click('.bd-node[data-task="land"] rect')
    set_field(page, "#bd-task", "retries", "4")
    by_hand = path.read_text().replace("echo landed", "echo landed by hand")
    path.write_text(by_hand)
    review_and_save(page)
    message = page.locator("#bd-save-message")
    expect(message).to_contain_text("changed on disk since you opened it")
    assert path.read_text() == by_hand
    shot(page, "04-conflict-refused")


def test_a_viewer_sees_the_builder_read_only_and_cannot_save(
    served: tuple[Project, Up], viewer: Any
) -> None:
    project, up = served
    path = project.root / "workflows" / "watched.yaml"
    path.write_text(HAND_WRITTEN.replace("name: handmade", "name: watched"))
    before = path.read_text()
    page = viewer
    page.goto(f"{up.url}/builder/watched")
    expect(page.locator("#builder")).to_have_attribute("data-ready", "yes")
    expect(page.locator(".bd-readonly")).to_be_visible()
    assert page.locator("#bd-review").count() == 0
    expect(page.locator('#bd-palette button[data-kind="extract"]')).to_be_disabled()
    page.click('.bd-node[data-task="land"] rect')
    expect(page.locator('#bd-task [data-field="retries"] input')).to_be_disabled()
    status = page.evaluate(
        """async () => {
            const b = document.getElementById("builder");
            const file = await (await fetch("/api/builder/files/watched")).json();
            file.document.tasks[0].retries = 9;
            const r = await fetch("/api/builder/save", {method: "POST",
                headers: {"Content-Type": "application/json", "X-CSRF-Token": b.dataset.csrf},
                body: JSON.stringify({file: "workflows/watched.yaml", document: file.document,
                                      sha256: file.sha256})});
            return r.status;
        }"""
    )
    assert status == 403
    assert path.read_text() == before
    shot(page, "05-viewer-read-only")


def test_event_webhook_and_asset_triggers_from_their_forms(
    served: tuple[Project, Up], operator: Any
) -> None:
    project, up = served
    page = operator
    page.goto(f"{up.url}/builder/triggered")
    expect(page.locator("#builder")).to_have_attribute("data-ready", "yes")
    add_task(page, "shell", "say", "echo triggered")
    page.click('button[data-add-trigger="event"]')
    set_field(page, '.bd-trigger[data-trigger="0"]', "event", "orders_dropped")
    page.click('button[data-add-trigger="webhook"]')
    webhook = '.bd-trigger[data-trigger="1"]'
    hooks = page.locator(f'{webhook} [data-field="webhook"] datalist option')
    expect(hooks).to_have_count(1)
    assert hooks.first.get_attribute("value") == "shopify"
    set_field(page, webhook, "webhook", "shopify")
    set_field(page, webhook, "topic", "orders/create, orders/paid")
    set_field(page, webhook, "filters", '{"financial_status": "paid"}')
    page.click('button[data-add-trigger="asset"]')
    asset = '.bd-trigger[data-trigger="2"]'
    page.locator(f"{asset} select.bd-branch").select_option("object")
    set_field(page, asset, "all_of", "commerce.orders, commerce.refunds")
    set_field(page, asset, "deadline", "2h")
    set_field(page, "#bd-task", "timeout", "5m")
    set_field(page, "#bd-task", "pool", "connection:shopify")
    expect(page.locator("#bd-status")).to_have_text("valid", timeout=LIVE)
    shot(page, "06-triggers")
    review_and_save(page)
    expect(page.locator("#bd-status")).to_contain_text("saved")
    saved = yaml.safe_load((project.root / "workflows" / "triggered.yaml").read_text())
    assert saved["triggers"] == [
        {"event": "orders_dropped"},
        {
            "webhook": "shopify",
            "topic": ["orders/create", "orders/paid"],
            "filters": {"financial_status": "paid"},
        },
        {"asset": {"all_of": ["commerce.orders", "commerce.refunds"], "deadline": "2h"}},
    ]
    assert saved["tasks"] == [
        {"id": "say", "shell": "echo triggered", "timeout": "5m", "pool": "connection:shopify"}
    ]
