"""The web UI in headless Chromium (Debian's ``/usr/bin/chromium``) against a real
``podium up``: open it, start a run with a param from the "Run now" form and watch it
finish without reloading, open a task's logs, retry a run's failed tasks with the button,
see a late task marked on the run page and on the graph; pause a schedule; open /docs
with every request off this machine refused; a real extract → model → failing check with
its failing rows, lineage and asset pages and the *Build* button; and the pages at phone
width.

Screenshots of every step go to ``$PODIUM_TEST_ARTIFACTS/ui/`` (default
``tests/artifacts/ui/``, which git ignores).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Project, Up, podium_env

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
    / "ui"
)
TOKEN = "shpat_browser_secret_4242"
LIVE = 20_000  # ms to wait for a state the page must reach on its own

TASKS_PY = """
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def hello(ctx):
    ctx.log.info("hello %s for %s days", ctx.params["who"], ctx.params["days"])
    time.sleep(1.5)  # long enough for the page to show the run before it ends
    return {"days": ctx.params["days"], "who": ctx.params["who"]}


def extract(ctx):
    return {"rows": 42}


def load(ctx):
    token = os.environ["SHOP_TOKEN"]
    ctx.log.info("posting to the warehouse with %s", token)
    if not (ROOT / "marks" / "warehouse-fixed").exists():
        raise RuntimeError(f"the warehouse refused token {token}: fix it, then retry")
    return {"loaded": ctx.upstream["extract"]["rows"]}


def slow(ctx):
    time.sleep(2.5)
    return {"landed": True}


def report(ctx):
    return {"late": list(ctx.late_upstreams)}
