r"""Content codecs: turn a body into text segments to inspect, and rebuild it after changes.

Each document knows its format. `segments` lists every piece of text worth inspecting, with a
location and context words (the field names). `rebuild` takes replacement texts by location and
returns a body of the same format and structure; what was not replaced stays byte for byte
where the format allows it (a body nothing is replaced in is never rebuilt: it is forwarded).
`uninspectable` lists the locations of parts that could not be read, such as a PDF uploaded in
a multipart form or binary bytes after an image's end; it is empty for most documents.

Locations, by format (indexes from 0, except XML's XPath-style `[n]`):

    JSON          $.customer.ssn   $.items[0]   $["key with space"]   $.a[dup1] (a key's repeat)
                  $.customer.ssn#name         (the key `ssn`, whatever its value)
    NDJSON        l3>$.email   l3>$.email#name   (record 3, then a JSON path)
    CSV, TSV      csv:r12.c3                  (row 12 counting the header, column 3)
                  csv:c3#name                 (the header's name of column 3)
    XML           xml:/root/customer[2]/ssn   xml:/root/customer[2]/@id   xml:/root/p/b/tail()
                  xml:/root/comment()   xml:/root/processing-instruction()   xml:/root/@xmlns:a
                  xml:/root/customer[2]/ssn#name   xml:/root/customer[2]/@id#name   (names)
    form          form:email   form:tag[1]    (the second `tag` field)   form:email#name
    multipart     multipart:comment   multipart:file>csv:r3.c2   multipart:file#name
                  multipart:file#filename   multipart:file#header:x-note   (...#name: its name)
                  multipart:#preamble   multipart:#epilogue
    text          text:0                      (chunks of about TEXT_CHUNK_CHARS)
    query         query:q   query:q#name   query:219099999#name   (`?219099999`: a bare name)
    URL path      path:1                      (`/customers/maria%40example.com`: the address)
                  path:1;ssn   path:1;ssn#name (matrix parameters)   fragment
    host          host:0                      (each DNS label of the request's host)
    headers       header:x-customer-email   header:x-customer-email#name
                  header:cookie>cookie:sid   header:authorization>basic:user
                  header:authorization>jwt:payload>$.sub   header:referer>query:email
                  header:host>host:0   header:x-forwarded-for>item:0   (see `headers`)
    PNG           png:tEXt[0]   png:tEXt[0]#name (its keyword)   png:zTXt[0]   png:iTXt[0]
                  png:iTXt[0]#language   png:iTXt[0]#translated   png:exif:0x9286   png:prVt[0]
    JPEG          jpeg:COM[0]   jpeg:exif:0x010e   jpeg:exif:gps:0x001b   jpeg:xmp
                  jpeg:xmp-extended   jpeg:iptc:2:120   jpeg:APP12[0]
    GIF, WebP     gif:comment[0]   gif:text[0]   gif:xmp   gif:app[0]   webp:exif:0x013b   webp:xmp
    after images  png:trailer>text:0   jpeg:trailer>jpeg:COM[0]   (bytes after IEND, EOI ...)
    protobuf      pb:1.3[2]   (field 3, its third occurrence, in field 1)   pb:1 (its text) and
                  pb:1.3 (its nested message) for a field read both ways   pb:4#sint   pb:4#int
                  pb:4#double (a number's other readings)   pb:5#packed[2]   pb:2>$.ssn
    gRPC          grpc:m0>pb:1.3[2]   (message 0)   grpc:m0>$.ssn (+json)   grpc:m2 (a gRPC-web
                  trailer frame)   grpc:m0#gzip[0] (a gzip header's file name or comment)
    zip, office   zip:data/customers.csv>csv:r3.c2   zip:word/document.xml>xml:/document/body/p/r/t
                  zip:a.zip>zip:b.txt>text:0   (nested)   zip:b.txt#name   zip:b.txt#comment
                  zip:b.txt#extra   zip:#comment   zip:#gap[0]   (text outside every entry)
                  zip:word/document.xml#text:0   (paragraphs joined where runs split a number)
    PDF           pdf:page:3>text:0   pdf:page:3>annot:0/Contents   pdf:info:/Author
                  pdf:info:/Author#name   pdf:xmp>xml:/xmpmeta/...   pdf:field:ssn   pdf:outline:0
                  pdf:attachment:list.csv>csv:r1.c2
    gzip, zstd    gzip>text:0   gzip>$.customer.ssn   gzip#header:0 (a member's file name, comment)
    files         zstd>csv:r2.c1                (a compressed file as a body: `compressed`)
    other         whole:json>$.tin   whole:xml>xml:/c/tin   whole:form>form:tin   whole:utf-8
    readings      whole:utf-16-le   whole:ebcdic   whole:utf-7   whole:gzip-header:0 (`whole`)

An image's segments are its metadata (text chunks, comments, EXIF, XMP, IPTC): pixels are never
read, nor OCR'd, and only the texts of PNG text chunks and JPEG comments are `rewritable`. Bodies
of no type or `application/octet-stream` are sniffed: an image, archive, PDF or gzip or zstd
file by its magic number, text in UTF-16 or UTF-32 by its byte order mark or NUL bytes
(`sniff_text`), rebuilt in that charset; text that is not UTF-8 as Windows-1252 or Latin-1.

Names are inspected as values are: a JSON key, a CSV header cell, an XML element's, attribute's
or instruction's name, a multipart field name or header name is a segment at `NAME_MARK` after
the location of what it names (`name_location`), with its parent's context. Segments list the
values first, then the names. A name the same as an earlier one of its field (the same key in
every record of a list) is inspected once and rewritten wherever it is. Names that cannot be
rewritten (XML names, multipart header names) are `rewritable=False`; a rewrite a format cannot
carry otherwise (two JSON keys of one object redacted alike, a boundary in a part) makes
`rebuild` raise `UndecodableBody`.

A value that holds a document of its own (JSON text in a JSON string, percent-encoded text,
base64 of text) is a nested document: its segments take the value's place, located
`value>inner`, e.g. `$.payload>$.customer.ssn`, `$.next>url>text:0` (`url2`, `url3` for text
encoded two or three times), `$.blob>b64>text:0`. The separator `>` (`SEP`) never appears in
a location of one document, so a location splits at its first `>`: JSON paths have it only in
quoted keys, written there as `\u003e` (and `#` as `\u0023`); form, multipart and header
names holding it have it written `%3E`; XML names and the numbered locations cannot hold it.
Documents are nested `MAX_NESTING` deep at most; deeper values are plain text.

Each segment also has a `field`, for policies that name fields rather than places: its location
with what is particular to one record, repeat or chunk left out, so that every value of one
field in a document shares it:

    JSON          $.customers[*].email        (every list index `[*]`; quoted keys as located;
                  $.customers[*].email#name    a key's repeats `[dup1]` ... dropped)
    NDJSON        $.items[*].sku              (the record number dropped)
    CSV, TSV      csv:email   csv:c3          (the header's name, stripped, `>` written `%3E`;
                                               `c<column>` with no header, an empty name, or
                                               past the header's last column)
                  csv:email#name              (a header's name)
    XML           xml:/root/customer/ssn   xml:/root/customer/@id   xml:/root/p/b/tail()
                  xml:/root/customer/ssn#name (every `[n]` dropped, an attribute's too)
    form          form:tag   form:tag#name    (every `tag`, the repeats `form:tag[1]` ... too)
    multipart     multipart:file   multipart:file>csv:email   multipart:[0]  (unnamed: kept)
                  multipart:file#filename   multipart:file#header:x-note   multipart:#preamble
    text          text
    query         query:q   query:q#name
    URL path      path:1   path:1;ssn   fragment   (the position is what names the value)
    host          host:0
    headers       header:x-customer-email   header:cookie>cookie:sid   header:referer>path:1
    images        png:tEXt   png:tEXt#name   jpeg:exif:0x9286   jpeg:COM   (every `[n]` dropped)
    protobuf      pb:1.3   pb:4#sint   pb:5#packed   (every occurrence `[n]` dropped)
    gRPC          pb:1.3   $.ssn   grpc:trailers   grpc:gzip   (the message number dropped, as
                                                                NDJSON's record number is)

A nested document's fields follow its value's field the same way: `$.payload>$.customer.ssn`,
`$.items[*].note>url>text`, `$.blob>b64>text`, `multipart:file>csv:email`. Names are written as
in locations, so a field too splits at its first `>`.

Import from here. The modules behind it: `parse` chooses the document for a body and holds the
JSON and text documents; `values` what every format shares (segments' places, nested documents,
JSON and text nodes, the percent-encoding and base64 layers); `tables` CSV, TSV and NDJSON;
`markup` XML; `multipart` multipart bodies; `fields` forms, query strings, the path, hosts, URLs
and the header block, `headers` how each header's value is read (shapes, cookies, credentials);
`images` PNG, JPEG, GIF and WebP, with `metadata` (EXIF, XMP, IPTC) and `binary` (text in bodies
that do not say they are text); `archives` zip and the office documents that are zip packages
(xlsx, docx, pptx, odt, ods), `pdf` PDF (never rewritable: a finding to change there blocks),
`protobuf` gRPC and protobuf, `compressed` gzip and zstd files sent as bodies; `whole` the
second reading and the readings of a body as other than it claims to be (`other_readings`).
"""

