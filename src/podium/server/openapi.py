"""The API's OpenAPI schema (``/openapi.json``, shown at ``/docs``), made exact.

FastAPI derives most of it from the routes; ``install_schema`` then finishes it so that it
says exactly what the server does:

- every error a route can answer is documented with the ``{"error": …}`` body
  (``errors(...)`` builds a route's ``responses=``); FastAPI's 422 is gone: podium answers
  a request that does not fit with 400;
- routes behind access control declare the bearer-token security scheme;
- ``POST /api/workflows/{name}/runs`` is spelled out once per workflow of the project, its
  ``params`` listing that workflow's declared params (nothing else is accepted);
- the webhook receiver (a bare ASGI route) is documented once per connection that
  receives webhooks, with the headers its signature scheme needs;
- links say where an id in an answer leads (a started run → the run, its retry, …), which
  a stateful client (and Schemathesis' stateful phase) follows.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from pydantic import BaseModel, Field

from podium.core.workflow import Project
from podium.webhooks.settings import WebhookSettings, all_webhook_settings

#: the largest id the store keeps (a 64-bit integer)
MAX_ID = 2**63 - 1
#: the largest offset a listing takes (far beyond any store's size; bounded so that the
#: value reaches the database as the integer it is)
MAX_OFFSET = 1_000_000_000


class ErrorOut(BaseModel):
    """Every error's body."""

    error: str = Field(description="what went wrong, naming the field or id, and what to do")


