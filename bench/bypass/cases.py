"""The case model, the request helpers, and the catalog cases are registered in.

A case is a small function from its secret to what the client sends (and, for the response
direction, how the vendor answers), registered with `Catalog.case`: the function's name is the
case's name, its docstring the trick in a few words. `bench.bypass.attacks` (with
`attacks_wire` and `attacks_bodies`, all in `bench.bypass.registry.ATTACKS`) holds the cases
that carry a secret, `bench.bypass.controls` the benign controls; a catalog with a channel
matrix registers each case again over other channels (`bench.bypass.matrix`). `build(seed)`
draws every case's secret and gives the run's cases. docs/bypass.md says how to add one.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import h2.connection

from bench.bypass.client import Channel, Exchange, Http1
from bench.bypass.matrix import port
from bench.bypass.pii import Kind, Secret, secret_for
from bench.bypass.seen import Seen
from bench.bypass.undo import Undo
from bench.bypass.vendor import Script, http_response
from bench.bypass.wire import HttpRequest, h2_config, websocket_key

__all__ = [
    "BENIGN",
    "FORM",
    "HTTP",
    "JSON",
    "TCP",
    "UA",
    "WS",
    "Case",
    "Catalog",
    "Made",
    "Spec",
    "b64",
    "build",
    "chunked_json",
    "form_part",
    "get",
    "got_bytes",
    "got_frames",
    "got_request",
    "got_upgraded",
    "h2c_after_upgrade",
    "jwt",
    "multipart",
    "post",
    "post_json",
    "post_multipart",
    "reply_json",
    "sse",
    "upgrade",
    "ws",
    "zlib_compress",
]

Headers = tuple[tuple[str, str], ...]
BENIGN = "benign"
HTTP = Script()  # the vendor answers every request with 200 JSON


# --- what "delivered" means for a case --------------------------------------------------------


def got_request(seen: Seen) -> bool:
    """At least one HTTP request reached the vendor."""
    return bool(seen.requests)


def got_frames(*opcodes: int) -> Callable[[Seen], bool]:
    """A WebSocket frame with one of `opcodes` reached the vendor."""

    def delivered(seen: Seen) -> bool:
        return bool(seen.frames_of(*opcodes))

    return delivered


def got_upgraded(seen: Seen) -> bool:
    """Bytes after a 101 reached the vendor."""
    return bool(seen.upgraded)


def got_bytes(seen: Seen) -> bool:
    """Any byte reached the vendor."""
    return any(seen.raw)


# --- the case ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One case of a run: what is sent, how the vendor answers, how the trick is undone.

    `delivered` says whether the unit that carries the secret reached the vendor (a request,
    a frame, bytes after an upgrade); when it did not, the case is blocked. `direction` is
    `response` when the vendor sends the secret back to the client. `own`: a variant added
    beyond the issue's list. `ported_from`: this is another case's trick sent over `channel`
    instead of that one (`bench.bypass.matrix`), and named `<case>@<channel>`.
    """

    name: str
    category: str
    channel: Channel
    exchange: Exchange
    secret: Secret | None = None
    script: Script = HTTP
    direction: str = "request"
    undo: tuple[Undo, ...] = ()
    delivered: Callable[[Seen], bool] = got_request
    own: bool = False
    note: str = ""
    ported_from: Channel | None = None


Made = Exchange | tuple[Exchange, Script]


@dataclass(frozen=True)
class Spec:
    """A registered case before its secret is drawn (`kind` None: a benign control)."""

    name: str
    category: str
    kind: Kind | None
    channel: Channel
    make: Callable[[Secret], Made]
    note: str
    undo: tuple[Undo, ...] = ()
    script: Script = HTTP
    direction: str = "request"
    delivered: Callable[[Seen], bool] = got_request
    own: bool = False

    ported_from: Channel | None = None

    def case(self, secret: Secret | None) -> Case:
        """The case with `secret` (None for a benign control, whose maker ignores it)."""
        made = self.make(secret)  # type: ignore[arg-type]  # benign makers ignore it
        exchange, script = made if isinstance(made, tuple) else (made, self.script)
        if self.ported_from is not None:
            ported = port(made, self.script, self.channel)
            if ported is None:
                raise ValueError(f"{self.name}: cannot be sent over {self.channel.value}")
            exchange, script = ported
        return Case(
            self.name,
            self.category,
            self.channel,
            exchange,
            secret,
            script,
            self.direction,
            self.undo,
            self.delivered,
            self.own,
            self.note,
            self.ported_from,
        )


