"""XML, read with expat and rebuilt by splicing: only the replaced text changes, byte for byte.

Element text, the text after an element (its tail), attribute values, comments and processing
instructions are segments, and so are the names: element and attribute names (prefix and local
name as written), namespace declarations (prefix and URI) and instruction targets. Documents
with a DOCTYPE are refused, and so with it every entity declaration: no entity expansion
(billion laughs, external entities) can happen, and no internal subset reaches a vendor
uninspected.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass
from xml.parsers import expat

from dlp_proxy.core.codecs.tables import short_digits, worth_inspecting
from dlp_proxy.core.codecs.values import MAX_DEPTH, Nest, WordCache, decode, name_location
from dlp_proxy.errors import UndecodableBody

_DECLARED = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z][A-Za-z0-9._-]*)[\"']")
_TAG_NAME = re.compile(rb"<[^\s/>]+")
_ATTRIBUTE = re.compile(rb"\s+[^\s=]+\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)


def xml_encoding(body: bytes, charset: str | None) -> str:
    """The encoding to read an XML body in: its byte-order mark, the charset, the declaration.

    A byte-order mark selects a codec that keeps it as U+FEFF, so it is written back.
    """
    for mark, encoding in _BOMS:
        if body.startswith(mark):
            return encoding
    if charset:
        return charset
    declared = _DECLARED.match(body[:256])
    if declared:
        name = declared.group(1).decode("ascii")
        try:
            codecs.lookup(name)
        except LookupError:
            raise UndecodableBody(f"XML body declares an unknown encoding {name!r}") from None
        return name
    return "utf-8"


@dataclass(slots=True)
class _Item:
    """A piece of text found in the XML, with its span in the UTF-8 form of the document.

    Spans of items that are not `rewritable` are not used.
    """

    kind: str  # "text", "tail", "attr", "ns" (a namespace URI), "comment" or "pi"
    node: int
    start: int
    end: int
    text: str
    context: tuple[str, ...]
    name: str = ""
    quote: str = '"'
    rewritable: bool = True
    analyzed: bool = True  # False: a short number, listed only for joining split identifiers


@dataclass(frozen=True, slots=True)
class _Name:
    """A name found in the XML: an element's or instruction's (`label` "") or an attribute's."""

    node: int
    label: str
    text: str
    context: tuple[str, ...]


class XmlDocument:
    """An XML body (`application/xml`, `text/xml`, `*+xml`).

    Locations are XPath-like, local names only, `[n]` (from 1) where an element has siblings of
    the same name: `xml:/root/customer[2]/ssn` (text), `xml:/root/customer[2]/@id`
    (attribute; a second attribute with the local name `id` is `@id[2]`),
    `xml:/root/p/b/tail()` (text after `<b>`), `xml:/root/comment()` (comment),
    `xml:/root/processing-instruction()` (an instruction's data), `xml:/root/@xmlns:a` and
    `xml:/root/@xmlns` (the URI a namespace declaration binds). A name is located at what it
    names plus `#name`: `xml:/root/customer[2]/ssn#name` is the element's name as written
    (`a:ssn`), `xml:/root/customer[2]/@id#name` the attribute's, `xml:/root/@xmlns:a#name`
    the declaration's (`xmlns:a`), `xml:/root/processing-instruction()#name` the target.
    Fields are the same paths with every `[n]` left out: `xml:/root/customer/ssn`,
    `xml:/root/customer/@id`, `xml:/root/customer/ssn#name`, `xml:/root/p/b/tail()`.
    Context is the element's (for a tail, the parent's), the attribute's local name or the
    instruction's target; a name's is its parent element's.

    Rebuild splices escaped new text into the original, so the declaration, encoding,
    namespaces and formatting stay; characters XML cannot hold become U+FFFD, and those the
    encoding cannot hold become character references. Names cannot be rewritten (`<US_SSN>`
    is no XML name), nor namespace URIs (every element in their scope would change
    namespace), nor instruction data expat reads differently from its bytes: those segments
    are `rewritable=False`.
    """

    def __init__(self, body: bytes, charset: str | None, depth: int = 0) -> None:
        self._encoding = xml_encoding(body, charset)
        self._data = decode(body, self._encoding, "XML").encode("utf-8")
        reader = _Reader(self._data)
        nest = Nest(depth)
        self._items: dict[str, _Item] = {}
        paths, fields = reader.paths(), reader.fields()
        for item in reader.items:
            path, field = paths[item.node], fields[item.node]
            if item.kind == "tail":
                path += "/tail()"
                field += "/tail()"
            elif item.kind in ("attr", "ns"):
                path += f"/@{item.name}"
                field += f"/@{item.name.partition('[')[0]}"  # `id[2]`: no XML name holds `[`
            location = f"xml:{path}"
            if item.rewritable:
                self._items[location] = item
            if item.analyzed:
                nest.value(
                    location,
                    item.text,
                    item.context,
                    field=f"xml:{field}",
                    rewritable=item.rewritable,
                )
            else:
                nest.segment(
                    location,
                    item.text,
                    item.context,
                    field=f"xml:{field}",
                    rewritable=item.rewritable,
                    analyzed=False,
                )
        for name in reader.names:
            path, field = paths[name.node], fields[name.node]
            if name.label:
                path += f"/@{name.label}"
                field += f"/@{name.label.partition('[')[0]}"
            nest.name(
                name_location(f"xml:{path}"),
                name.text,
                name.context,
                field=name_location(f"xml:{field}"),
                rewritable=False,
            )
        self._nest = nest
        self.segments = nest.segments
        self.uninspectable = tuple(nest.uninspectable)

    def rebuild(self, replacements: Mapping[str, str]) -> bytes:
        """The document with the replaced text spliced in, in its original encoding."""
        changed = self._nest.resolve(replacements)
        splices = sorted(((self._items[loc], text) for loc, text in changed.items()), key=_start)
        pieces: list[bytes] = []
        done = 0
        for item, text in splices:
            pieces.append(self._data[done : item.start])
            pieces.append(_escaped(item, text).encode("utf-8"))
            done = item.end
        pieces.append(self._data[done:])
        text = b"".join(pieces).decode("utf-8")
        return text.encode(self._encoding, errors="xmlcharrefreplace")


