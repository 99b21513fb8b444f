"""Tests for dlp_proxy/core/encodings.py: encoded words inside text, decoded with their spans."""

from __future__ import annotations

import base64
import gzip
import html
import re
import zlib
from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dlp_proxy.core import encodings
from dlp_proxy.core.encodings import DecodeBudget, embedded_encodings
from dlp_proxy.core.normalize import normalize
from dlp_proxy.errors import UndecodableBody

SSN_TEXT = "ssn 219-09-9999"


def decoded_at(text: str, word: str) -> list[str]:
    """What `embedded_encodings` decodes exactly `word` (within `text`) to."""
    return [d for s, e, d in embedded_encodings(text) if text[s:e] == word]


def b64_layers(text: str, layers: int) -> str:
    for _ in range(layers):
        text = base64.b64encode(text.encode()).decode()
    return text


def qp(text: str) -> str:
    return "".join(f"={b:02X}" for b in text.encode())


ENCODERS: dict[str, Callable[[str], str]] = {
    "hex": lambda t: t.encode().hex(),
    "hex upper": lambda t: t.encode().hex().upper(),
    "hex spaced": lambda t: " ".join(f"{b:02x}" for b in t.encode()),
    "hex colons": lambda t: ":".join(f"{b:02X}" for b in t.encode()),
    "hex byte list": lambda t: ", ".join(f"0x{b:02x}" for b in t.encode()),
    "base64": lambda t: base64.b64encode(t.encode()).decode(),
    "base64url unpadded": lambda t: base64.urlsafe_b64encode(t.encode()).decode().rstrip("="),
    "base32": lambda t: base64.b32encode(t.encode()).decode(),
    "base32 unpadded": lambda t: base64.b32encode(t.encode()).decode().rstrip("="),
    "base64 of utf-16le": lambda t: base64.b64encode(t.encode("utf-16-le")).decode(),
    "base64 of gzip": lambda t: base64.b64encode(gzip.compress(t.encode(), mtime=0)).decode(),
    "base64 of zlib": lambda t: base64.b64encode(zlib.compress(t.encode())).decode(),
    "base64 six times": lambda t: b64_layers(t, 6),
    "percent five times": lambda t: _quote_times(t, 5),
    "quoted-printable": qp,
    "c hex escapes": lambda t: "".join(f"\\x{b:02x}" for b in t.encode()),
    "json escapes": lambda t: "".join(f"\\u{ord(c):04x}" for c in t),
    "octal escapes": lambda t: "".join(f"\\{b:03o}" for b in t.encode()),
    "decimal references": lambda t: "".join(f"&#{ord(c)};" for c in t),
    "hex references": lambda t: "".join(f"&#x{ord(c):x};" for c in t),
}


def _quote_times(text: str, times: int) -> str:
    for _ in range(times):
        text = quote(text, safe="")
    return text


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_each_encoding_in_a_sentence_is_decoded_at_its_span(name: str) -> None:
    """Each encoding of an SSN inside a sentence decodes to it, the span covering the word."""
    word = ENCODERS[name](SSN_TEXT)
    text = f"the record {word} was sent"
    found = [d for s, e, d in embedded_encodings(text) if s <= text.index(word) and e >= 11]
    assert any("219-09-9999" in d for d in found), (name, embedded_encodings(text))
    for start, end, decoded in embedded_encodings(text):
        if "219-09-9999" in decoded:
            assert text[start:end].strip() == word


# Text an encoder might carry: letters, digits, punctuation and spaces (no leading or trailing
# space, which no word boundary keeps), long enough for the shortest words we decode.
_TEXT = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="=%&\\<*`~"),
    min_size=12,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(_TEXT, st.sampled_from(sorted(ENCODERS)))
