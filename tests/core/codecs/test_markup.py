"""Tests for dlp_proxy/core/codecs/markup.py: XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlp_proxy.core.codecs import (
    XmlDocument,
    parse_body,
)
from dlp_proxy.errors import UndecodableBody
from tests.core.codecs.support import (
    XmlTree,
    by_location,
    names_only,
    pick_replacements,
    rewritable,
    values_only,
    write_xml,
    xml_replacement_texts,
    xml_trees,
)

XML_BODY = (
    b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'
    b'<root xmlns:a="urn:x">\n'
    b'  <customer id="C-1234567" kind="vip"><a:ssn>078-05-1120</a:ssn>'
    b"<name>Zo\xeb &amp; co</name><age>42</age></customer>\n"
    b"  <customer><p>Hi <b>there</b> Maria &lt;m@x.example&gt;"
    b"<!-- card 4111111111111111 --></p></customer>\n"
    b"</root>"
)


def test_xml_segments_locations_and_context() -> None:
    """Text, tails, attributes and comments are segments located by local names."""
    doc = parse_body("application/xml", XML_BODY)
    assert isinstance(doc, XmlDocument)
    assert [(s.location, s.text, s.context) for s in values_only(doc.segments)] == [
        ("xml:/root/@xmlns:a", "urn:x", ("xmlns",)),
        ("xml:/root/customer[1]/@id", "C-1234567", ("id",)),
        ("xml:/root/customer[1]/@kind", "vip", ("kind",)),
        ("xml:/root/customer[1]/ssn", "078-05-1120", ("ssn",)),
        ("xml:/root/customer[1]/name", "Zoë & co", ("name",)),
        ("xml:/root/customer[2]/p", "Hi ", ("p",)),
        ("xml:/root/customer[2]/p/b", "there", ("b",)),
        ("xml:/root/customer[2]/p/b/tail()", " Maria <m@x.example>", ("p",)),
        ("xml:/root/customer[2]/p/comment()", " card 4111111111111111 ", ()),
    ]


def test_xml_rebuild_splices_in_escaped_text_and_keeps_everything_else() -> None:
    """Only replaced text changes: declaration, encoding, namespaces and layout stay."""
    doc = parse_body("application/xml", XML_BODY)
    assert doc.rebuild({}) == XML_BODY
    rebuilt = doc.rebuild(
        {
            "xml:/root/customer[1]/name": "Zoë € <&>",
            "xml:/root/customer[1]/@id": "a\"b'\nc",
            "xml:/root/customer[2]/p/b/tail()": " M <E>\r",
            "xml:/root/customer[2]/p/comment()": "<C--C>-",
        }
    )
    assert rebuilt == (
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        b'<root xmlns:a="urn:x">\n'
        b'  <customer id="a&quot;b\'&#10;c" kind="vip"><a:ssn>078-05-1120</a:ssn>'
        b"<name>Zo\xeb &#8364; &lt;&amp;&gt;</name><age>42</age></customer>\n"
        b"  <customer><p>Hi <b>there</b> M &lt;E&gt;&#13;"
        b"<!--<C- -C>- --></p></customer>\n"
        b"</root>"
    )
    again = by_location(values_only(parse_body("application/xml", rebuilt).segments))
    assert again["xml:/root/customer[1]/@id"] == "a\"b'\nc"
    assert again["xml:/root/customer[2]/p/b/tail()"] == " M <E>\r"


def test_xml_repeated_names_and_namespaced_attributes_get_distinct_locations() -> None:
    """Same-named siblings are indexed from 1; two attributes with one local name too."""
    body = (
        b'<r xmlns:p="urn:p" xmlns:q="urn:q">'
        b'<a>x1</a><b>y</b><a>x2</a><c p:id="A-1" q:id="B-2"/></r>'
    )
    doc = parse_body("text/xml", body)
    assert by_location(values_only(doc.segments)) == {
        "xml:/r/@xmlns:p": "urn:p",
        "xml:/r/@xmlns:q": "urn:q",
        "xml:/r/a[1]": "x1",
        "xml:/r/b": "y",
        "xml:/r/a[2]": "x2",
        "xml:/r/c/@id": "A-1",
        "xml:/r/c/@id[2]": "B-2",
    }


def test_xml_cdata_and_character_references_are_read_and_replaced_whole() -> None:
    """Text with entities and CDATA reads decoded; its replacement is plain escaped text."""
    doc = parse_body("application/soap+xml", b"<r><n>a &amp; <![CDATA[<b>]]> &#67;</n></r>")
    assert by_location(values_only(doc.segments)) == {"xml:/r/n": "a & <b> C"}
    assert doc.rebuild({"xml:/r/n": "x<y"}) == b"<r><n>x&lt;y</n></r>"


def test_xml_replacement_characters_xml_cannot_hold_become_u_fffd() -> None:
    """Control characters in a replacement cannot make the document invalid."""
    doc = parse_body("application/xml", b"<r>abc</r>")
    rebuilt = doc.rebuild({"xml:/r": "a\x00b\x1bc"})
    assert ET.fromstring(rebuilt).text == "a\ufffdb\ufffdc"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_xml_in_utf16_or_with_a_bom_round_trips(encoding: str) -> None:
    """The byte-order mark and encoding are kept; untouched, the body is unchanged."""
    text = '<?xml version="1.0" encoding="UTF-16"?><r><ssn>078-05-1120</ssn></r>'
    body = text.encode(encoding)
    if encoding == "utf-16-be":
        body = b"\xfe\xff" + body
    doc = parse_body("application/xml", body)
    assert by_location(values_only(doc.segments)) == {"xml:/r/ssn": "078-05-1120"}
    assert doc.rebuild({}) == body
    rebuilt = doc.rebuild({"xml:/r/ssn": "<SSN>"})
    assert rebuilt[:2] == body[:2]
    assert by_location(values_only(parse_body("application/xml", rebuilt).segments)) == {
        "xml:/r/ssn": "<SSN>"
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b"<r>&b;</r>",
            "XML body has a DOCTYPE declaration",
        ),
        (
            b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
            "XML body has a DOCTYPE declaration",
        ),
        (b"<r>&nope;</r>", "XML body does not parse: undefined entity at line 1 column 3"),
        (b"<r><a></r>", "XML body does not parse: mismatched tag at line 1 column 8"),
        (b"<a>" * 101 + b"</a>" * 101, "XML body is nested too deeply to inspect"),
        (
            b'<?xml version="1.0" encoding="klingon"?><r/>',
            "XML body declares an unknown encoding 'klingon'",
        ),
        (b"<r>\xff</r>", r"XML body is not valid utf-8 \(byte 3\)"),
    ],
    ids=[
        "entity-expansion",
        "external-entity",
        "undefined-entity",
        "syntax",
        "too-deep",
        "unknown-encoding",
        "not-utf8",
    ],
)
def test_invalid_or_unsafe_xml_is_undecodable(body: bytes, message: str) -> None:
    """DTDs and entities are refused; malformed or too deep XML is undecodable, saying why."""
    with pytest.raises(UndecodableBody, match=message):
        parse_body("application/xml", body)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(tree=xml_trees(), data=st.data())
def test_xml_round_trip(tree: XmlTree, data: st.DataObject) -> None:
    """Any XML rebuilds well-formed with the same elements; replacements read back exactly."""
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + write_xml(tree, root=True)).encode()
    doc = parse_body("application/xml", body)
    assert doc.rebuild({}) == body
    assert len(by_location(doc.segments)) == len(doc.segments)
    original = by_location(values_only(doc.segments))
    replacements = pick_replacements(data, list(rewritable(doc.segments)), xml_replacement_texts)
    rebuilt = doc.rebuild(replacements)
    assert rebuilt.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert [e.tag for e in ET.fromstring(rebuilt).iter()] == [
        e.tag for e in ET.fromstring(body).iter()
    ]
    again = parse_body("application/xml", rebuilt)
    assert by_location(values_only(again.segments)) == {**original, **replacements}


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(tree=xml_trees())
def test_xml_field_is_the_location_without_indexes(tree: XmlTree) -> None:
    """For any XML document, every segment's field is its location with each `[n]` removed."""
    doc = parse_body("application/xml", write_xml(tree, root=True).encode())
    assert doc.segments
    for segment in doc.segments:
        assert segment.field == re.sub(r"\[\d+\]", "", segment.location)


