"""Compressed files as bodies: a `.gz` or `.zst` upload, or gzip bytes with no Content-Encoding.

A client can upload a gzip or zstd file (`application/gzip`, or any untyped, `text/plain` or
`application/octet-stream` body that starts with the format's magic number); the vendor saves it
and runs `gunzip`. Such a body is decompressed here, within `MAX_BYTES` and `MAX_RATIO` (a bound
that is hit refuses the body, as every decoder does), and what it holds is read as a body of no
declared type would be (JSON, CSV, a zip, text ...). A gzip member's file name and comment are
segments too: `gunzip -N` restores the name, `gzip -lv` shows both.

Locations: `gzip>` before the inner document's (`gzip>text:0`, `gzip>$.customer.ssn`), and
`gzip#header:0` ... for the header texts; `zstd>` likewise. Nothing inside is rewritable:
compressing again would give other bytes than the client's (a rule that would redact there
blocks instead).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from dlp_proxy.core.codecs.multipart import PartDocument
from dlp_proxy.core.compression import decode_body
from dlp_proxy.detection.detector import SEP, Segment
from dlp_proxy.errors import BodyTooLarge, UndecodableBody

__all__ = ["COMPRESSED_TYPES", "MAX_BYTES", "MAX_RATIO", "CompressedDocument", "compression_of"]

# A decompressed file larger than this, or this many times larger than the body, is refused.
MAX_BYTES = 64 * 1024 * 1024
MAX_RATIO = 200.0
COMPRESSED_TYPES = {
    "application/gzip": "gzip",
    "application/x-gzip": "gzip",
    "application/zstd": "zstd",
    "application/x-zstd": "zstd",
}
_MAGIC = ((b"\x1f\x8b\x08", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"))


def compression_of(body: bytes) -> str | None:
    """`gzip` or `zstd` when `body` starts as that format does; None otherwise.

    The type alone does not decide: a body labelled `application/gzip` that is no gzip is read
    as what it is (or refused) by the caller.
    """
    for magic, name in _MAGIC:
        if body.startswith(magic):
            return name
    return None


class CompressedDocument:
    """A gzip or zstd file: the document inside it, and the gzip header's texts; read-only."""

    def __init__(
        self,
        body: bytes,
        coding: str,
        read: Callable[[bytes, int], PartDocument],
        depth: int = 0,
    ) -> None:
        self._body = body
        texts: list[str] = []
        try:
            inner = decode_body(body, coding, MAX_BYTES, MAX_RATIO, texts)
        except BodyTooLarge as e:
            raise UndecodableBody(f"a {coding} file in the body: {e}") from None
        except UndecodableBody as e:
            raise UndecodableBody(f"a {coding} file in the body cannot be read: {e}") from None
        document = read(inner, depth + 1)
        self.uninspectable: tuple[str, ...] = tuple(
            f"{coding}{SEP}{location}" for location in document.uninspectable
        )
        self.segments: tuple[Segment, ...] = (
            *(
                replace(
                    s,
                    location=f"{coding}{SEP}{s.location}",
                    field=f"{coding}{SEP}{s.field}",
                    rewritable=False,
                )
                for s in document.segments
            ),
            *(
                Segment(f"{coding}#header:{i}", text, (), f"{coding}#header", rewritable=False)
                for i, text in enumerate(texts)
            ),
        )

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The body as it came: nothing inside a compressed file is rewritten."""
        if replacements:
            raise UndecodableBody("a compressed file in the body cannot be rewritten")
        return self._body
