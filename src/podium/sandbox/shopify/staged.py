"""Staged uploads: where a bulk mutation's JSONL of variables goes before it runs.

``stagedUploadsCreate`` (resource ``BULK_MUTATION_VARIABLES``) gives a target served by
the simulator itself (``POST {base}/staged-uploads``, Shopify's is a storage bucket) with
form ``parameters``; the ``key`` parameter's value is the ``stagedUploadPath`` that
``bulkOperationRunMutation`` takes. The upload is a multipart form: every parameter,
then the ``file``. The bucket answers 201 with an XML ``PostResponse``; no access token
is asked (the parameters are the signature).
"""

from __future__ import annotations

import secrets
import threading
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from podium.sandbox.faults import Answer
from podium.sandbox.paging import Request

PATH = "/staged-uploads"
RESOURCE = "BULK_MUTATION_VARIABLES"
_MISSING_KEY = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>InvalidArgument</Code>"
    b"<Message>Bucket POST must contain a field named 'key' and a file.</Message></Error>"
)


class StagedUploads:
    """The targets handed out and the files uploaded to them, by key."""

    def __init__(self, shop: str) -> None:
        self.shop = shop
        self.files: dict[str, bytes] = {}
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def create(self, inputs: list[dict[str, Any]], base: str) -> dict[str, Any]:
        """The ``stagedUploadsCreate`` payload."""
        targets, errors = [], []
        for index, given in enumerate(inputs):
            if given.get("resource") != RESOURCE:
                message = f"the simulator stages {RESOURCE} only, not {given.get('resource')}"
                errors.append({"field": ["input", str(index), "resource"], "message": message})
                continue
            key = f"tmp/{self.shop}/bulk/{secrets.token_hex(8)}/{given.get('filename')}"
            with self._lock:
                self._keys.add(key)
            parameters = {
                "key": key,
                "Content-Type": str(given.get("mimeType") or "text/jsonl"),
                "success_action_status": "201",
                "acl": "private",
            }
            targets.append(
                {
                    "url": f"{base}{PATH}",
                    "resourceUrl": None,
                    "parameters": [{"name": n, "value": v} for n, v in parameters.items()],
                }
            )
        if errors:
            return {"stagedTargets": None, "userErrors": errors}
        return {"stagedTargets": targets, "userErrors": []}

    def upload(self, request: Request) -> Answer:
        """``POST /staged-uploads`` with the multipart form."""
        form = _form(request)
        key, body = form.get("key"), form.get("file")
        with self._lock:
            known = key is not None and key.decode() in self._keys
            if known and body is not None and key is not None:
                self.files[key.decode()] = body
        if not known or body is None or key is None:
            return Answer(400, _MISSING_KEY, content_type="application/xml")
        reply = (
            f"<?xml version='1.0' encoding='UTF-8'?><PostResponse><Key>{key.decode()}</Key>"
            "</PostResponse>"
        )
        return Answer(201, reply.encode(), content_type="application/xml")

    def read(self, key: str) -> bytes | None:
        with self._lock:
            return self.files.get(key)


def _form(request: Request) -> dict[str, bytes]:
    """The fields of a multipart/form-data body by name."""
    kind = request.headers.get("content-type", "")
    head = f"Content-Type: {kind}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    fields: dict[str, bytes] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts() if hasattr(message, "iter_parts") else ():
        assert isinstance(part, Message)  # noqa: S101 - parts of a multipart message
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields
