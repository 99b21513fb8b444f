"""Bombs of every kind through the real proxy: each refused at its bound, and the proxy serves on.

Every body here is small on the wire and huge, deep or numerous inside: a zip entry of zeros, a
zip of 20,000 entries, zips nested past the depth, a gzip file of zeros, a PDF whose stream
inflates past its limit, a gRPC message nested 1,000 deep, base64 in base64 twelve times, an
XML entity bomb. The default policy's `on_error: block` answers each with a 403 (rule
`on_error`), nothing reaches the vendor, the decision names why, and a clean request after them
all goes through.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Callable

import httpx
import pytest

from bench.bypass.attacks_documents import make_zip, pdf
from tests.e2e.harness import Proxy, Vendor

Bomb = tuple[str, bytes]


def zip_of_zeros() -> Bomb:
    """One entry of 80 MiB of zeros (about 80 KB deflated)."""
    return "application/zip", make_zip([("export.csv", bytes(80 * 1024 * 1024))])


def zip_of_many_entries() -> Bomb:
    """20,000 empty entries."""
    return "application/zip", make_zip([(f"e{i}.txt", b"") for i in range(20_000)])


def zips_nested_deep() -> Bomb:
    """A zip in a zip, ten deep."""
    body = b"hello"
    for i in range(10):
        body = make_zip([(f"level{i}.zip" if i else "note.txt", body)])
    return "application/zip", body


def gzip_file_of_zeros() -> Bomb:
    """A `.gz` upload of 200 MiB of zeros (about 200 KB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1024 * 1024)
    data = b"".join(compressor.compress(chunk) for _ in range(200)) + compressor.flush()
    return "application/gzip", data


def pdf_flate_bomb() -> Bomb:
    """A PDF page whose content stream inflates to 64 MiB of spaces."""
    return "application/pdf", pdf([b" " * (64 * 1024 * 1024)], flate=True)


def _varint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def grpc_nested_deep() -> Bomb:
    """A gRPC message of one field nested 1,000 deep."""
    message = b"\x0a\x02hi"
    for _ in range(1000):
        message = b"\x0a" + _varint(len(message)) + message
    return "application/grpc", b"\x00" + len(message).to_bytes(4, "big") + message


def base64_twelve_deep() -> Bomb:
    """Base64 of base64 ... twelve times, in a JSON field."""
    word = "ticket note"
    for _ in range(12):
        word = base64.b64encode(word.encode()).decode()
    return "application/json", json.dumps({"blob": word}).encode()


def xml_entity_bomb() -> Bomb:
    """The billion laughs: entities of entities."""
    lol = "".join(
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10 if i else "lol"}">' for i in range(10)
    )
    return "application/xml", f"<!DOCTYPE r [{lol}]><r>&l9;</r>".encode()


BOMBS: list[Callable[[], Bomb]] = [
    zip_of_zeros,
    zip_of_many_entries,
    zips_nested_deep,
    gzip_file_of_zeros,
    pdf_flate_bomb,
    grpc_nested_deep,
    base64_twelve_deep,
    xml_entity_bomb,
]


@pytest.mark.parametrize("make", BOMBS, ids=[b.__name__ for b in BOMBS])
def test_a_bomb_is_refused_at_its_bound(
    make: Callable[[], Bomb],
    explicit_client: httpx.Client,
    explicit_proxy: Proxy,
    https_vendor: Vendor,
    unique_path: str,
) -> None:
    """The bomb gets a 403 from on_error, the vendor nothing, the decision its reason."""
    content_type, body = make()
    response = explicit_client.post(
        https_vendor.origin + unique_path, content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 403, response.text
    assert response.json()["rule"] == "on_error"
    assert https_vendor.received(unique_path) == []
    decision = explicit_proxy.decision_for(unique_path)
    assert decision["outcome"] == "blocked"
    assert decision["error"].split(":")[0] in {"undecodable_body", "body_too_large"}


def test_the_proxy_serves_on_after_every_bomb(
    explicit_client: httpx.Client, https_vendor: Vendor, unique_path: str
) -> None:
    """After the bombs (and one more of each kind now), a clean gzip upload goes through."""
    for make in BOMBS:
        content_type, body = make()
        explicit_client.post(
            https_vendor.origin + unique_path + "/bomb",
            content=body,
            headers={"Content-Type": content_type},
        )
    log = gzip.compress(b"2026-12-01 10:00:00 INFO sync finished in 13 ms\n", mtime=0)
    response = explicit_client.post(
        https_vendor.origin + unique_path + "/ok",
        content=log,
        headers={"Content-Type": "application/gzip"},
    )
    assert response.status_code == 200, response.text
    assert https_vendor.only(unique_path + "/ok").body == log
