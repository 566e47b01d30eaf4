"""The CLI against a remote ``podium up``: ``--server URL`` (or ``PODIUM_SERVER``) and
``--token`` (or, better, ``PODIUM_TOKEN``, which stays out of the process list) make
``podium runs``, ``show``, ``logs``, ``run``, ``retry``, ``cancel`` and ``emit`` call the
JSON API with ``Authorization: Bearer`` instead of opening the project's store.

The token never appears in output or errors.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from podium.cli.render import render_run, render_runs
from podium.core.masking import Masker
from podium.engine import services
from podium.errors import PodiumError, UsageError

SERVER_ENV = "PODIUM_SERVER"
TOKEN_ENV = "PODIUM_TOKEN"
ENDED = ("succeeded", "failed", "cancelled")
Command = Callable[[argparse.Namespace], int]


class RemoteError(PodiumError):
    """The remote ``podium up`` could not be reached or failed."""


def enable(p: argparse.ArgumentParser, remote: Command) -> None:
    """Gives the command ``p`` its remote form: ``remote`` runs when a server is named."""
    p.add_argument(
        "--server",
        default=None,
        metavar="URL",
        help=f"a remote podium up, e.g. https://podium.example.com (or ${SERVER_ENV})",
    )
    p.add_argument(
        "--token",
        default=None,
        metavar="TOKEN",
        help=f"an API token for --server (prefer ${TOKEN_ENV}: it stays out of `ps`)",
    )
    local: Command = p.get_default("func")

    def either(args: argparse.Namespace) -> int:
        if server_of(args):
            return remote(args)
        return local(args)

    p.set_defaults(func=either)


def server_of(args: argparse.Namespace) -> str:
    return str(getattr(args, "server", None) or os.environ.get(SERVER_ENV, "")).strip()


class Client:
    """JSON calls to one server, with a token; every failure becomes a clear message."""

    def __init__(self, server: str, token: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(
                f"--server {server!r} is not an http(s) URL, e.g. https://podium.example.com"
            )
        self.server = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    def pages(self, path: str, params: dict[str, Any]) -> list[Any]:
        """Every item of a paged GET, following its ``X-Next-Cursor`` header."""
        items: list[Any] = []
        cursor: str | None = None
        while True:
            query = {**params, "cursor": cursor} if cursor else params
            response = self._send("GET", path, params=query)
            items.extend(response.json())
            cursor = response.headers.get("X-Next-Cursor")
            if not cursor:
                return items

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RemoteError(
                f"cannot reach podium at {self.server}: {_without(str(exc), self._token)};"
                " check --server (or $PODIUM_SERVER) and that `podium up` runs there"
            ) from None
        if response.status_code >= 400:
            raise self._refusal(response)
        return response

    def _refusal(self, response: httpx.Response) -> PodiumError:
        status, said = response.status_code, _without(_message(response), self._token)
        where = f"{self.server} answered {status}"
        if status == 401:
            hint = (
                f"pass an API token in ${TOKEN_ENV} (or --token); an admin creates one with"
                " `podium tokens create --user NAME`"
                if not self._token
                else "the token was not accepted (unknown or revoked); ask an admin for a new"
                " one: `podium tokens create --user NAME`"
            )
            return UsageError(f"{where}: {said}; {hint}")
        if status == 403:
            return UsageError(
                f"{where}: {said}; use a token of a user with that role"
                " (an admin can grant it with `podium users set-role NAME ROLE`)"
            )
        if status < 500:
            return UsageError(f"{where}: {said}")
        return RemoteError(f"{where}: {said}")

    def close(self) -> None:
        self._http.close()


def client_for(args: argparse.Namespace) -> Client:
    token = str(getattr(args, "token", None) or os.environ.get(TOKEN_ENV, "")).strip()
    return Client(server_of(args), token)


# -- the commands ---------------------------------------------------------------------------


def cmd_runs(args: argparse.Namespace) -> int:
    query = {"limit": args.limit, "workflow": args.workflow, "status": args.status}
    runs = _call(args, "GET", "/api/runs", params={k: v for k, v in query.items() if v})
    print(json.dumps(runs, indent=2) if args.json else render_runs(runs))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    run = _call(args, "GET", f"/api/runs/{_seg(args.run)}")
    print(json.dumps(run, indent=2) if args.json else render_run(run))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from podium.cli.logs import render_line

    if getattr(args, "follow", False):
        raise UsageError(
            "--follow reads the project's store; against --server, follow the run on its"
            " page in the web UI, or run `podium logs` again"
        )
    params = {"task": args.task} if args.task else {}
    client = client_for(args)
    try:
        lines = client.pages(f"/api/runs/{_seg(args.run)}/logs", params)
    finally:
        client.close()
    unmasked = Masker(frozenset())  # the server masked them already
    for line in sorted(lines, key=lambda line: str(line["at"])):  # stable: ties keep order
        print(render_line(line, with_task=not args.task, mask=unmasked))
    if not lines:
        print("(no log lines)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    params = dict(services.parse_param(p) for p in args.param)
    client = client_for(args)
    try:
        run = client.call(
            "POST", f"/api/workflows/{_seg(args.workflow)}/runs", json={"params": params}
        )
        if not args.json:
            print(f"run {run['run_id']} of {args.workflow} started", flush=True)
        run = _wait(client, run["run_id"], quiet=args.json)
    finally:
        client.close()
    print(json.dumps(run, indent=2) if args.json else f"run {run['run_id']} {run['status']}")
    return 0 if run["status"] == "succeeded" else 1


def cmd_retry(args: argparse.Namespace) -> int:
    client = client_for(args)
    try:
        body = {"failed_only": bool(args.failed_only)}
        done = client.call("POST", f"/api/runs/{_seg(args.run)}/retry", json=body)
        print(
            f"run {args.run}: re-running {len(done['tasks'])} task(s): {', '.join(done['tasks'])}"
        )
        if not args.wait:
            return 0
        run = _wait(client, args.run, quiet=False)
    finally:
        client.close()
    print(f"run {run['run_id']} {run['status']}")
    return 0 if run["status"] == "succeeded" else 1


def cmd_cancel(args: argparse.Namespace) -> int:
    done = _call(args, "POST", f"/api/runs/{_seg(args.run)}/cancel")
    if done["cancelling"]:
        print(f"run {args.run}: cancelling")
    else:
        print(f"run {args.run} had already finished; nothing to cancel")
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    done = _call(args, "POST", f"/api/workflows/{_seg(args.workflow)}/pause")
    already = "" if done["changed"] else " (already)"
    print(f"workflow {args.workflow}: schedules paused{already} on {server_of(args)}")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    done = _call(args, "POST", f"/api/workflows/{_seg(args.workflow)}/resume")
    state = "resumed" if done["changed"] else "were not paused"
    print(f"workflow {args.workflow}: schedules {state} on {server_of(args)}")
    return 0


def cmd_emit(args: argparse.Namespace) -> int:
    try:
        payload = json.loads(args.payload) if args.payload is not None else {}
    except ValueError as exc:
        raise UsageError(f"--payload is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise UsageError('--payload must be a JSON object, e.g. \'{"store": "us"}\'')
    done = _call(args, "POST", "/api/events", json={"name": args.event, "payload": payload})
    print(f"event {args.event} stored (#{done['seq']}) on {server_of(args)}")
    return 0


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    client = client_for(args)
    try:
        return client.call(method, path, **kwargs)
    finally:
        client.close()


def _wait(client: Client, run_id: str, *, quiet: bool, poll: float = 0.3) -> dict[str, Any]:
    """The run once it ended; each task is printed as it finishes (unless ``quiet``)."""
    told: set[str] = set()
    while True:
        run: dict[str, Any] = client.call("GET", f"/api/runs/{_seg(run_id)}")
        for task in run["tasks"]:
            if task["status"] not in ("queued", "running") and task["id"] not in told:
                told.add(task["id"])
                if not quiet:
                    print(f"  {task['id']:<24} {task['status']}", flush=True)
        if run["status"] in ENDED:
            return run
        time.sleep(poll)


def _seg(value: str) -> str:
    """``value`` as one URL path segment."""
    return quote(value, safe="")


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return json.dumps(body)[:200]


def _without(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text