class Catalog:
    """Registered cases, in order; `case(...)` is the decorator that registers one.

    With a `matrix` (category -> channels), each case of a category in it is registered once
    more per channel of its row that it can be sent over (`bench.bypass.matrix`), as
    `<name>@<channel>`, unless it says `spread=False` (a trick that belongs to its channel).
    """

    def __init__(self, matrix: Mapping[str, tuple[Channel, ...]] | None = None) -> None:
        self.specs: list[Spec] = []
        self.matrix = dict(matrix or {})

    def case(
        self,
        category: str,
        kind: Kind | None,
        channel: Channel,
        *,
        undo: tuple[Undo, ...] = (),
        script: Script | None = None,
        direction: str = "request",
        delivered: Callable[[Seen], bool] = got_request,
        own: bool = False,
        spread: bool | tuple[Channel, ...] = True,
    ) -> Callable[[Callable[[Secret], Made]], Callable[[Secret], Made]]:
        """Register the decorated function as a case named after it (and its ports).

        `spread`: False keeps the case on its channel; a tuple of channels ports it only to
        those of its class's row (a Host header the reverse listener rewrites, say).
        """

        def register(make: Callable[[Secret], Made]) -> Callable[[Secret], Made]:
            note = (make.__doc__ or "").strip().rstrip(".")
            spec = Spec(
                make.__name__,
                category,
                kind,
                channel,
                make,
                note,
                undo,
                script or HTTP,
                direction,
                delivered,
                own,
            )
            self._add(spec)
            row = self.matrix.get(category, ()) if spread else ()
            if isinstance(spread, tuple):
                row = tuple(c for c in row if c in spread)
            for other in row:
                if other is not channel and _portable(spec, other):
                    name = f"{spec.name}@{other.value}"
                    self._add(
                        dataclasses.replace(spec, name=name, channel=other, ported_from=channel)
                    )
            return make

        return register

    def _add(self, spec: Spec) -> None:
        if any(s.name == spec.name for s in self.specs):
            raise ValueError(f"two cases are named {spec.name}")
        self.specs.append(spec)

    def __iter__(self) -> Iterator[Spec]:
        return iter(self.specs)


_PROBES = {
    Kind.SSN: Secret(Kind.SSN, "219099999"),
    Kind.CARD: Secret(Kind.CARD, "4539148803436467"),
}


def _portable(spec: Spec, channel: Channel) -> bool:
    """Whether `spec`'s case can be sent over `channel` (made once with a probe secret)."""
    probe = _PROBES[spec.kind] if spec.kind is not None else None
    made = spec.make(probe)  # type: ignore[arg-type]  # benign makers ignore it
    return port(made, spec.script, channel) is not None


def build(specs: list[Spec], seed: int) -> list[Case]:
    """The run's cases: each secret drawn from `seed` and the case's name, none shared."""
    cases, used = [], set()
    for spec in specs:
        secret = None
        if spec.kind is not None:
            secret = secret_for(seed, spec.name, spec.kind)
            attempt = 0
            while secret.digits in used:
                attempt += 1
                secret = secret_for(seed, f"{spec.name}#{attempt}", spec.kind)
            used.add(secret.digits)
        cases.append(spec.case(secret))
    return cases


# --- request helpers --------------------------------------------------------------------------

JSON = (("Content-Type", "application/json"),)
FORM = (("Content-Type", "application/x-www-form-urlencoded"),)
UA = (("User-Agent", "acme-sync/3.2"), ("Accept", "*/*"))
WS = Script(upgrade="websocket")
TCP = Script(kind="tcp")
_BOUNDARY = "----acmeformboundary7MA4YWxkTrZu0gW"


def post(path: str, body: bytes | str, headers: Headers = JSON) -> Http1:
    """A POST of `body` with `headers` (JSON by default)."""
    data = body.encode() if isinstance(body, str) else body
    return Http1(HttpRequest("POST", path, (*UA, *headers), data))


def post_json(path: str, value: object, headers: Headers = ()) -> Http1:
    """A POST of `value` as JSON, with extra `headers`."""
    return post(path, json.dumps(value), (*JSON, *headers))


