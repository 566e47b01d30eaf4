"""NetSuite's documented error bodies → errors that name the code and what to do."""

from __future__ import annotations

import httpx
import orjson
import pytest

from podium.connectors.sources.netsuite.answers import (
    NetSuiteRefusal,
    Refused,
    check_answer,
    error_detail,
)

URL = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql"


def answer(status: int, code: str, detail: str, **where: str) -> httpx.Response:
    error = {"detail": detail, "o:errorCode": code, **where}
    body = {"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
            "title": "Bad Request", "status": status, "o:errorDetails": [error]}  # fmt: skip
    request = httpx.Request("POST", URL + "?limit=1000&offset=0")
    return httpx.Response(status, content=orjson.dumps(body), request=request)


def refusal(response: httpx.Response) -> NetSuiteRefusal:
    with pytest.raises(NetSuiteRefusal) as caught:
        check_answer("erp", response, "auth.token_id")
    return caught.value


def test_a_403_says_which_permissions_the_role_needs() -> None:
    message = str(refusal(answer(403, "INSUFFICIENT_PERMISSION", "Permission Violation")))
    assert "403 INSUFFICIENT_PERMISSION: Permission Violation" in message
    assert "REST Web Services" in message and "role" in message
    assert "?limit" not in message  # the URL is named without its query


def test_a_refused_offset_says_to_lower_max_rows_per_query_and_names_the_stream() -> None:
    refused = refusal(answer(400, "INVALID_PARAMETER", "The offset is too big.",
                             **{"o:errorQueryParam": "offset"}))  # fmt: skip
    message = str(refused.for_stream("transactions", 100_000))
    assert message.startswith("connection 'erp', stream 'transactions': NetSuite refused POST")
    assert "max_rows_per_query (now 100000)" in message


def test_a_refused_limit_points_at_page_size() -> None:
    refused = refusal(answer(400, "INVALID_PARAMETER", "Bad limit.",
                             **{"o:errorQueryParam": "limit"}))  # fmt: skip
    assert "set page_size to a number from 5 to 1000" in str(refused)


def test_an_invalid_header_names_the_header() -> None:
    refused = refusal(answer(400, "INVALID_HEADER", "Invalid language.",
                             **{"o:errorHeader": "Accept-Language"}))  # fmt: skip
    assert "NetSuite refused the Accept-Language header" in str(refused)


@pytest.mark.parametrize("status", [200, 302, 408, 429, 500, 503])
def test_answers_a_retry_may_mend_pass_through(status: int) -> None:
    check_answer("erp", answer(status, "X", "y"), "auth.token_id")  # no error raised


def test_a_body_that_is_not_netsuites_is_quoted_by_its_reason() -> None:
    request = httpx.Request("POST", URL)
    response = httpx.Response(404, content=b"<html>not here</html>", request=request)
    refused = refusal(response)
    assert refused.refused == Refused(404, "ERROR", "Not Found")
    assert error_detail(b"<html>") == ""
