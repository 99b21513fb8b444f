"""Renderers: one function per corpus format, turning a `Draft`'s content into a request.

Each returns a `Rendered` request before compression; `bench.corpus` adds Content-Encoding.
Renderers only lay content out: every PII and benign value comes from the draft, which labels
it. A draft with no entities renders the clean variant of the same format.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from bench.draft import Draft, Record

__all__ = ["RENDERERS", "Rendered"]

_HEADER_NAMES = {
    "EMAIL_ADDRESS": "X-Customer-Email",
    "PHONE_NUMBER": "X-Customer-Phone",
    "IP_ADDRESS": "X-Forwarded-For",
    "PERSON": "X-Customer-Name",
    "DATE_OF_BIRTH": "X-Customer-DOB",
    "STREET_ADDRESS": "X-Customer-Address",
    "CREDIT_CARD": "X-Card-Number",
    "US_SSN": "X-Customer-SSN",
    "US_BANK_NUMBER": "X-Account-Number",
    "ABA_ROUTING_NUMBER": "X-Routing-Number",
    "IBAN_CODE": "X-Customer-IBAN",
}
_TERSE_HEADER_NAMES = {
    "CREDIT_CARD": "X-CC",
    "US_SSN": "X-SSN",
    "US_BANK_NUMBER": "X-Acct",
    "ABA_ROUTING_NUMBER": "X-Routing",
    "DATE_OF_BIRTH": "X-DOB",
    "PHONE_NUMBER": "X-Tel",
}


@dataclass(frozen=True)
class Rendered:
    """A request before compression: method, path with query, headers, body or WS messages."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    messages: tuple[bytes, ...] = ()


def _post(path: str, content_type: str, body: str | bytes) -> Rendered:
    data = body.encode() if isinstance(body, str) else body
    return Rendered("POST", path, (("Content-Type", content_type),), data)


def _dumps(value: Any) -> str:
    """JSON as a client writes it: UTF-8, disguised characters kept as they are."""
    return json.dumps(value, ensure_ascii=False)


def _nested(d: Draft, record: Record) -> dict[str, Any]:
    """A ticket document: ticket fields, a customer object with an address, notes, items."""
    customer: dict[str, Any] = dict(record.pii)
    if record.context:
        street = d.names.get("STREET_ADDRESS", "")
        address = {street: customer.pop(street)} if street in customer else {}
        customer["address"] = {**address, **dict(record.context)}
    doc: dict[str, Any] = {"ticket": {**dict(record.benign), "subject": d.subject}}
    if customer:
        doc["customer"] = customer
    if record.notes:
        doc["notes"] = record.notes
    if d.rng.random() < 0.5:
        doc["items"] = [{"sku": d.good("SKU"), "qty": d.rng.randint(1, 3)}]
    return doc


def render_json(d: Draft) -> Rendered:
    """A nested JSON ticket."""
    return _post("/v2/tickets", "application/json", _dumps(_nested(d, d.record())))


def render_json_string(d: Draft) -> Rendered:
    """A JSON event whose payload is a string holding JSON (sometimes twice over)."""
    payload = _dumps(_nested(d, d.record()))
    if d.rng.random() < 0.3:
        payload = _dumps({"data": payload, "schema": "ticket/v2"})
    event = {
        "event": "crm.ticket.updated",
        "occurred_at": d.good("ISO_TIMESTAMP"),
        "payload": payload,
    }
    return _post("/crm/events", "application/json", _dumps(event))


def render_json_numbers(d: Draft) -> Rendered:
    """A JSON record with card, SSN, account and phone numbers as JSON integers."""
    profile = d.profile(numeric_safe=True)
    customer: dict[str, Any] = {}
    for entity in d.entities:
        customer[d.names[entity]] = d.number(entity, profile)
        if entity == "US_BANK_NUMBER":
            name = d.names["ABA_ROUTING_NUMBER"]
            customer[name] = d.number("ABA_ROUTING_NUMBER", profile)
    doc = {
        d.benign_names.get("TICKET_ID", "ticket_id"): d.good("TICKET_ID"),
        "order_number": d.good_number(),
        "customer": customer,
    }
    return _post("/v2/payments/verify", "application/json", _dumps(doc))


def render_json_array(d: Draft) -> Rendered:
    """A customer export: a large JSON array of flat records."""
    with_notes = d.rng.random() < 0.3
    records = [dict(d.record(notes=with_notes).flat()) for _ in range(d.rng.randint(15, 30))]
    doc = {"export": "customers", "generated_at": d.good("ISO_TIMESTAMP"), "records": records}
    return _post("/v1/exports/customers", "application/json", _dumps(doc))