DESCRIPTIONS = {
    400: "Bad request: a parameter or the body does not fit (the message names the field)",
    401: "No credentials, or an API token that is not accepted",
    403: "The user's role does not allow this, or the request came from another site",
    404: "No such run, workflow, task, webhook delivery or connection",
    409: "Not now: the run's state does not allow it (still running, nothing failed)",
    413: "The body is over the connection's max_body",
    503: "The store cannot be reached right now; try again later",
}
#: what every access-controlled route may answer besides its own errors
GUARDED = (400, 401, 403, 503)
SECURITY_SCHEME = "bearer"
NO_NUL = "^[^\u0000]*$"
#: where a run id in an answer leads (a link's name → the path and method it opens)
_RUN_TARGETS = {
    "GetRun": ("/api/runs/{run_id}", "get"),
    "GetRunAttempts": ("/api/runs/{run_id}/attempts", "get"),
    "GetRunLogs": ("/api/runs/{run_id}/logs", "get"),
    "RetryRun": ("/api/runs/{run_id}/retry", "post"),
    "CancelRun": ("/api/runs/{run_id}/cancel", "post"),
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=``: each error code with its description and ``ErrorOut``."""
    return {code: {"model": ErrorOut, "description": DESCRIPTIONS[code]} for code in codes}


def guarded(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``errors`` of an access-controlled route: ``GUARDED`` plus ``codes``."""
    return errors(*sorted({*GUARDED, *codes}))


def install_schema(app: FastAPI, project: Project) -> None:
    """Makes ``app.openapi()`` return the finished schema (built once, then cached)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish(build(), project)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def finish(schema: dict[str, Any], project: Project) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    paths: dict[str, Any] = schema.setdefault("paths", {})
    for operations in paths.values():
        for operation in operations.values():
            _finish_operation(operation)
    _spell_out_runs(paths, project)
    receivers = all_webhook_settings(project.connections)
    for name, settings in sorted(receivers.items()):
        paths[f"/webhooks/{name}"] = {"post": _receiver(settings)}
    _add_links(paths)
    components = schema.setdefault("components", {})
    kinds = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        kinds.pop(unused, None)
    components["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "an API token: `podium tokens create --user NAME` (pdm_…)",
        }
    }
    return schema


def _finish_operation(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    if "401" in responses:
        operation["security"] = [{SECURITY_SCHEME: []}]
    for parameter in operation.get("parameters", []):
        if parameter.get("in") in ("path", "query"):
            _refuse_nul(parameter.get("schema", {}))


def _refuse_nul(schema: dict[str, Any]) -> None:
    """A string in a URL holds no NUL character (``RefuseNul`` answers 400 to one)."""
    if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
        schema["pattern"] = NO_NUL
    for branch in schema.get("anyOf", []):
        _refuse_nul(branch)


def _spell_out_runs(paths: dict[str, Any], project: Project) -> None:
    """``/api/workflows/{name}/runs`` → one path per workflow, with its declared params."""
    template = paths.pop("/api/workflows/{name}/runs", None)
    if template is None:
        return
    for wf in sorted(project.workflows.values(), key=lambda w: w.name):
        operation = copy.deepcopy(template["post"])
        operation["operationId"] = f"{operation.get('operationId', 'start_run')}_{wf.name}"
        operation["parameters"] = [
            p for p in operation.get("parameters", []) if p.get("name") != "name"
        ]
        operation["summary"] = f"Start a run of {wf.name}"
        operation["requestBody"] = _run_body(wf.name, wf.params)
        paths[f"/api/workflows/{quote(wf.name, safe='')}/runs"] = {"post": operation}


def _run_body(workflow: str, params: Mapping[str, Any]) -> dict[str, Any]:
    declared = {
        name: {"description": f"any JSON value; declared default: {default!r}"[:200]}
        for name, default in params.items()
    }
    params_schema: dict[str, Any] = {
        "type": "object",
        "properties": declared,
        "additionalProperties": False,
        "description": f"values for {workflow}'s declared params (the rest keep their defaults)",
    }
    body = {
        "type": "object",
        "properties": {"params": params_schema},
        "additionalProperties": False,
    }
    return {"required": False, "content": {"application/json": {"schema": body}}}


def _receiver(settings: WebhookSettings) -> dict[str, Any]:
    headers = [
        {
            "name": name,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": f"part of the {settings.scheme} signature",
        }
        for name in signature_headers(settings)
    ]
    delivered = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["stored", "duplicate", "replay"]},
            "id": {"type": "integer"},
        },
        "required": ["status", "id"],
    }
    error = {"$ref": "#/components/schemas/ErrorOut"}
    answers: dict[str, Any] = {
        "200": {
            "description": "Stored; or a redelivery of a stored id, or the same body under "
            "another id within the replay window (a replay): nothing changes",
            "content": {"application/json": {"schema": delivered}},
        }
    }
    for code in (400, 401, 404, 413, 503):
        text = DESCRIPTIONS[code]
        if code == 401:
            text = "Missing or bad signature, or a timestamp outside the tolerance"
        elif code == 400:
            text = "The body is not JSON, or the delivery id the scheme needs is missing"
        answers[str(code)] = {
            "description": text,
            "content": {"application/json": {"schema": error}},
        }
    return {
        "tags": ["webhooks"],
        "summary": f"Receive a webhook delivery for {settings.connection}",
        "description": "PUBLIC: the signature on the raw body, checked with the connection's"
        " secret, is the authentication. Answered only once the delivery is stored.",
        "operationId": f"receive_webhook_{settings.connection}",
        "parameters": headers,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {}}}},
        "responses": answers,
    }


def signature_headers(settings: WebhookSettings) -> list[str]:
    """The headers a delivery of ``settings.scheme`` must carry to be verified."""
    if settings.scheme == "shopify":
        return ["X-Shopify-Hmac-Sha256"]
    if settings.scheme == "stripe":
        return ["Stripe-Signature"]
    if settings.scheme == "klaviyo":
        return ["Klaviyo-Signature", "Klaviyo-Timestamp", "Klaviyo-Webhook-Id"]
    return [settings.header]


def _add_links(paths: dict[str, Any]) -> None:
    run_id = {"run_id": "$response.body#/run_id"}
    from_run = {
        name: _link(paths, path, method, run_id) for name, (path, method) in _RUN_TARGETS.items()
    }
    from_run = {name: link for name, link in from_run.items() if link}
    delivery = _link(
        paths, "/api/webhooks/{inbox_id}/replay", "post", {"inbox_id": "$response.body#/id"}
    )
    for path, operations in paths.items():
        for method, operation in operations.items():
            answer = _success(operation)
            if answer is None:
                continue
            if path.startswith("/api/workflows/") and method == "post":
                answer["links"] = dict(from_run)
            elif path.startswith("/api/runs/{run_id}/") and method == "post":
                answer["links"] = {"GetRun": from_run["GetRun"]} if "GetRun" in from_run else {}
            elif path == "/api/webhooks/{inbox_id}" and delivery:
                answer["links"] = {"ReplayDelivery": delivery}
            elif path == "/api/runs" and "GetRun" in from_run:
                first = {"run_id": "$response.body#/0/run_id"}
                answer["links"] = {"GetFirstRun": {**from_run["GetRun"], "parameters": first}}
            elif path == "/api/webhooks":
                answer["links"] = _first_delivery_links(paths)


def _first_delivery_links(paths: dict[str, Any]) -> dict[str, Any]:
    first = {"inbox_id": "$response.body#/0/id"}
    links = {
        "GetFirstDelivery": _link(paths, "/api/webhooks/{inbox_id}", "get", first),
        "ReplayFirstDelivery": _link(paths, "/api/webhooks/{inbox_id}/replay", "post", first),
    }
    return {name: link for name, link in links.items() if link}


def _link(
    paths: dict[str, Any], path: str, method: str, parameters: dict[str, str]
) -> dict[str, Any]:
    operation = paths.get(path, {}).get(method)
    if operation is None or "operationId" not in operation:
        return {}
    return {"operationId": operation["operationId"], "parameters": parameters}


def _success(operation: dict[str, Any]) -> dict[str, Any] | None:
    for code in ("200", "201", "202"):
        answer = operation.get("responses", {}).get(code)
        if isinstance(answer, dict):
            return answer
    return None
