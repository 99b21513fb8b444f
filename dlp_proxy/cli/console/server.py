"""`dlp-proxy console`: a read-only web page for incident responders.

A small HTTP server on 127.0.0.1 (by default) over the incident store: the list with filters,
an incident's detail, counts per vendor, rule and day. Every API call needs the token printed
at start (`Authorization: Bearer ...`); the page takes it from the URL's fragment, which the
browser never sends to the server. Evidence leaves the server sealed only: the page opens it
with the responder's private key file, read in the browser and never uploaded (WebCrypto:
X25519, HKDF-SHA256, AES-256-GCM, as `crypto.sealing` seals). A reveal in the page is recorded in
the store and the decision log before the page shows anything, as with `incidents reveal`.

Nothing is ever written but reveal records. The server is stdlib `http.server`, one thread per
request, each reading the store through its own lock-guarded connection.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dlp_proxy.errors import DlpError, IncidentStoreError
from dlp_proxy.incidents.audit import command_audit_log, current_user
from dlp_proxy.incidents.store import IncidentFilter, IncidentStore, StoredIncident, parse_time

__all__ = ["DEFAULT_LIMIT", "ConsoleServer", "incident_document", "statistics"]

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/console.js": ("console.js", "text/javascript; charset=utf-8"),
    "/console.css": ("console.css", "text/css; charset=utf-8"),
}
# Nothing from elsewhere, no inline script: the page runs only its own console.js.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_INCIDENT_PATH = re.compile(r"^/api/incidents/([^/]+)$")
_REVEAL_PATH = re.compile(r"^/api/incidents/([^/]+)/reveals$")
_FILTERS = ("since", "until", "vendor", "rule", "severity", "entity", "client", "outcome")
_MAX_POST = 4096
# The list shows the newest this many (`limit` in the query); the charts count them all.
DEFAULT_LIMIT = 500


def incident_document(stored: StoredIncident, with_evidence: bool = False) -> dict[str, Any]:
    """An incident as the API returns it: every field, the chain, the sealed evidence if asked."""
    document = stored.incident.to_json()
    evidence = document.pop("evidence")
    document["evidence_sealed"] = evidence is not None
    if with_evidence:
        document["evidence"] = json.loads(evidence) if evidence is not None else None
    document["chain"] = {"seq": stored.seq, "prev_hash": stored.prev_hash, "hash": stored.hash}
    return document


def statistics(incidents: list[StoredIncident]) -> dict[str, dict[str, int]]:
    """Counts per vendor, per rule and per day (UTC), for the chart."""
    by_vendor: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    by_day: Counter[str] = Counter()
    for stored in incidents:
        incident = stored.incident
        by_vendor[incident.vendor or "(no vendor)"] += 1
        by_rule.update(incident.rules or ("(no rule)",))
        by_day[incident.time[:10]] += 1
    return {
        "by_vendor": dict(by_vendor.most_common()),
        "by_rule": dict(by_rule.most_common()),
        "by_day": dict(sorted(by_day.items())),
    }


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json"


class ConsoleServer:
    """The console's HTTP server over one incident store; `serve_forever` until `shutdown`."""

    def __init__(
        self,
        store_path: Path,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 8765,
        token: str | None = None,
    ) -> None:
        if not store_path.exists():
            raise IncidentStoreError(
                f"no incident store at {store_path}: pass the gateway's --data-dir"
            )
        self.store = IncidentStore(store_path)
        self.data_dir = data_dir
        self.token = token or secrets.token_urlsafe(24)
        self._audit_lock = threading.Lock()
        console = self

        class Handler(_Handler):
            server_console = console

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = host, int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        """Where to open the console: the token is in the fragment, never sent to the server."""
        return f"http://{self.host}:{self.port}/#token={self.token}"

    def serve_forever(self) -> None:
        """Answer requests until `shutdown`."""
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop `serve_forever` (running on another thread), then `close`."""
        self.httpd.shutdown()
        self.close()

    def close(self) -> None:
        """Close the listening socket and the store."""
        self.httpd.server_close()
        self.store.close()

    def authorised(self, header: str | None) -> bool:
        """Whether an `Authorization` header carries the token (compared in constant time)."""
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[len("Bearer ") :].encode(), self.token.encode())

    def allowed_host(self, header: str | None) -> bool:
        """Whether the `Host` header names this server (a DNS-rebinding page would not)."""
        names = {self.host, "localhost", "127.0.0.1", "[::1]"}
        return header in {f"{name}:{self.port}" for name in names}

    def answer_get(self, path: str, query: dict[str, list[str]]) -> _Answer:
        """The answer to a GET of an API path (already authorised)."""
        if path == "/api/incidents":
            wanted = _filter(query)
            limit = _limit(query)
            found = self.store.find(wanted, limit=limit)
            total = len(found) if len(found) < limit else len(self.store.find(wanted))
            return _json(
                {"incidents": [incident_document(s) for s in found], "total": total, "limit": limit}
            )
        if path == "/api/stats":
            return _json(statistics(self.store.find(_filter(query))))
        match = _INCIDENT_PATH.match(path)
        if match:
            stored = self.store.get(unquote(match.group(1)))
            document = incident_document(stored, with_evidence=True)
            document["reveals"] = [
                {"time": r.time, "user": r.user, "key_id": r.key_id}
                for r in self.store.reveals(stored.incident.id)
            ]
            return _json(document)
        return _json({"error": f"no such API path {path}"}, HTTPStatus.NOT_FOUND)

    def answer_post(self, path: str, body: bytes, client: str) -> _Answer:
        """Record a reveal made in a browser (the only write the console does)."""
        match = _REVEAL_PATH.match(path)
        if not match:
            return _json({"error": f"no such API path {path}"}, HTTPStatus.NOT_FOUND)
        try:
            key_id = str(json.loads(body)["key_id"])
        except (ValueError, KeyError, TypeError):
            return _json({"error": 'send {"key_id": "..."}'}, HTTPStatus.BAD_REQUEST)
        if not re.fullmatch(r"[0-9a-f]{16}", key_id):
            return _json({"error": "key_id is 16 hex digits"}, HTTPStatus.BAD_REQUEST)
        stored = self.store.get(unquote(match.group(1)))
        user = f"{current_user()} (console, {client})"
        with self._audit_lock, command_audit_log(self.data_dir) as audit:
            reveal = self.store.record_reveal(stored.incident.id, user, key_id)
            audit.event(
                "incident_revealed",
                user=user,
                incident_id=stored.incident.id,
                key_id=key_id,
                via="console",
            )
        return _json({"recorded": {"time": reveal.time, "user": reveal.user, "key_id": key_id}})


def _filter(query: dict[str, list[str]]) -> IncidentFilter:
    values = {name: query[name][0].strip() for name in _FILTERS if query.get(name, [""])[0].strip()}
    for name in ("since", "until"):
        if name in values:
            values[name] = parse_time(values[name])
    return IncidentFilter(**values)


def _limit(query: dict[str, list[str]]) -> int:
    try:
        return max(1, min(int(query.get("limit", [str(DEFAULT_LIMIT)])[0]), 10_000))
    except ValueError:
        return DEFAULT_LIMIT


def _json(document: object, status: int = HTTPStatus.OK) -> _Answer:
    return _Answer(status, json.dumps(document, ensure_ascii=False).encode("utf-8"))


class _Handler(BaseHTTPRequestHandler):
    server_console: ConsoleServer
    server_version = "dlp-proxy-console"
    sys_version = ""

    def do_GET(self) -> None:
        """Static files for anyone on the host; the API with the token only."""
        if not self._host_checked():
            return
        url = urlsplit(self.path)
        if url.path in _STATIC:
            name, content_type = _STATIC[url.path]
            data = resources.files("dlp_proxy.cli.console").joinpath("static", name).read_bytes()
            self._send(_Answer(HTTPStatus.OK, data, content_type))
            return
        if not url.path.startswith("/api/"):
            self._send(_json({"error": "not found"}, HTTPStatus.NOT_FOUND))
            return
        if not self.server_console.authorised(self.headers.get("Authorization")):
            self._refuse()
            return
        self._send(
            self._safely(lambda: self.server_console.answer_get(url.path, parse_qs(url.query)))
        )

    def do_POST(self) -> None:
        """Only the reveal record, with the token."""
        if not self._host_checked():
            return
        if not self.server_console.authorised(self.headers.get("Authorization")):
            self._refuse()
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_POST:
            self._send(_json({"error": "request too large"}, HTTPStatus.REQUEST_ENTITY_TOO_LARGE))
            return
        body = self.rfile.read(length)
        path = urlsplit(self.path).path
        client = self.client_address[0]
        self._send(self._safely(lambda: self.server_console.answer_post(path, body, client)))

    def _safely(self, answer: Any) -> _Answer:
        try:
            result: _Answer = answer()
        except IncidentStoreError as e:
            status = (
                HTTPStatus.NOT_FOUND
                if str(e).startswith("no incident")
                else HTTPStatus.INTERNAL_SERVER_ERROR
            )
            return _json({"error": str(e)}, status)
        except DlpError as e:
            return _json({"error": str(e)}, HTTPStatus.BAD_REQUEST)
        return result

    def _host_checked(self) -> bool:
        if self.server_console.allowed_host(self.headers.get("Host")):
            return True
        self._send(_json({"error": "wrong Host header"}, HTTPStatus.MISDIRECTED_REQUEST))
        return False

    def _refuse(self) -> None:
        error = "a token is required: open the URL `dlp-proxy console` printed when it started"
        self._send(_json({"error": error}, HTTPStatus.UNAUTHORIZED))

    def _send(self, answer: _Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: request lines may carry filter values; errors reach the page as JSON."""