def test_round_trip_finds_the_text_at_the_encoded_word(text: str, name: str) -> None:
    """Encoding random text with each encoding: the decoding holds the text, at the word's span."""
    word = ENCODERS[name](text)
    assume(word != text)  # text that needs no percent-encoding is not encoded
    # Short base64 of letters alone is taken for a word unless it decodes to a number (values.py).
    assume(not (name.startswith("base64") and re.fullmatch(r"[A-Za-z]{1,31}", word)))
    sentence = f"note {word} end"
    start = sentence.index(word)
    spans = {(s, e) for s, e, d in embedded_encodings(sentence) if text in d}
    assert (start, start + len(word)) in spans, (name, word)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_raises_and_spans_stay_inside(text: str) -> None:
    """Any text gives spans within it, in order, or `UndecodableBody`; never anything else."""
    try:
        found = embedded_encodings(text)
    except UndecodableBody:
        return
    for start, end, decoded in found:
        assert 0 <= start < end <= len(text)
        assert isinstance(decoded, str)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=8, max_size=120))
def test_random_bytes_in_base64_or_hex_never_raise(raw: bytes) -> None:
    """Random bytes written as base64 or hex decode to text or to nothing; only bounds raise."""
    for word in (base64.b64encode(raw).decode(), raw.hex()):
        try:
            embedded_encodings(f"blob {word} end")
        except UndecodableBody as e:
            message = str(e)
        else:
            continue
        assert "inflates" in message or "encoded more than" in message


def test_base64_nested_in_free_text_is_decoded_every_layer() -> None:
    """A base64 word whose decoding is a sentence holding base64 again: the SSN is found."""
    inner = "ssn " + base64.b64encode(b"219-09-9999").decode()
    text = "payload " + base64.b64encode(inner.encode()).decode()
    assert "ssn 219-09-9999" in [d for _, _, d in embedded_encodings(text)]


def test_encodings_nested_past_the_layer_limit_fail_closed() -> None:
    """Base64 nested once more than MAX_LAYERS is refused, not passed half-read."""
    ok = b64_layers(SSN_TEXT, encodings.MAX_LAYERS)
    assert any("219-09-9999" in d for _, _, d in embedded_encodings(f"x {ok}"))
    deep = b64_layers(SSN_TEXT, encodings.MAX_LAYERS + 1)
    with pytest.raises(UndecodableBody, match="encoded more than"):
        embedded_encodings(f"x {deep}")


def test_a_compressed_word_that_inflates_too_far_fails_closed() -> None:
    """Base64 of a gzip bomb stops at the inflate bound and refuses the message."""
    bomb = base64.b64encode(gzip.compress(b"0" * (encodings.INFLATE_MAX_BYTES * 2))).decode()
    with pytest.raises(UndecodableBody, match="inflates to more than"):
        embedded_encodings(f"blob {bomb}")


def test_the_budget_is_shared_by_one_message_and_fails_closed_when_spent() -> None:
    """Decoded characters count against one budget across calls; past it, the message fails."""
    budget = DecodeBudget(40)
    word = base64.b64encode(b"ssn 219-09-9999 and more").decode()
    embedded_encodings(f"a {word}", budget)
    assert budget.left < 40
    with pytest.raises(UndecodableBody, match="decode to more than 40 characters"):
        embedded_encodings(f"b {word}", budget)


def test_quoted_printable_with_soft_line_breaks_is_one_word() -> None:
    """`=32=31=39=\\r\\n=2D...` decodes across the soft line break."""
    text = "card =34=35=33=39=\r\n=20=31=34=38=38 ok"
    assert "4539 1488" in [d for _, _, d in embedded_encodings(text)]


def test_spaced_character_references_are_one_run() -> None:
    """References separated by spaces decode together (`&#50;&#49; &#48;`)."""
    text = "ssn &#50;&#49;&#57; &#48;&#57; &#57;&#57;&#57;&#57; ok"
    assert "219 09 9999" in [d for _, _, d in embedded_encodings(text)]


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        ("<p>ssn 219&hyphen;09&minus;9999</p>", "219-09-9999</p>"),  # minus folded too
        ("SSN: <b>219</b>-09-9999</p>", "219-09-9999"),
        ("ssn 219<span>-</span>09<span>-</span>9999", "219-09-9999"),
        ("card 4539<!-- -->1488<!-- x -->0343", "453914880343"),
        ("ssn 219\\-09\\-9999", "219-09-9999"),
        ("ssn **219**-09-9999", "219-09-9999"),
        ("card `4539` `1488` `0343`", "4539 1488 0343"),
    ],
)
def test_markup_and_markdown_between_digits_are_removed(text: str, decoded: str) -> None:
    """Tags, comments, named dashes and Markdown between digits give the digits back."""
    assert decoded in [d for _, _, d in embedded_encodings(text)]


