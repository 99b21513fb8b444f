"""The second reading: a structured body's whole text, never rewritable."""

from __future__ import annotations

import pytest

from dlp_proxy.core.codecs import (
    TEXT_CHUNK_CHARS,
    coding_header_segments,
    is_other_reading,
    other_readings,
    parse_body,
    whole_text_segments,
)


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


def test_json_labelled_as_something_else_is_also_read_as_json() -> None:
    """A vendor that ignores the label reads JSON: so does the gateway, read-only."""
    body = b'{"customer": {"tin": "536904399"}}'
    document = parse_body("text/csv", body)
    readings = {s.location: s for s in other_readings(document, body, "text/csv")}
    assert readings["whole:json>$.customer.tin"].text == "536904399"
    assert readings["whole:json>$.customer.tin"].context == ("tin",)
    assert not any(s.rewritable for s in readings.values())


def test_a_json_body_labelled_json_has_no_other_reading() -> None:
    """What is read as JSON already is not read twice."""
    body = b'{"a": "x"}'
    assert other_readings(parse_body("application/json", body), body, "application/json") == ()


def test_utf8_under_another_declared_charset_is_also_read_as_utf8() -> None:
    """ASCII declared as UTF-16 reads as CJK to the gateway and as ASCII to a lax vendor."""
    body = b"ssn 536-90-4399 on file!"  # an even length: valid UTF-16 too
    content_type = "text/plain; charset=utf-16le"
    (reading,) = other_readings(parse_body(content_type, body), body, content_type)
    assert (reading.location, reading.text) == ("whole:utf-8", body.decode())
    assert other_readings(parse_body("text/plain; charset=utf-8", body), body, "text/plain") == ()


@pytest.mark.parametrize(
    ("content_type", "body", "location", "text"),
    [
        ("text/csv", b"<c><tin>536904399</tin></c>", "whole:xml>xml:/c/tin", "536904399"),
        ("text/csv", b"tin=536904399&plan=gold", "whole:form>form:tin", "536904399"),
        ("application/json", b"tin=536904399\n", "whole:form>form:tin", "536904399"),
    ],
    ids=["xml-as-csv", "form-as-csv", "form-as-json"],
)
def test_xml_and_forms_labelled_otherwise_are_also_read_as_such(
    content_type: str, body: bytes, location: str, text: str
) -> None:
    """XML or a form under another label is read as what it is too, with its field names."""
    try:
        document = parse_body(content_type, body)
    except Exception:  # noqa: BLE001 - a refused declared reading has no document to compare
        document = parse_body("text/plain", body)
    readings = {s.location: s for s in other_readings(document, body, content_type)}
    assert readings[location].text == text
    assert readings[location].rewritable is False


def test_prose_is_no_form() -> None:
    """A sentence with an equals sign in it is not read as a form."""
    body = b"the total = 12 items, thanks"
    assert other_readings(parse_body("text/plain", body), body, "text/plain") == ()


@pytest.mark.parametrize(
    ("charset", "encoding", "location"),
    [
        ("iso-8859-1", "utf-16", "whole:utf-16-le"),
        ("windows-1252", "utf-32", "whole:utf-32-le"),
    ],
)
def test_a_byte_order_mark_against_the_declared_charset_is_also_read(
    charset: str, encoding: str, location: str
) -> None:
    """UTF-16 with its mark, declared Latin-1, reads to a vendor that trusts the mark."""
    body = "card 4111 1111 1111 1111".encode(encoding)
    content_type = f"text/plain; charset={charset}"
    readings = {
        s.location: s for s in other_readings(parse_body(content_type, body), body, content_type)
    }
    assert readings[location].text.lstrip("\ufeff") == "card 4111 1111 1111 1111"


def test_utf7_shift_sequences_are_also_read_as_utf7() -> None:
    """`+ADIAMQA5-` is `219` to a UTF-7 reader: text holding shift sequences is read so too."""
    body = b"ssn +ADIAMQA5AC0AMAA5AC0AOQA5ADkAOQ-"
    (reading,) = other_readings(parse_body("text/plain", body), body, "text/plain")
    assert (reading.location, reading.text) == ("whole:utf-7", "ssn 219-09-9999")


def test_a_plus_in_prose_is_no_utf7() -> None:
    """`C++` and `1+1` hold no shift sequence worth a second reading."""
    body = b"C++ and 1+1 and a+b"
    assert other_readings(parse_body("text/plain", body), body, "text/plain") == ()


def test_gzip_header_texts_are_read_only_segments() -> None:
    """A gzip member's file name and comment become `whole:gzip-header:N` segments."""
    (segment,) = coding_header_segments(["card 4111 1111 1111 1111.txt"])
    assert segment.location == "whole:gzip-header:0"
    assert segment.rewritable is False
    assert is_other_reading(segment.location)


def test_undeclared_ebcdic_is_also_read_as_ebcdic() -> None:
    """Mainframe text (IBM-500) sent as bytes reads as ASCII to the vendor that expects it."""
    body = "CARD 4111 1111 1111 1111 PLAN GOLD".encode("cp500")
    readings = {s.location: s.text for s in other_readings(parse_body("", body), body, "")}
    assert readings["whole:ebcdic"] == "CARD 4111 1111 1111 1111 PLAN GOLD"


def test_latin1_text_is_no_ebcdic() -> None:
    """Western European text in Latin-1 does not read as ASCII in IBM-500."""
    body = "Réunion reportée au jeudi, café offert, salle B12".encode("latin-1")
    readings = {s.location for s in other_readings(parse_body("", body), body, "")}
    assert "whole:ebcdic" not in readings


def test_nuls_between_ascii_are_also_read_as_utf8() -> None:
    """Digits with NULs between sniff as UTF-16; a vendor reading UTF-8 skips the NULs."""
    body = "card " + "\x00".join("4111111111111111")
    data = body.encode()
    readings = {
        s.location: s.text for s in other_readings(parse_body("text/plain", data), data, "")
    }
    assert readings["whole:utf-8"] == body


def test_a_plus_before_letters_that_decode_to_cjk_is_no_utf7() -> None:
    """`Score+ABCDEFGH` is valid UTF-7 of CJK: text, not a disguise; no second reading."""
    body = b"the team Score+ABCDEFGH was fine in the end, good job everyone"
    assert other_readings(parse_body("text/plain", body), body, "text/plain") == ()
