"""The case model: clean cases, the transfer as sent, the JSON form."""

from __future__ import annotations

import base64

from bench.cases import Benign, Case, Label, Transfer

LABEL = Label("US_SSN", "219451234", "219-45-1234")


def make(labels: tuple[Label, ...] = ()) -> Case:
    return Case(
        id="c0007",
        format="json",
        disguise="none",
        transport="http/1.1",
        method="POST",
        path="/v2/tickets?x=1",
        headers=(("Content-Type", "application/json"),),
        body=b'{"ssn": "219-45-1234"}',
        content_encoding="none",
        labels=labels,
        benign=(Benign("TICKET_ID", "T-1"),),
    )


def test_a_case_without_labels_is_clean() -> None:
    """Clean means no PII label at all; benign values do not count."""
    assert make().clean
    assert not make((LABEL,)).clean


def test_transfer_is_the_request_as_sent() -> None:
    """The transfer carries path, headers, body and messages unchanged."""
    transfer = make().transfer()
    assert transfer == Transfer(
        "/v2/tickets?x=1", (("Content-Type", "application/json"),), make().body
    )
    assert transfer.header("content-type") == "application/json"
    assert transfer.header("X-Missing") is None


def test_to_json_keeps_everything() -> None:
    """The JSON form has the body in base64 and every label and benign value."""
    data = make((LABEL,)).to_json()
    assert base64.b64decode(data["body_base64"]) == make().body
    assert data["labels"] == [
        {
            "entity": "US_SSN",
            "value": "219451234",
            "written": "219-45-1234",
            "disguise": "none",
            "parts": [],
        }
    ]
    assert data["benign"] == [{"kind": "TICKET_ID", "value": "T-1"}]
    assert data["headers"] == [["Content-Type", "application/json"]]