from dlp_proxy.core.codecs.archives import ZipDocument
from dlp_proxy.core.codecs.binary import signature_matches, sniff_text
from dlp_proxy.core.codecs.fields import (
    FormDocument,
    HeadersDocument,
    HostDocument,
    PathDocument,
    QueryDocument,
    parse_target,
    split_target,
)
from dlp_proxy.core.codecs.headers import SHAPES
from dlp_proxy.core.codecs.images import IMAGE_TYPES, ImageDocument
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
from dlp_proxy.core.codecs.pdf import PdfDocument
from dlp_proxy.core.codecs.protobuf import GrpcDocument, ProtobufDocument
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
from dlp_proxy.core.codecs.whole import (
    AS_FORM,
    AS_JSON,
    AS_UTF7,
    AS_UTF8,
    AS_XML,
    WHOLE_FIELD,
    WHOLE_PREFIX,
    coding_header_segments,
    is_other_reading,
    other_readings,
    whole_text_segments,
)
from dlp_proxy.detection.detector import Segment

__all__ = [
    "AS_FORM",
    "AS_JSON",
    "AS_UTF7",
    "AS_UTF8",
    "AS_XML",
    "IDENTIFIER_DIGITS",
    "IMAGE_TYPES",
    "MAX_DEPTH",
    "MAX_NESTING",
    "NAME_MARK",
    "SEP",
    "SHAPES",
    "TEXT_CHUNK_CHARS",
    "WHOLE_FIELD",
    "WHOLE_PREFIX",
    "CsvDocument",
    "Document",
    "FormDocument",
    "GrpcDocument",
    "HeadersDocument",
    "HostDocument",
    "ImageDocument",
    "JsonDocument",
    "MultipartDocument",
    "NdjsonDocument",
    "PathDocument",
    "PdfDocument",
    "ProtobufDocument",
    "QueryDocument",
    "Segment",
    "TextDocument",
    "XmlDocument",
    "ZipDocument",
    "coding_header_segments",
    "context_words",
    "is_other_reading",
    "other_readings",
    "parse_body",
    "parse_headers",
    "parse_path",
    "parse_query",
    "parse_target",
    "signature_matches",
    "sniff_text",
    "split_target",
    "whole_text_segments",
]
