"""The labelled case: one request as sent, and the PII and benign values it holds."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BENIGN_KINDS",
    "ENCODINGS",
    "ENTITIES",
    "FORMATS",
    "TRANSPORTS",
    "Benign",
    "Case",
    "Label",
    "Transfer",
]

ENTITIES = (
    "CREDIT_CARD",
    "US_SSN",
    "US_BANK_NUMBER",
    "ABA_ROUTING_NUMBER",
    "IBAN_CODE",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "IP_ADDRESS",
    "PERSON",
    "STREET_ADDRESS",
    "DATE_OF_BIRTH",
)
BENIGN_KINDS = (
    "TICKET_ID",
    "ORDER_NUMBER",
    "ISO_TIMESTAMP",
    "AMOUNT",
    "SKU",
    "TRACKING_NUMBER",
    "AGENT_ID",
)
FORMATS = (
    "json",
    "json_string",
    "json_numbers",
    "json_array",
    "ndjson",
    "form",
    "multipart_fields",
    "multipart_csv",
    "multipart_json",
    "multipart_text",
    "csv",
    "tsv",
    "xml",
    "text",
    "url",
    "headers",
    "websocket",
)
ENCODINGS = ("none", "gzip", "deflate", "br", "zstd")
TRANSPORTS = ("http/1.1", "http/2", "websocket")


@dataclass(frozen=True)
class Label:
    """One PII value in a case.

    `value` is canonical (digits only for numbers, a compact IBAN, `YYYYMMDD` for a birth date,
    the text itself otherwise); `written` is how the case writes it once transport encodings
    (compression, percent-encoding, base64) are undone, character disguises included;
    `disguise` is what was done to this value (`none` when the case's disguise does not apply
    to it); `parts` are the pieces of a card split over two fields, as written.
    """

    entity: str
    value: str
    written: str
    disguise: str = "none"
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Benign:
    """One benign value in a case (a ticket id, an order number ...), exactly as written."""

    kind: str
    value: str


@dataclass(frozen=True)
class Transfer:
    """What one request carried: path with query, headers, body as on the wire, WS messages."""

    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    messages: tuple[bytes, ...] = ()

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), if present."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class Case:
    """One labelled request: how it is sent, what it holds, and where it came from."""

    id: str
    format: str
    disguise: str
    transport: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    content_encoding: str
    labels: tuple[Label, ...]
    benign: tuple[Benign, ...]
    messages: tuple[bytes, ...] = ()

    @property
    def clean(self) -> bool:
        """True when the case holds no PII at all."""
        return not self.labels

    def transfer(self) -> Transfer:
        """The request as sent."""
        return Transfer(self.path, self.headers, self.body, self.messages)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (bytes as base64), for `python -m bench.corpus --out`."""
        return {
            "id": self.id,
            "format": self.format,
            "disguise": self.disguise,
            "transport": self.transport,
            "method": self.method,
            "path": self.path,
            "headers": [list(h) for h in self.headers],
            "body_base64": base64.b64encode(self.body).decode(),
            "content_encoding": self.content_encoding,
            "messages": [m.decode() for m in self.messages],
            "labels": [
                {
                    "entity": x.entity,
                    "value": x.value,
                    "written": x.written,
                    "disguise": x.disguise,
                    "parts": list(x.parts),
                }
                for x in self.labels
            ],
            "benign": [{"kind": b.kind, "value": b.value} for b in self.benign],
        }
