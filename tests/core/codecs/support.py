"""Helpers shared by the codecs' tests: bodies, strategies and replacement texts."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from hypothesis import strategies as st

from dlp_proxy.core.codecs import NAME_MARK, Segment

FORM = "application/x-www-form-urlencoded"


def by_location(segments: tuple[Segment, ...]) -> dict[str, str]:
    """Segment texts keyed by location."""
    return {s.location: s.text for s in segments}


def values_only(segments: tuple[Segment, ...]) -> tuple[Segment, ...]:
    """The values recognizers read: no name (`#name`), multipart header, filename or preamble,
    and no short number listed only for joining split identifiers (`analyzed=False`).

    No location holds `#` but those marks: names holding it are written `%23` or `\\u0023`.
    """
    return tuple(s for s in segments if "#" not in s.location and s.analyzed)


def names_only(segments: tuple[Segment, ...]) -> tuple[Segment, ...]:
    """The segments that are names (`...#name`) or inside one (`...#name>url>text:0`)."""
    return tuple(
        s for s in segments if s.location.endswith(NAME_MARK) or NAME_MARK + ">" in s.location
    )


def rewritable(segments: tuple[Segment, ...]) -> dict[str, str]:
    """The texts of the segments a replacement may be given for, by location."""
    return {s.location: s.text for s in segments if s.rewritable}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def shape(value: Any) -> Any:
    """The structure of a JSON value: its keys and list lengths, with leaves blanked."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return None


# Replacement texts that can never read as a nested document: no '%', and they start with '<'.
replacement_texts = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="%")
).map(lambda s: "<X>" + s)
# The same, with only characters XML 1.0 can hold.
xml_safe_characters = st.characters(
    exclude_categories=("Cs", "Cc"), exclude_characters="%\ufffe\uffff", include_characters="\t\n\r"
)
xml_replacement_texts = st.text(alphabet=xml_safe_characters).map(lambda s: "<X>" + s)


def pick_replacements(
    data: st.DataObject, locations: list[str], texts: st.SearchStrategy[str] = replacement_texts
) -> dict[str, str]:
    """A random subset of `locations`, each with a drawn replacement text."""
    chosen = data.draw(
        st.lists(st.sampled_from(sorted(locations)), unique=True) if locations else st.just([])
    )
    return {location: data.draw(texts, label=location) for location in chosen}


def json_body(value: Any) -> bytes:
    """`value` as a JSON body."""
    return json.dumps(value).encode()


BOUNDARY = "----WebKitFormBoundary7MA4YWxkTrZu0gW"


def multipart(*parts: bytes, boundary: str = BOUNDARY, newline: bytes = b"\r\n") -> bytes:
    """A multipart body of `parts` (each its headers, a blank line and its content)."""
    delimiter = b"--" + boundary.encode()
    inner = (newline + delimiter + newline).join(parts)
    return delimiter + newline + inner + newline + delimiter + b"--" + newline


UPLOAD = multipart(
    b'Content-Disposition: form-data; name="email"\r\n\r\nmaria@example.com',
    b'Content-Disposition: form-data; name="file"; filename="export.csv"\r\n'
    b"Content-Type: text/csv\r\nContent-Length: 38\r\n\r\n"
    b"name,ssn\r\nMaria Gonzalez,078-05-1120\r\n",
    b'Content-Disposition: form-data; name="photo"; filename="a.png"\r\n'
    b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\x00\xff",
    b'Content-Disposition: form-data; name="meta"; filename="m.json"\r\n\r\n'
    b'{"customer": {"phone": "+1 555-010-0199"}}',
    b'Content-Disposition: form-data; name="empty"\r\n\r\n',
)
UPLOAD_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


cell_texts = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="%{["), max_size=12
)


@st.composite
def csv_tables(draw: st.DrawFn) -> tuple[list[list[str]], str, str]:
    """A header of 2-4 names, up to 6 rows of any text, a delimiter and a line ending."""
    columns = draw(st.integers(2, 4))
    names = draw(
        st.lists(
            st.from_regex(r"[a-z]{1,8}", fullmatch=True),
            min_size=columns,
            max_size=columns,
            unique=True,
        )
    )
    rows = draw(st.lists(st.lists(cell_texts, min_size=columns, max_size=columns), max_size=6))
    return [names, *rows], draw(st.sampled_from(",;\t|")), draw(st.sampled_from(["\r\n", "\n"]))


def write_csv(rows: list[list[str]], delimiter: str, ending: str) -> str:
    """Rows as csv.writer writes them, each quoted as a CRLF writer would, ended by `ending`."""
    lines = []
    for row in rows:
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerow(row)
        lines.append(out.getvalue()[:-2] + ending)
    return "".join(lines)


xml_texts = st.text(alphabet=xml_safe_characters, max_size=10)
XmlTree = tuple[str, dict[str, str], str, list[tuple[Any, str]]]


@st.composite
def xml_trees(draw: st.DrawFn, depth: int = 0) -> XmlTree:
    """An element: a name, attributes, text, and children each with the text after it."""
    name = draw(st.sampled_from(["a", "b", "customer", "ssn", "x:item"]))
    attributes = draw(
        st.dictionaries(st.sampled_from(["id", "kind", "y:id"]), xml_texts, max_size=3)
    )
    text = draw(xml_texts)
    children = draw(st.lists(xml_trees(depth + 1), max_size=3)) if depth < 3 else []
    return name, attributes, text, [(child, draw(xml_texts)) for child in children]


def xml_escape(text: str, quote_char: str = "") -> str:
    """`text` escaped for XML content (or for an attribute quoted with `quote_char`)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\r", "&#13;")
    if quote_char:
        text = text.replace("\n", "&#10;").replace("\t", "&#9;").replace('"', "&quot;")
    return text


def write_xml(tree: XmlTree, root: bool = False) -> str:
    """An element tree as XML text; the root declares the `x` and `y` namespaces."""
    name, attributes, text, children = tree
    declared = ' xmlns:x="urn:x" xmlns:y="urn:y"' if root else ""
    attrs = "".join(f' {k}="{xml_escape(v, quote_char=chr(34))}"' for k, v in attributes.items())
    inner = xml_escape(text) + "".join(write_xml(c) + xml_escape(t) for c, t in children)
    return f"<{name}{declared}{attrs}>{inner}</{name}>"


def fields_by_location(segments: tuple[Segment, ...]) -> dict[str, str]:
    """Segment fields keyed by location."""
    return {s.location: s.field for s in segments}