def render_ndjson(d: Draft) -> Rendered:
    """An NDJSON event stream, one record per line."""
    lines = []
    for _ in range(d.rng.randint(3, 10)):
        kind = d.rng.choice(("customer.updated", "ticket.note", "payment.updated"))
        lines.append(_dumps({"type": kind, "data": dict(d.record().flat())}))
    return _post("/v1/events/bulk", "application/x-ndjson", "\n".join(lines) + "\n")


def render_form(d: Draft) -> Rendered:
    """An application/x-www-form-urlencoded ticket."""
    pairs = [*d.record().flat(), ("subject", d.subject)]
    return _post("/v2/tickets/form", "application/x-www-form-urlencoded", urlencode(pairs))


@dataclass(frozen=True)
class _Part:
    name: str
    content: str
    filename: str = ""
    content_type: str = ""
    transfer_encoding: str = ""


def _multipart(d: Draft, parts: list[_Part]) -> Rendered:
    """multipart/form-data with the given parts and a random boundary."""
    boundary = f"----benchBoundary{d.rng.getrandbits(48):012x}"
    chunks = []
    for part in parts:
        disposition = f'form-data; name="{part.name}"'
        if part.filename:
            disposition += f'; filename="{part.filename}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if part.content_type:
            head += f"Content-Type: {part.content_type}\r\n"
        if part.transfer_encoding:
            head += f"Content-Transfer-Encoding: {part.transfer_encoding}\r\n"
        chunks.append(f"{head}\r\n{part.content}\r\n")
    body = "".join(chunks) + f"--{boundary}--\r\n"
    return _post("/v1/uploads", f"multipart/form-data; boundary={boundary}", body)


def _file_part(d: Draft, name: str, content_type: str, text: str) -> _Part:
    """A file part; under the base64_blob disguise its content is base64 in 76-column lines."""
    if d.disguise != "base64_blob" or d.clean:
        return _Part("file", text, name, content_type)
    blob = d.blob(text)
    wrapped = "\r\n".join(blob[i : i + 76] for i in range(0, len(blob), 76))
    return _Part("file", wrapped, name, content_type, "base64")


def _upload_fields(d: Draft) -> list[_Part]:
    return [_Part("agent_id", d.good("AGENT_ID")), _Part("subject", d.subject)]


def render_multipart_fields(d: Draft) -> Rendered:
    """A multipart form whose fields are a ticket record."""
    return _multipart(d, [_Part(k, v) for k, v in d.record().flat()])


def _table(d: Draft, delimiter: str, blob: bool = True) -> str:
    """A CSV or TSV export with a header row: the header names are the columns' context."""
    with_notes = d.rng.random() < 0.5
    rows = [d.record(notes=with_notes, blob=blob).flat() for _ in range(d.rng.randint(3, 15))]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([k for k, _ in rows[0]])
    writer.writerows([v for _, v in row] for row in rows)
    return out.getvalue()


def render_multipart_csv(d: Draft) -> Rendered:
    """A multipart upload of a CSV export file."""
    csv_text = _table(d, ",", blob=False)
    return _multipart(d, [*_upload_fields(d), _file_part(d, "customers.csv", "text/csv", csv_text)])


def render_multipart_json(d: Draft) -> Rendered:
    """A multipart upload of a JSON ticket file."""
    text = _dumps(_nested(d, d.record(blob=False)))
    return _multipart(
        d, [*_upload_fields(d), _file_part(d, "ticket.json", "application/json", text)]
    )


def render_multipart_text(d: Draft) -> Rendered:
    """A multipart upload of a call transcript as a text file."""
    text = "\n".join(d.transcript())
    return _multipart(d, [*_upload_fields(d), _file_part(d, "transcript.txt", "text/plain", text)])


def render_csv(d: Draft) -> Rendered:
    """A CSV export with a header row."""
    return _post("/v1/exports/customers.csv", "text/csv; charset=utf-8", _table(d, ","))


def render_tsv(d: Draft) -> Rendered:
    """A TSV export with a header row."""
    body = _table(d, "\t")
    return _post("/v1/exports/customers.tsv", "text/tab-separated-values; charset=utf-8", body)


def _element(name: str, value: str, indent: str) -> str:
    return f"{indent}<{name}>{escape(value)}</{name}>"