def get(target: str, headers: Headers = ()) -> Http1:
    """A GET of `target` (path, query, fragment: as given)."""
    return Http1(HttpRequest("GET", target, (*UA, *headers)))


def multipart(
    parts: list[tuple[Headers, bytes]], preamble: bytes = b"", epilogue: bytes = b""
) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    out = preamble + (b"\r\n" if preamble else b"")
    for headers, data in parts:
        out += f"--{_BOUNDARY}\r\n".encode()
        out += "".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n" + data + b"\r\n"
    out += f"--{_BOUNDARY}--\r\n".encode() + epilogue
    return out, f"multipart/form-data; boundary={_BOUNDARY}"


def form_part(name: str, value: str | bytes, extra: Headers = ()) -> tuple[Headers, bytes]:
    """One multipart part named `name` (extra headers: filename's Content-Type and such)."""
    data = value.encode() if isinstance(value, str) else value
    return ((("Content-Disposition", f'form-data; name="{name}"'), *extra), data)


def post_multipart(
    path: str, parts: list[tuple[Headers, bytes]], preamble: bytes = b"", epilogue: bytes = b""
) -> Http1:
    """A multipart/form-data POST."""
    body, ctype = multipart(parts, preamble, epilogue)
    return post(path, body, (("Content-Type", ctype),))


def b64(data: str | bytes, urlsafe: bool = False) -> str:
    """Base64 (url-safe without padding, as JWTs have it, when `urlsafe`)."""
    raw = data.encode() if isinstance(data, str) else data
    if urlsafe:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return base64.b64encode(raw).decode()


def jwt(claims: dict[str, object], alg: str = "HS256") -> str:
    """A JWT with `claims`; `alg: none` has an empty signature, others a made-up one."""
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}), urlsafe=True)
    payload = b64(json.dumps(claims), urlsafe=True)
    signature = "" if alg == "none" else b64(bytes(range(32)), urlsafe=True)
    return f"{header}.{payload}.{signature}"


def ws(
    frames: tuple[bytes, ...],
    target: str = "/v1/stream",
    headers: Headers = (),
    version: str = "13",
) -> Http1:
    """A WebSocket handshake (Sec-WebSocket-Version `version`, none if empty), then `frames`."""
    handshake = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", websocket_key()),
    ]
    if version:
        handshake.append(("Sec-WebSocket-Version", version))
    handshake += [("Origin", "https://app.acme.example"), *headers]
    return Http1(HttpRequest("GET", target, tuple(handshake)), frames=frames)


def upgrade(protocol: str, after: bytes, target: str = "/v1/sync", headers: Headers = ()) -> Http1:
    """A request to upgrade to `protocol`; `after` is sent raw once the vendor answered 101."""
    head = (("Connection", "Upgrade"), ("Upgrade", protocol), *headers)
    return Http1(HttpRequest("GET", target, (*UA, *head)), after_upgrade=after)


def h2c_after_upgrade(body: bytes) -> tuple[str, bytes]:
    """The HTTP2-Settings value, and what follows a 101 to h2c: preface, POST `body` (stream 3)."""
    conn = h2.connection.H2Connection(h2_config(client_side=True))
    settings = conn.initiate_upgrade_connection()
    headers = [
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "vendor"),
        (":path", "/v1/records"),
        ("content-type", "application/json"),
    ]
    conn.send_headers(3, headers)
    conn.send_data(3, body, end_stream=True)
    return (settings or b"").decode(), conn.data_to_send()


def reply_json(value: object) -> Script:
    """A vendor that answers every request with `value` as JSON."""
    return Script(reply=http_response(200, JSON, json.dumps(value).encode()))


def sse(events: list[str]) -> bytes:
    """A finite text/event-stream response of `events` (data lines), one event a chunk."""
    headers = (("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"))
    chunks = tuple(f"event: update\ndata: {e}\n\n".encode() for e in events)
    return http_response(200, headers, b"", chunked=chunks)


def chunked_json(parts: list[str]) -> bytes:
    """A chunked JSON response, `parts` one per chunk."""
    return http_response(200, JSON, b"", chunked=tuple(p.encode() for p in parts))


def zlib_compress(data: bytes) -> bytes:
    """`data` zlib-compressed (PNG zTXt, compressed iTXt)."""
    return zlib.compress(data)
