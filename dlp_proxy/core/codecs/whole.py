"""The second reading of a structured body: all of its text at once, ignoring the format.

A format's reading presents values (and names) one by one; a reader that ignores the format sees
what lies between and across them too: a comment the parser drops, text around a JSON document,
an identifier spread over a key and its value. The foundations notes measured that neither
reading alone catches what the other does, so structured bodies are read both ways. The second
reading's segments are `whole:0`, `whole:1` ... (chunks cut at line ends, field `whole`) and
never rewritable: a finding there that no structured segment holds blocks the message.
"""

from __future__ import annotations

from dlp_proxy.core.codecs.fields import FormDocument
from dlp_proxy.core.codecs.markup import XmlDocument
from dlp_proxy.core.codecs.multipart import MultipartDocument
from dlp_proxy.core.codecs.parse import Document, JsonDocument
from dlp_proxy.core.codecs.tables import CsvDocument, NdjsonDocument
from dlp_proxy.core.codecs.values import TEXT_CHUNK_CHARS, chunk_lines, media_type
from dlp_proxy.detection.detector import WHOLE_PREFIX, Segment

__all__ = ["WHOLE_FIELD", "WHOLE_PREFIX", "whole_text_segments"]

WHOLE_FIELD = "whole"
# The documents a format reads value by value; plain text is read whole already.
_STRUCTURED = (
    JsonDocument,
    NdjsonDocument,
    CsvDocument,
    XmlDocument,
    MultipartDocument,
    FormDocument,
)


def whole_text_segments(document: Document, body: bytes, content_type: str) -> tuple[Segment, ...]:
    """The body's text as second-reading segments, for a structured `document`; else none.

    `body` is the decoded body (no Content-Encoding); it is read in the declared charset, or
    UTF-8, with undecodable bytes replaced (the structured reading decides about those).
    """
    if not isinstance(document, _STRUCTURED):
        return ()
    charset = media_type(content_type)[1].get("charset") or "utf-8"
    try:
        text = body.decode(charset, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    return tuple(
        Segment(f"{WHOLE_PREFIX}{i}", chunk, (), WHOLE_FIELD, rewritable=False)
        for i, chunk in enumerate(chunk_lines(text, TEXT_CHUNK_CHARS))
        if chunk.strip()
    )
