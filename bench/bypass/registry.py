"""The attack catalog every attack module registers into, and the channel matrix it spreads by.

`bench.bypass.attacks` (the issue's classes), `bench.bypass.attacks_wire` (methods, header
tricks, header fields, URL tricks) and `bench.bypass.attacks_bodies` (JSON, XML, multipart,
form and bulk tricks) all register here; `bench.bypass.attacks.CATALOG` is this catalog once
all three are imported. A case of a class in `MATRIX` runs on its own channel and again on
each other channel of its row (`bench.bypass.matrix`), named `<case>@<channel>`.
"""

from __future__ import annotations

from bench.bypass.cases import Catalog
from bench.bypass.client import Channel
from bench.bypass.pii import Kind

__all__ = [
    "ATTACKS",
    "CARD",
    "EVERY_CHANNEL",
    "H2",
    "HTTP",
    "HTTPS",
    "MATRIX",
    "REVERSE",
    "SSN",
    "TUNNEL",
    "case",
]

SSN, CARD = Kind.SSN, Kind.CARD
HTTP, HTTPS, H2 = Channel.HTTP, Channel.HTTPS, Channel.H2
TUNNEL, REVERSE = Channel.TUNNEL, Channel.REVERSE
EVERY_CHANNEL = (HTTP, HTTPS, H2, REVERSE)

# The classes whose trick is in a request's (or response's) body, headers or URL: each of their
# cases runs over plain HTTP, HTTPS, HTTP/2 and the reverse listener. Raw TCP runs through the
# tunnel with and without TLS; upgrades and WebSocket over every HTTP/1.1 channel (HTTP/2 has
# no Upgrade).
MATRIX: dict[str, tuple[Channel, ...]] = {
    "raw_tcp": (TUNNEL, HTTPS),
    "upgrades": (HTTP, HTTPS, TUNNEL, REVERSE),
    "websocket": (TUNNEL, HTTPS, REVERSE),
} | {
    category: EVERY_CHANNEL
    for category in (
        "trailers",
        "response",
        "names",
        "headers",
        "url",
        "json_quirks",
        "split_values",
        "weak_context",
        "images",
        "encodings",
        "methods",
        "header_tricks",
        "header_fields",
        "url_tricks",
        "json_tricks",
        "xml_tricks",
        "multipart_tricks",
        "forms",
        "bulk",
        "spellings",
        "charsets",
        "content_types",
        "compression",
        "value_encodings",
        "unicode_digits",
        "number_words",
        "documents",
        "grpc",
    )
}

ATTACKS = Catalog(matrix=MATRIX)
case = ATTACKS.case