def render_xml(d: Draft) -> Rendered:
    """XML ticket records with a customer element each."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<tickets>"]
    for _ in range(d.rng.randint(1, 3)):
        record = d.record()
        lines.append("  <ticket>")
        lines += [_element(k, v, "    ") for k, v in record.benign]
        if record.pii or record.context:
            lines.append("    <customer>")
            lines += [_element(k, v, "      ") for k, v in (*record.pii, *record.context)]
            lines.append("    </customer>")
        if record.notes:
            lines.append(_element("notes", record.notes, "    "))
        lines.append("  </ticket>")
    lines.append("</tickets>")
    return _post("/v1/tickets.xml", "application/xml", "\n".join(lines) + "\n")


def render_text(d: Draft) -> Rendered:
    """A plain-text ticket: a header and a call transcript (or its base64 attachment)."""
    head = [f"Subject: {d.subject}", f"Ticket: {d.good('TICKET_ID')}", ""]
    lines = d.transcript()
    if d.disguise == "base64_blob" and not d.clean:
        blob = d.blob("\n".join(lines))
        wrapped = [blob[i : i + 76] for i in range(0, len(blob), 76)]
        lines = ["Transcript attached (transcript.txt, base64):", *wrapped]
    return _post("/v1/notes", "text/plain; charset=utf-8", "\n".join([*head, *lines]) + "\n")


def _url_text(text: str) -> str:
    """A value as it goes into a URL: percent-encoded, keeping encodings already applied."""
    return quote(text, safe="%@")


def render_url(d: Draft) -> Rendered:
    """A GET whose path segment and query string carry the values."""
    record = d.record(notes=False)
    pii = list(record.pii)
    if record.notes:
        pii.append(("comment", record.notes))
    path = "/v2/tickets/search"
    if pii and d.disguise not in ("split_card", "base64_blob"):
        name, value = pii.pop(0)
        path = f"/v2/customers/{_url_text(value)}/tickets"
        pii.insert(0, ("by", name))
    query = "&".join(f"{k}={_url_text(v)}" for k, v in [*pii, *record.benign])
    return Rendered("GET", f"{path}?{query}", ())


def render_headers(d: Draft) -> Rendered:
    """A POST whose custom headers carry the values; the JSON body holds benign fields only."""
    profile = d.profile()
    headers: list[tuple[str, str]] = [("Content-Type", "application/json")]
    terse = d.disguise == "field_names"
    for entity in d.entities:
        owners = [entity, "ABA_ROUTING_NUMBER"] if entity == "US_BANK_NUMBER" else [entity]
        for owner in owners:
            if owner == "CREDIT_CARD" and d.disguise == "split_card":
                (_, first), (_, rest) = d.split_card(profile)
                headers += [("X-Card-Part1", first), ("X-Card-Part2", rest)]
                continue
            name = (_TERSE_HEADER_NAMES if terse else {}).get(owner, _HEADER_NAMES[owner])
            value = d.pii(owner, profile)
            headers.append((name, value if value.isascii() else quote(value, safe="@ ")))
    headers.append(("X-Agent-Id", d.good("AGENT_ID")))
    body = _dumps({"ticket_id": d.good("TICKET_ID"), "subject": d.subject})
    return Rendered("POST", "/v2/tickets", tuple(headers), body.encode())


def render_websocket(d: Draft) -> Rendered:
    """A chat session over WebSocket: a profile message, then transcript lines as messages."""
    messages: list[str] = []
    if d.entities and (d.disguise in ("split_card", "field_names") or d.rng.random() < 0.5):
        messages.append(_dumps({"type": "customer.profile", "data": dict(d.record().flat())}))
    lines = d.transcript()
    if d.disguise == "base64_blob" and not d.clean:
        blob = d.blob("\n".join(lines))
        messages.append(_dumps({"type": "file", "name": "transcript.txt", "base64": blob}))
    else:
        for line in lines:
            role, _, text = line.partition(": ")
            messages.append(_dumps({"type": "chat.message", "from": role, "text": text}))
    path = f"/v1/chat/ws?session={d.good('TICKET_ID')}"
    return Rendered("GET", path, (), messages=tuple(m.encode() for m in messages))


RENDERERS: dict[str, Callable[[Draft], Rendered]] = {
    "json": render_json,
    "json_string": render_json_string,
    "json_numbers": render_json_numbers,
    "json_array": render_json_array,
    "ndjson": render_ndjson,
    "form": render_form,
    "multipart_fields": render_multipart_fields,
    "multipart_csv": render_multipart_csv,
    "multipart_json": render_multipart_json,
    "multipart_text": render_multipart_text,
    "csv": render_csv,
    "tsv": render_tsv,
    "xml": render_xml,
    "text": render_text,
    "url": render_url,
    "headers": render_headers,
    "websocket": render_websocket,
}