# --- names, namespaces, processing instructions -----------------------------------------------

NAMED_XML = (
    b'<?xml version="1.0"?>\n<?app-078-05-1120 data 219-09-9999?>'
    b'<r xmlns="urn:default" xmlns:x078-05-1120="urn:ssn:078-05-1120" blank="" x078-05-1120:id="7">'
    b"<x078-05-1120:ssn>v</x078-05-1120:ssn><!-- note --></r>"
)


def test_xml_names_namespaces_and_instructions_are_segments() -> None:
    """Element, attribute and declaration names, namespace URIs and PI targets are inspected."""
    doc = parse_body("application/xml", NAMED_XML)
    assert [(s.location, s.text, s.rewritable) for s in values_only(doc.segments)] == [
        ("xml:/processing-instruction()", "data 219-09-9999", True),
        ("xml:/r/@xmlns", "urn:default", False),
        ("xml:/r/@xmlns:x078-05-1120", "urn:ssn:078-05-1120", False),
        ("xml:/r/ssn", "v", True),
        ("xml:/r/comment()", " note ", True),
    ]
    assert [(s.location, s.text, s.context, s.field) for s in names_only(doc.segments)] == [
        (
            "xml:/processing-instruction()#name",
            "app-078-05-1120",
            (),
            "xml:/processing-instruction()#name",
        ),
        ("xml:/r#name", "r", (), "xml:/r#name"),
        ("xml:/r/@xmlns#name", "xmlns", ("r",), "xml:/r/@xmlns#name"),
        (
            "xml:/r/@xmlns:x078-05-1120#name",
            "xmlns:x078-05-1120",
            ("r",),
            "xml:/r/@xmlns:x078-05-1120#name",
        ),
        ("xml:/r/@blank#name", "blank", ("r",), "xml:/r/@blank#name"),  # whatever the value
        ("xml:/r/@id#name", "x078-05-1120:id", ("r",), "xml:/r/@id#name"),
        ("xml:/r/ssn#name", "x078-05-1120:ssn", ("r",), "xml:/r/ssn#name"),
    ]
    assert not any(s.rewritable for s in names_only(doc.segments))


