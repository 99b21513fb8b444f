r"""Content codecs: turn a body into text segments to inspect, and rebuild it after changes.

Each document knows its format. `segments` lists every piece of text worth inspecting, with a
location and context words (the field names). `rebuild` takes replacement texts by location and
returns a body of the same format and structure; what was not replaced stays byte for byte
where the format allows it (a body nothing is replaced in is never rebuilt: it is forwarded).
`uninspectable` lists the locations of parts that could not be read, such as an image uploaded
in a multipart form; it is empty for most documents.

Locations, by format (indexes from 0, except XML's XPath-style `[n]`):

    JSON          $.customer.ssn   $.items[0]   $["key with space"]
    NDJSON        l3>$.email                  (record 3, then a JSON path)
    CSV, TSV      csv:r12.c3                  (row 12 counting the header, column 3)
    XML           xml:/root/customer[2]/ssn   xml:/root/customer[2]/@id   xml:/root/p/b/tail()
    form          form:email   form:tag[1]    (the second `tag` field)
    multipart     multipart:comment   multipart:file>csv:r3.c2
    text          text:0                      (chunks of about TEXT_CHUNK_CHARS)
    query         query:q
    URL path      path:1                      (`/customers/maria%40example.com`: the address)
    headers       header:x-customer-email

A value that holds a document of its own (JSON text in a JSON string, percent-encoded text,
base64 of text) is a nested document: its segments take the value's place, located
`value>inner`, e.g. `$.payload>$.customer.ssn`, `$.next>url>text:0` (`url2`, `url3` for text
encoded two or three times), `$.blob>b64>text:0`. The separator `>` (`SEP`) never appears in
a location of one document, so a location splits at its first `>`: JSON paths have it only in
quoted keys, written there as `\u003e`; form, multipart and header names holding it have it
written `%3E`; XML names and the numbered locations cannot hold it. Documents are nested
`MAX_NESTING` deep at most; deeper values are plain text.

Each segment also has a `field`, for policies that name fields rather than places: its location
with what is particular to one record, repeat or chunk left out, so that every value of one
field in a document shares it:

    JSON          $.customers[*].email        (every list index `[*]`; quoted keys as located)
    NDJSON        $.items[*].sku              (the record number dropped)
    CSV, TSV      csv:email   csv:c3          (the header's name, stripped, `>` written `%3E`;
                                               `c<column>` with no header, an empty name, or
                                               past the header's last column)
    XML           xml:/root/customer/ssn   xml:/root/customer/@id   xml:/root/p/b/tail()
                                              (every `[n]` dropped, an attribute's too)
    form          form:tag                    (every `tag`, the repeats `form:tag[1]` ... too)
    multipart     multipart:file   multipart:file>csv:email   multipart:[0]  (unnamed: kept)
    text          text
    query         query:q
    URL path      path:1                      (the position is what names the value)
    headers       header:x-customer-email

A nested document's fields follow its value's field the same way: `$.payload>$.customer.ssn`,
`$.items[*].note>url>text`, `$.blob>b64>text`, `multipart:file>csv:email`. Names are written as
in locations, so a field too splits at its first `>`.

Import from here. The modules behind it: `parse` chooses the document for a body and holds the
JSON and text documents; `values` what every format shares (segments' places, nested documents,
JSON and text nodes, the percent-encoding and base64 layers); `tables` CSV, TSV and NDJSON;
`markup` XML; `multipart` multipart bodies; `fields` forms, query strings, headers and the path.
"""

from dlp_proxy.core.codecs.fields import (
    UNINSPECTED_HEADERS,
    FormDocument,
    HeadersDocument,
    PathDocument,
    QueryDocument,
)
from dlp_proxy.core.codecs.markup import XmlDocument
from dlp_proxy.core.codecs.multipart import MultipartDocument
from dlp_proxy.core.codecs.parse import (
    Document,
    JsonDocument,
    TextDocument,
    parse_body,
    parse_headers,
    parse_path,
    parse_query,
)
from dlp_proxy.core.codecs.tables import CsvDocument, NdjsonDocument
from dlp_proxy.core.codecs.values import (
    IDENTIFIER_DIGITS,
    MAX_DEPTH,
    MAX_NESTING,
    NAME_MARK,
    SEP,
    TEXT_CHUNK_CHARS,
    context_words,
)
from dlp_proxy.core.codecs.whole import WHOLE_FIELD, WHOLE_PREFIX, whole_text_segments
from dlp_proxy.detection.detector import Segment

__all__ = [
    "IDENTIFIER_DIGITS",
    "MAX_DEPTH",
    "MAX_NESTING",
    "NAME_MARK",
    "SEP",
    "TEXT_CHUNK_CHARS",
    "UNINSPECTED_HEADERS",
    "WHOLE_FIELD",
    "WHOLE_PREFIX",
    "CsvDocument",
    "Document",
    "FormDocument",
    "HeadersDocument",
    "JsonDocument",
    "MultipartDocument",
    "NdjsonDocument",
    "PathDocument",
    "QueryDocument",
    "Segment",
    "TextDocument",
    "XmlDocument",
    "context_words",
    "parse_body",
    "parse_headers",
    "parse_path",
    "parse_query",
    "whole_text_segments",
]