"""

SALES_CSV = "id,store,total,note\n" + "".join(
    f"{i},store-{i % 3},{-i if i % 4 == 0 else i * 10},a long free-text note that goes on {i}\n"
    for i in range(1, 13)
)
FILES = {
    "podium.yaml": "store: sqlite:///.podium/state.db\n"
    "warehouse:\n  type: duckdb\n"
    'connections:\n  shop:\n    token: "${SHOP_TOKEN}"\n'
    "  retailers:\n    type: files\n    path: inbox\n"
    "    streams:\n      sales: {pattern: '*.csv', primary_key: [id]}\n",
    "inbox/sales.csv": SALES_CSV,
    "models/shop/sales.sql": "select id, store, total, note from raw_retailers.sales",
    "models/shop/sales.yaml": """
        checks:
          - {kind: sql, name: no_negative_totals_in_the_sales_of_every_store_and_day,
             model: shop.sales,
             sql: "select id, store, total, note from shop.sales where total < 0"}
    """,
    "workflows/sales.yaml": """
        name: sales
        triggers:
          - schedule: "0 6 * * *"
        tasks:
          - id: retailers
            extract: retailers
          - id: models
            transform: shop
    """,
    "pipeline/__init__.py": "",
    "pipeline/tasks.py": TASKS_PY,
    "workflows/hello.yaml": """
        name: hello
        params: {days: 1, who: world}
        triggers:
          - schedule: "0 5 * * *"
            timezone: America/New_York
        tasks:
          - id: greet
            run: pipeline.tasks:hello
          - id: shout
            shell: "echo shout"
            depends_on: [greet]
    """,
    "workflows/flaky.yaml": """
        name: flaky
        tasks:
          - id: extract
            run: pipeline.tasks:extract
          - id: load
            run: pipeline.tasks:load
            depends_on: [extract]
          - id: publish
            shell: "echo published"
            depends_on: [load]
    """,
    "workflows/late.yaml": """
        name: late
        tasks:
          - id: slow
            run: pipeline.tasks:slow
            late_after: 1s
            on_late: continue
          - id: fast
            run: pipeline.tasks:extract
          - id: report
            run: pipeline.tasks:report
            depends_on: [slow, fast]
    """,
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, Up]]:
    project = Project(tmp_path_factory.mktemp("ui"), podium_env({"SHOP_TOKEN": TOKEN}))
    project.write(FILES)
    up = project.up()
    yield project, up
    project.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; any console error (a script failing, a CSP violation) fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert errors == [], errors


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def stays_put(page: Any) -> None:
    """Marks the loaded document: ``not_reloaded`` later proves no navigation happened."""
    page.evaluate("window.__podiumSamePage = 'yes'")


def not_reloaded(page: Any) -> bool:
    return bool(page.evaluate("window.__podiumSamePage === 'yes'"))


def run_now(page: Any, up: Up, workflow: str, **params: str) -> str:
    """Starts ``workflow`` from its page's "Run now" form; returns the new run's id."""
    page.goto(f"{up.url}/workflows/{workflow}")
    for name, value in params.items():
        page.fill(f'input[name="param.{name}"]', value)
    page.click("form.run-now button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\w+\?notice=started$"))
    return str(page.url.split("/runs/")[1].split("?")[0])


def test_open_the_ui(served: tuple[Project, Up], page: Any) -> None:
    _, up = served
    page.goto(up.url + "/")
    expect(page.locator("h1")).to_have_text("Workflows")
    for name in ("hello", "flaky", "late"):
        expect(page.locator(f'tr[data-workflow="{name}"]')).to_be_visible()
    hello = page.locator('tr[data-workflow="hello"]')
    expect(hello).to_contain_text("schedule 0 5 * * * (America/New_York")
    expect(hello).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d 05:00 America/New_York"))
    shot(page, "01-workflows")


def test_start_a_run_with_a_param_and_watch_it_finish_live(
    served: tuple[Project, Up], page: Any
) -> None:
    _, up = served
    page.goto(f"{up.url}/workflows/hello")
    expect(page.locator('input[name="param.days"]')).to_have_value("1")
    shot(page, "02-run-now-form")
    run_id = run_now(page, up, "hello", days="5")
    stays_put(page)
    status = page.locator("#run-status")
    assert status.get_attribute("data-state") in ("queued", "running")
    expect(page.locator(".notice")).to_have_text("Run started.")
    expect(page.locator("dl.facts")).to_contain_text('"days": 5')
    shot(page, "03-run-in-progress")
    expect(status).to_have_attribute("data-state", "succeeded", timeout=LIVE)
    expect(page.locator('tr[data-task="shout"]')).to_have_attribute("data-state", "succeeded")
    expect(page.locator("svg.gantt rect.bar.st-succeeded")).to_have_count(2)
    assert not_reloaded(page), "the page was reloaded instead of updated in place"
    assert up.run(run_id)["params"] == {"days": 5, "who": "world"}
    shot(page, "04-run-finished-live")


def test_open_a_tasks_logs(served: tuple[Project, Up], page: Any) -> None:
    _, up = served
    (run,) = up.runs(workflow="hello", status="succeeded")
    page.goto(f"{up.url}/runs/{run['run_id']}")
    page.click('tr[data-task="greet"] a')
    page.wait_for_url(re.compile(r"/runs/\w+/tasks/greet$"))
    expect(page.locator("#logs")).to_contain_text("INFO hello world for 5 days")
    expect(page.locator("#task-status")).to_have_attribute("data-state", "succeeded")
    expect(page.locator("pre.json")).to_contain_text('"who": "world"')
    shot(page, "05-task-logs")


def test_retry_the_failed_tasks_of_a_run(served: tuple[Project, Up], page: Any) -> None:
    project, up = served
    run_id = run_now(page, up, "flaky")
    stays_put(page)
    expect(page.locator("#run-status")).to_have_attribute("data-state", "failed", timeout=LIVE)
    expect(page.locator('tr[data-task="load"]')).to_contain_text(
        "the warehouse refused token ***: fix it, then retry"
    )
    expect(page.locator('tr[data-task="publish"]')).to_have_attribute(
        "data-state", "upstream_failed"
    )
    retry = page.locator("#retry-failed")
    expect(retry).to_have_text("Retry failed only (2)")
    assert not_reloaded(page)
    assert TOKEN not in page.content()
    shot(page, "06-run-failed")

    (project.root / "marks").mkdir(exist_ok=True)
    (project.root / "marks" / "warehouse-fixed").write_text("yes\n")
    retry.click()
    page.wait_for_url(re.compile(rf"/runs/{run_id}\?notice=retried$"))
    expect(page.locator("#run-status")).to_have_attribute("data-state", "succeeded", timeout=LIVE)
    expect(page.locator('tr[data-task="load"] td:nth-child(3)')).to_have_text("2")
    expect(page.locator('tr[data-task="extract"] td:nth-child(3)')).to_have_text("1")
    expect(page.locator("svg.gantt rect.bar.st-failed")).to_have_count(1)
    shot(page, "07-retried-and-succeeded")

    page.goto(f"{up.url}/runs/{run_id}/tasks/load?attempt=1")
    expect(page.locator("#logs")).to_contain_text("posting to the warehouse with ***")
    assert TOKEN not in page.content()
    shot(page, "08-failed-attempt-logs-masked")


def test_see_a_late_task_marked(served: tuple[Project, Up], page: Any) -> None:
    _, up = served
    run_id = run_now(page, up, "late")
    stays_put(page)
    slow_row = page.locator('tr[data-task="slow"]')
    # marked late while it is still running, by the live refresh
    expect(slow_row.locator(".mark-late")).to_contain_text(
        "late (after 1.0s, on_late: continue)", timeout=LIVE
    )
    expect(page.locator('svg.dag g.node.is-late[data-task="slow"]')).to_be_visible()
    expect(page.locator('tr[data-task="report"] .mark-incomplete')).to_contain_text(
        "incomplete: without fresh slow", timeout=LIVE
    )
    expect(page.locator("#run-status")).to_have_attribute("data-state", "succeeded", timeout=LIVE)
    expect(page.locator("svg.gantt line.late-line")).to_have_count(1)
    assert not_reloaded(page)
    shot(page, "09-late-task-on-run-page")
    expect(page.locator("dl.facts")).to_contain_text("Catch-up runs", timeout=LIVE)

    page.goto(f"{up.url}/workflows/late?run={run_id}")
    node = page.locator('svg.dag g.node[data-task="slow"]')
    expect(node).to_have_class(re.compile(r"\bis-late\b"))
    expect(node.locator("text.sub")).to_contain_text("LATE")
    expect(page.locator('svg.dag g.node[data-task="report"]')).to_have_class(
        re.compile(r"\bis-incomplete\b")
    )
    shot(page, "10-late-task-on-graph")


def test_graph_labels_fit_their_boxes_and_the_timeline_fills_the_page(
    served: tuple[Project, Up], page: Any
) -> None:
    _, up = served
    (run,) = up.runs(workflow="hello", status="succeeded")
    page.goto(f"{up.url}/runs/{run['run_id']}")
    cut = page.evaluate(
        """() => [...document.querySelectorAll('svg.dag g.node')].filter(g =>
             g.querySelector('text.label').getComputedTextLength() + 14 >
             Number(g.querySelector('rect.box').getAttribute('width'))).length"""
    )
    assert cut == 0, "a graph label does not fit its box"
    widths = page.evaluate(
        """() => { const svg = document.querySelector('svg.gantt');
             return [svg.getBoundingClientRect().width, svg.parentElement.clientWidth]; }"""
    )
    assert widths[0] >= 0.9 * (widths[1] - 20), f"the timeline uses {widths[0]} of {widths[1]}px"
    shot(page, "11-run-page-wide-timeline")


def test_pages_fit_a_phone(served: tuple[Project, Up], browser: Any) -> None:
    _, up = served
    context = browser.new_context(viewport={"width": 375, "height": 740})
    tab = context.new_page()
    try:
        (run,) = up.runs(workflow="hello", status="succeeded")
        for name, path in [
            ("12-phone-workflows", "/"),
            ("13-phone-run", f"/runs/{run['run_id']}"),
            ("14-phone-lineage", "/lineage"),
        ]:
            tab.goto(up.url + path)
            overflow = tab.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{path} is {overflow}px wider than a phone"
            links = tab.locator("header.top nav a")
            for i in range(links.count()):
                box = links.nth(i).bounding_box()
                assert box is not None and box["x"] + box["width"] <= 375, path
            shot(tab, name)
    finally:
        context.close()


def test_pause_a_schedule_and_open_the_docs_offline(served: tuple[Project, Up], page: Any) -> None:
    _, up = served
    page.goto(f"{up.url}/workflows/hello")
    page.click("#pause")
    page.wait_for_url(re.compile(r"/workflows/hello\?notice=paused$"))
    expect(page.locator("#paused")).to_have_text("schedules paused")
    shot(page, "15-workflow-paused")
    page.click("#resume")
    expect(page.locator("#pause")).to_be_visible()
    elsewhere: list[str] = []

    def refuse(route: Any) -> None:
        elsewhere.append(route.request.url)
        route.abort()

    page.route(re.compile(r"^(?!http://127\.0\.0\.1)(?!data:).*"), refuse)
    page.goto(f"{up.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("podium", timeout=LIVE)
    expect(page.locator(".opblock")).not_to_have_count(0)
    assert elsewhere == [], f"/docs asked for {elsewhere}"
    shot(page, "16-api-docs-offline", full_page=False)


def test_a_failed_check_shows_its_rows_and_the_lineage_its_path(
    served: tuple[Project, Up], page: Any
) -> None:
    _, up = served
    run_id = run_now(page, up, "sales")
    expect(page.locator("#run-status")).to_have_attribute("data-state", "failed", timeout=LIVE)
    rows = page.locator("details.failing-rows")
    expect(rows).to_contain_text("3 failing rows")
    expect(rows.locator("table.sample tbody tr")).to_have_count(3)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the run page with checks is {overflow}px too wide"
    shot(page, "17-failed-check-rows")

    page.goto(f"{up.url}/runs/{run_id}/tasks/models.shop.sales")
    expect(page.locator("#logs")).to_contain_text("1 check(s) failed")
    assert "Traceback" not in page.locator("#logs").inner_text()
    shot(page, "18-failed-check-log")

    page.goto(f"{up.url}/assets")
    expect(page.locator('tr[data-asset="raw_retailers.sales"] td:nth-child(5)')).to_have_text("12")
    page.goto(f"{up.url}/lineage")
    for node in ("source:retailers", "raw_retailers.sales", "shop.sales"):
        expect(page.locator(f'svg.dag g.node[data-task="{node}"]')).to_be_visible()
    shot(page, "19-lineage")
    page.click('svg.dag g.node[data-task="shop.sales"] a')
    page.wait_for_url(re.compile(r"/assets/shop\.sales$"))
    # its task failed on the check: no update recorded, the check's result is
    expect(page.locator("table.asset-checks")).to_contain_text("failed")
    expect(page.locator("#build")).to_be_visible()
    shot(page, "20-asset-page")
    page.goto(f"{up.url}/assets/raw_retailers.sales")
    history = page.locator("table.asset-history tbody tr")
    expect(history).to_have_count(1)
    expect(history).to_contain_text(run_id)
    expect(page.locator("#asset-facts")).to_contain_text("12")
    shot(page, "21-raw-asset-page")
    page.click("#build")  # the load alone: the model that reads it is not needed
    page.wait_for_url(re.compile(r"/runs/\w+\?notice=started$"))
    expect(page.locator("#run-status")).to_have_attribute("data-state", "succeeded", timeout=LIVE)
    expect(page.locator("table.tasks tbody tr")).to_have_count(1)
    expect(page.locator('tr[data-task="retailers"]')).to_be_visible()
    expect(page.locator("dd.trigger-info")).to_contain_text("Build raw_retailers.sales")
