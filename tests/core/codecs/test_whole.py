"""The second reading: a structured body's whole text, never rewritable."""

from __future__ import annotations

import pytest

from dlp_proxy.core.codecs import TEXT_CHUNK_CHARS, parse_body, whole_text_segments


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"a": "x"}'),
        ("application/x-ndjson", b'{"a": 1}\n{"b": 2}\n'),
        ("text/csv", b"a,b\n1,2\n"),
        ("application/xml", b"<r><?pi data?><a>x</a></r>"),
        ("application/x-www-form-urlencoded", b"a=1&b=2"),
        (
            "multipart/form-data; boundary=B",
            b"pre\r\n--B\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--B--\r\n",
        ),
    ],
)
def test_structured_bodies_are_read_whole_as_well(content_type: str, body: bytes) -> None:
    """Every structured format gets one read-only segment holding all of its text."""
    document = parse_body(content_type, body)
    (segment,) = whole_text_segments(document, body, content_type)
    assert segment.location == "whole:0"
    assert segment.field == "whole"
    assert segment.text == body.decode()
    assert segment.rewritable is False


@pytest.mark.parametrize(
    ("content_type", "body"), [("text/plain", b"just text"), ("application/json", b"")]
)
def test_text_and_empty_bodies_have_no_second_reading(content_type: str, body: bytes) -> None:
    """Plain text is read whole already; an empty body has nothing to read."""
    assert whole_text_segments(parse_body(content_type, body), body, content_type) == ()


def test_a_long_body_is_read_in_chunks_at_line_ends() -> None:
    """Chunks keep lines whole, so a value on one line is never cut in two."""
    line = b'{"note": "' + b"x" * 100 + b'"}\n'
    body = line * (2 * TEXT_CHUNK_CHARS // len(line) + 1)
    segments = whole_text_segments(
        parse_body("application/x-ndjson", body), body, "application/x-ndjson"
    )
    assert len(segments) >= 2
    assert "".join(s.text for s in segments) == body.decode()
    assert all(s.text.endswith("\n") for s in segments)


def test_an_unknown_or_wrong_charset_still_gives_text() -> None:
    """Bytes the declared charset cannot read are replaced: the second reading never fails."""
    body = b"a,b\ncaf\xe9,1\n"
    document = parse_body("text/csv; charset=latin-1", body)
    (segment,) = whole_text_segments(document, body, "text/csv; charset=x-unknown")
    assert segment.text == "a,b\ncaf\ufffd,1\n"