def test_c_escapes_of_utf8_bytes_decode_as_utf8() -> None:
    """`\\xe2\\x80\\x93` is an en dash (folded to a hyphen), as a C string of UTF-8 is."""
    text = "ssn 219\\xe2\\x80\\x9309 and \\xff\\x41"
    assert decoded_at(text, "219\\xe2\\x80\\x9309") == ["219-09"]
    assert decoded_at(text, "\\xff\\x41") == ["\u00ffA"]  # not UTF-8: read as Latin-1


def test_a_data_uri_holding_text_is_an_encoded_word() -> None:
    """`data:text/plain;base64,...` and percent-encoded data URIs are read as their text."""
    b64 = base64.b64encode(b"SSN 219-09-9999").decode()
    for uri in (f"data:text/plain;base64,{b64}", "data:,SSN%20219-09-9999"):
        text = f'<a href="{uri}">x</a>'
        assert decoded_at(text, uri) == ["SSN 219-09-9999"], uri


def test_a_data_uri_image_is_read_for_its_metadata_and_fails_closed_when_unreadable() -> None:
    """A PNG in a data URI gives its text chunks; a PNG that is cut short is refused."""
    from tests.core.codecs.pictures import png, text_chunk

    image = png(text_chunk("Comment", "SSN 219-09-9999"))
    uri = "data:image/png;base64," + base64.b64encode(image).decode()
    assert any("219-09-9999" in d for _, _, d in embedded_encodings(f"img {uri}"))
    broken = "data:image/png;base64," + base64.b64encode(image[:30]).decode()
    with pytest.raises(UndecodableBody):
        embedded_encodings(f"img {broken}")


@pytest.mark.parametrize(
    "text",
    [
        "INC8779414 SKU-35395-BLK 358624067227 1Z999AA10123456784 2026-11-14T11:47:32.000Z",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "fingerprint 16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48",
        "totp JBSWY3DPEHPK3PXP and md5 D41D8CD98F00B204E9800998ECF8427E",
        "Total: <strong>&euro;&#160;1&#x202F;249.00</strong> Ref PO-7731 &amp; Co.",
        "rating=4&comment=quick+fix%2C+thanks&page=help-center",
        "# Printer offline\n**Priority:** high \\- floor 3, run `lpstat -p`",
        "one or two minutes, I called three times, twenty minutes, a one-off",
    ],
)
def test_benign_text_decodes_to_nothing_with_digits_it_did_not_have(text: str) -> None:
    """Ids, hashes, fingerprints, prices in HTML, forms, Markdown and prose hide no new number."""
    for _, _, decoded in embedded_encodings(text):
        digits = "".join(c for c in decoded if c.isdigit())
        assert len(digits) < 7 or digits in "".join(c for c in text if c.isdigit()), decoded


def test_html_unescape_agrees_with_the_references_decoder() -> None:
    """Named references decode as the standard library's HTML parser does, then are folded."""
    text = "a &hyphen;&dash;&minus;&#8209;&copy; b"
    word = "&hyphen;&dash;&minus;&#8209;&copy;"
    assert decoded_at(text, word) == [normalize(html.unescape(word)).text] == ["----©"]


@pytest.mark.parametrize(
    "text",
    [
        "1" + "*" * 5000 + "x",  # Markdown marks that never end in a digit
        "1" + "<!---->" * 5000 + "x",  # comments, each also a tag
        "&#50;" * 20000 + "x",
        "=32" * 20000 + "x",
        "\\x32" * 20000 + "y",
        "A" * 100_000 + "\u00e9",  # a base64-alphabet run that ends in a letter
        "2" * 100_000 + "x",  # a hex run that ends in a letter
        "32:" * 30000 + "x",
        "a" * 100_000 + "%",
        "one two " * 5000,
    ],
)
def test_long_adversarial_runs_are_decoded_in_linear_time(text: str) -> None:
    """No pattern backtracks or restarts inside a long run (a quadratic one would hang here)."""
    embedded_encodings(text)
