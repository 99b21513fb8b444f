"""End-to-end: images and text in binary bodies through the real reverse proxy (default.yaml).

Clean images (a screenshot's header, pixels and end) reach the vendor byte for byte, alone or
in a multipart ticket; an SSN in an image's metadata or in UTF-16 text blocks the request; an
email in a PNG text chunk arrives masked in a PNG that is still valid. Binary WebSocket messages
are read the same way.
"""

from __future__ import annotations

import socket
import zlib
from typing import Any

import httpx
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Request

from tests.core.codecs.pictures import (
    ascii_entry,
    exif_segment,
    jpeg,
    png,
    png_chunks,
    text_chunk,
    tiff,
)
from tests.e2e.harness import EMAIL, SSN, Proxy, Vendor, poll

SSN_WRITTEN = f"{SSN[:3]}-{SSN[3:5]}-{SSN[5:]}"
BOUNDARY = "----e2eImagesBoundary"
RULE = "block-ssn-and-bank-numbers"


def _post(client: httpx.Client, path: str, content_type: str, body: bytes) -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": content_type})


def _ticket(screenshot: bytes) -> bytes:
    """A multipart ticket: a note and a PNG screenshot."""
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="subject"\r\n\r\n'
            "Checkout page shows an error\r\n"
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="screenshot"; '
            'filename="error.png"\r\nContent-Type: image/png\r\n\r\n'
        ).encode()
        + screenshot
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def test_clean_images_are_delivered_byte_for_byte(
    reverse_client: httpx.Client, http_vendor: Vendor, unique_path: str
) -> None:
    """A clean PNG, a clean JPEG and a ticket with a clean screenshot arrive exactly as sent."""
    cases = [
        ("image/png", png()),
        ("image/jpeg", jpeg(exif_segment(tiff([ascii_entry(0x0131, "Screenshot tool")])))),
        ("application/octet-stream", png()),
        (f"multipart/form-data; boundary={BOUNDARY}", _ticket(png())),
    ]
    for i, (content_type, body) in enumerate(cases):
        path = f"{unique_path}/{i}"
        response = _post(reverse_client, path, content_type, body)
        assert response.status_code == 200, (content_type, response.text)
        assert http_vendor.only(path).body == body, content_type


def test_an_ssn_in_image_metadata_or_wide_text_is_blocked(
    reverse_client: httpx.Client, http_vendor: Vendor, unique_path: str
) -> None:
    """An SSN in a PNG tEXt, in JPEG EXIF, in a ticket's screenshot or in UTF-16 text: a 403."""
    note = f"Customer SSN {SSN_WRITTEN}"
    cases = [
        ("image/png", png(text_chunk("Comment", note))),
        ("image/jpeg", jpeg(exif_segment(tiff([ascii_entry(0x010E, note)])))),
        (f"multipart/form-data; boundary={BOUNDARY}", _ticket(png(text_chunk("Comment", note)))),
        ("application/octet-stream", note.encode("utf-16-le")),
        ("image/png", png(trailer=note.encode())),
    ]
    for i, (content_type, body) in enumerate(cases):
        path = f"{unique_path}/{i}"
        response = _post(reverse_client, path, content_type, body)
        assert response.status_code == 403, (content_type, response.text)
        assert response.json()["rule"] == RULE, content_type
        assert http_vendor.received(path) == []


def test_binary_after_an_image_is_refused(
    reverse_client: httpx.Client, http_vendor: Vendor, unique_path: str
) -> None:
    """A PNG with binary bytes (an archive) after its end is handled by on_error: refused."""
    body = png(trailer=b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)))
    response = _post(reverse_client, unique_path, "image/png", body)
    assert response.status_code == 403, response.text
    assert response.json()["rule"] == "on_error"
    assert http_vendor.received(unique_path) == []


def test_an_email_in_a_png_text_chunk_arrives_masked_in_a_valid_png(
    reverse_client: httpx.Client, http_vendor: Vendor, unique_path: str
) -> None:
    """The PNG's tEXt chunk is rewritten with the email masked, its length and CRC right."""
    body = png(text_chunk("Author", f"Reported by {EMAIL}"))
    response = _post(reverse_client, unique_path, "image/png", body)
    assert response.status_code == 200, response.text
    received = http_vendor.only(unique_path).body
    assert EMAIL.encode() not in received
    chunks = png_chunks(received)
    assert all(zlib.crc32(kind + data) == crc for kind, data, crc in chunks)
    (author,) = [data for kind, data, _ in chunks if kind == b"tEXt"]
    assert author.startswith(b"Author\x00Reported by ")
    assert author.endswith(b".com")
    assert [kind for kind, _, _ in chunks] == [kind for kind, _, _ in png_chunks(body)]


def _send_binary(proxy: Proxy, path: str, messages: list[bytes]) -> None:
    """Open a WebSocket through `proxy`, send `messages` as binary messages, close."""
    ws = WSConnection(ConnectionType.CLIENT)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
        sock.sendall(ws.send(Request(host=f"127.0.0.1:{proxy.port}", target=path)))
        _wait(sock, ws, AcceptConnection)
        for message in messages:
            sock.sendall(ws.send(BytesMessage(data=message)))
        sock.sendall(ws.send(CloseConnection(code=1000)))
        _wait(sock, ws, CloseConnection)


def _wait(sock: socket.socket, ws: WSConnection, kind: type[Any]) -> None:
    while True:
        if any(isinstance(event, kind) for event in ws.events()):
            return
        data = sock.recv(65536)
        assert data, f"connection closed before {kind.__name__}"
        ws.receive_data(data)


def test_binary_websocket_messages_are_read_as_text_or_images(
    reverse_proxy: Proxy, unique_path: str
) -> None:
    """A binary message in UTF-16 with an SSN is dropped; a clean PNG one is allowed."""
    _send_binary(reverse_proxy, unique_path, [f"SSN {SSN_WRITTEN}".encode("utf-16"), png()])

    def decided() -> list[dict[str, Any]]:
        found = [
            d
            for d in reverse_proxy.decisions()
            if d["path"] == unique_path and d["method"] == "WEBSOCKET"
        ]
        return found if len(found) == 2 else []

    first, second = poll("both binary messages' decisions", decided)
    assert (first["outcome"], first["rules"]) == ("blocked", [RULE])
    assert second["outcome"] == "allowed"