@pytest.mark.parametrize(
    "location",
    ["xml:/r#name", "xml:/r/ssn#name", "xml:/r/@id#name", "xml:/r/@xmlns:x078-05-1120"],
)
def test_xml_names_and_namespaces_take_no_replacement(location: str) -> None:
    """A tag renamed `<US_SSN>` would be no XML: names (and namespace URIs) are never rewritten."""
    doc = parse_body("application/xml", NAMED_XML)
    with pytest.raises(KeyError, match="no segment at"):
        doc.rebuild({location: "x"})


def test_xml_instruction_data_is_rewritten_and_cannot_end_early() -> None:
    """PI data is spliced like text; a `?>` in the replacement cannot close the instruction."""
    doc = parse_body("application/xml", NAMED_XML)
    rebuilt = doc.rebuild({"xml:/processing-instruction()": "a ?> <b>"})
    assert rebuilt == NAMED_XML.replace(b"data 219-09-9999?>", b"a ? > <b>?>")
    assert (
        by_location(values_only(parse_body("application/xml", rebuilt).segments))[
            "xml:/processing-instruction()"
        ]
        == "a ? > <b>"
    )


def test_xml_instruction_data_expat_reads_otherwise_is_not_rewritten() -> None:
    """Data with CRLF (read as LF) cannot be spliced back whole: it is inspected, not rewritten."""
    doc = parse_body("application/xml", b"<r><?t a\r\nb?></r>")
    [pi] = values_only(doc.segments)
    assert (pi.location, pi.text, pi.rewritable) == (
        "xml:/r/processing-instruction()",
        "a\nb",
        False,
    )


def test_xml_attributes_are_numbered_whatever_their_values() -> None:
    """`@id[2]` is the second attribute named `id`, even when the first has nothing to inspect."""
    doc = parse_body("application/xml", b'<r xmlns:p="urn:p" xmlns:q="urn:q" p:id="" q:id="B-2"/>')
    assert by_location(values_only(doc.segments))["xml:/r/@id[2]"] == "B-2"
    assert by_location(names_only(doc.segments))["xml:/r/@id#name"] == "p:id"
    assert by_location(names_only(doc.segments))["xml:/r/@id[2]#name"] == "q:id"


def qualified_names(tree: XmlTree) -> set[str]:
    """Every element and attribute name in a tree, as written."""
    name, attributes, _, children = tree
    return {name, *attributes}.union(*(qualified_names(child) for child, _ in children))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(tree=xml_trees())
def test_every_xml_name_is_a_name_segment(tree: XmlTree) -> None:
    """For any XML document, each element and attribute name as written is a name's text."""
    doc = parse_body("application/xml", write_xml(tree, root=True).encode())
    names = {s.text for s in names_only(doc.segments)}
    assert names == qualified_names(tree) | {"xmlns:x", "xmlns:y"}