def _start(splice: tuple[_Item, str]) -> int:
    return splice[0].start


def _escaped(item: _Item, text: str) -> str:
    text = _NOT_XML_CHAR.sub("\ufffd", text)
    if item.kind == "pi":
        while "?>" in text:
            text = text.replace("?>", "? >")
        return text
    if item.kind == "comment":
        while "--" in text:
            text = text.replace("--", "- -")
        return text + " " if text.endswith("-") else text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\r", "&#13;")
    if item.kind == "attr":
        text = text.replace("\n", "&#10;").replace("\t", "&#9;")
        text = text.replace(item.quote, "&quot;" if item.quote == '"' else "&apos;")
    return text


class _Reader:
    """Runs expat over a UTF-8 document and collects its elements and text items."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.nodes: list[tuple[int, str, int]] = []  # parent, local name, ordinal among name
        self.items: list[_Item] = []
        self.names: list[_Name] = []
        self._counts: dict[tuple[int, str], int] = {}
        self._open: list[int] = []
        self._last: list[int | None] = []  # per open element, its last closed child
        self._contexts: list[tuple[str, ...]] = []
        self._words = WordCache()
        self._text_start: int | None = None
        self._text: list[str] = []
        parser = expat.ParserCreate("utf-8")  # the data is UTF-8 whatever the declaration says
        parser.ordered_attributes = True
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._refuse
        parser.EntityDeclHandler = self._refuse
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._characters
        parser.StartCdataSectionHandler = self._cdata
        parser.CommentHandler = self._comment
        parser.ProcessingInstructionHandler = self._instruction
        self._parser = parser
        try:
            parser.Parse(data, True)
        except expat.ExpatError as e:
            raise UndecodableBody(
                f"XML body does not parse: {expat.ErrorString(e.code)} "
                f"at line {e.lineno} column {e.offset}"
            ) from None

    def paths(self) -> list[str]:
        """The path of every node: `/a/b[2]/c`, an index only where a name repeats."""
        paths: list[str] = []
        for parent, name, ordinal in self.nodes:
            index = f"[{ordinal}]" if self._counts[(parent, name)] > 1 else ""
            paths.append(f"{paths[parent] if parent >= 0 else ''}/{name}{index}")
        return paths

    def fields(self) -> list[str]:
        """The field of every node: its path without indexes, `/a/b/c`."""
        fields: list[str] = []
        for parent, name, _ in self.nodes:
            fields.append(f"{fields[parent] if parent >= 0 else ''}/{name}")
        return fields

    def _refuse(self, *_: object) -> None:
        raise UndecodableBody(
            "XML body has a DOCTYPE declaration: documents with DTDs or entities are not inspected"
        )

    def _node(self, name: str, context: tuple[str, ...] = ()) -> int:
        parent = self._open[-1] if self._open else -1
        ordinal = self._counts.get((parent, name), 0) + 1
        self._counts[(parent, name)] = ordinal
        self.nodes.append((parent, name, ordinal))
        self._contexts.append(context)
        return len(self.nodes) - 1

    def _start(self, name: str, attributes: list[str]) -> None:
        index = self._parser.CurrentByteIndex
        self._flush(index)
        if len(self._open) >= MAX_DEPTH:
            raise UndecodableBody(
                f"XML body is nested too deeply to inspect (over {MAX_DEPTH} levels)"
            )
        local = name.rpartition(":")[2]
        node = self._node(local, self._words[local])
        self.names.append(_Name(node, "", name, self._parent_context()))
        if attributes:
            self._attributes(node, index, attributes)
        self._open.append(node)
        self._last.append(None)

    def _attributes(self, node: int, index: int, attributes: list[str]) -> None:
        """Find each attribute's value in the start tag expat has just accepted.

        Every attribute's name is a name; a namespace declaration is labelled as written
        (`xmlns:a`), any other attribute by its local name, `[n]` from the second of a name on.
        """
        tag = _TAG_NAME.match(self._data, index)
        position = tag.end() if tag else index
        names = attributes[::2]
        taken: set[str] = {"xmlns"} if "xmlns" in names else set()
        element = self._contexts[node]
        for name, value in zip(names, attributes[1::2], strict=True):
            match = _ATTRIBUTE.match(self._data, position)
            if match is None:  # cannot happen for a tag expat accepted; refuse rather than guess
                raise UndecodableBody("XML body has a start tag that cannot be read back")
            position = match.end()
            declaration = name == "xmlns" or name.startswith("xmlns:")
            local = "xmlns" if declaration else name.rpartition(":")[2]
            label = name if declaration else self._label(local, taken)
            self.names.append(_Name(node, label, name, element))
            short = not worth_inspecting(value) and short_digits(value)
            if not worth_inspecting(value) and not short:
                continue
            group = 1 if match.group(1) is not None else 2
            start, end = match.span(group)
            quote = '"' if group == 1 else "'"
            kind = "ns" if declaration else "attr"
            item = _Item(kind, node, start, end, value, self._words[local], label, quote)
            item.rewritable = not declaration
            item.analyzed = not short
            self.items.append(item)

    @staticmethod
    def _label(local: str, taken: set[str]) -> str:
        """`local`, or `local[2]`, `local[3]` ... when an attribute of the tag has it already."""
        label, n = local, 1
        while label in taken:
            n += 1
            label = f"{local}[{n}]"
        taken.add(label)
        return label

    def _parent_context(self) -> tuple[str, ...]:
        """The context of the open element (a new node's parent), or () outside the root."""
        return self._contexts[self._open[-1]] if self._open else ()

    def _end(self, _name: str) -> None:
        self._flush(self._parser.CurrentByteIndex)
        node = self._open.pop()
        self._last.pop()
        if self._last:
            self._last[-1] = node

    def _characters(self, data: str) -> None:
        if self._text_start is None:
            self._text_start = self._parser.CurrentByteIndex
        self._text.append(data)

    def _cdata(self) -> None:
        if self._text_start is None:
            self._text_start = self._parser.CurrentByteIndex

    def _comment(self, data: str) -> None:
        index = self._parser.CurrentByteIndex
        self._flush(index)
        node = self._node("comment()")
        if worth_inspecting(data):
            end = self._data.find(b"-->", index + 4)
            self.items.append(_Item("comment", node, index + 4, end, data, ()))
        if self._last:
            self._last[-1] = node

    def _instruction(self, target: str, data: str) -> None:
        index = self._parser.CurrentByteIndex
        self._flush(index)
        node = self._node("processing-instruction()")
        self.names.append(_Name(node, "", target, self._parent_context()))
        if worth_inspecting(data):
            start = index + 2 + len(target.encode("utf-8"))
            while self._data[start : start + 1] in (b" ", b"\t", b"\r", b"\n"):
                start += 1
            end = self._data.find(b"?>", start)
            item = _Item("pi", node, start, end, data, self._words[target])
            # expat reads line ends as LF: data written otherwise cannot be spliced back whole.
            item.rewritable = self._data[start:end].decode("utf-8") == data
            self.items.append(item)
        if self._last:
            self._last[-1] = node

    def _flush(self, end: int) -> None:
        """Close the text that ran up to `end`: the open element's text, or a child's tail."""
        start, parts = self._text_start, self._text
        if start is None:
            return
        self._text_start, self._text = None, []
        text = "".join(parts)
        short = not worth_inspecting(text) and short_digits(text)
        if not self._open or not (worth_inspecting(text) or short):
            return  # outside the root element only whitespace is allowed
        element, last = self._open[-1], self._last[-1]
        context = self._contexts[element]
        if last is None:
            item = _Item("text", element, start, end, text, context)
        else:
            item = _Item("tail", last, start, end, text, context)
        item.analyzed = not short
        self.items.append(item)
