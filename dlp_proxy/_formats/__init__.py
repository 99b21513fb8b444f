"""The formats behind `dlp_proxy.codecs`, one private module per family.

`values` holds what every format shares (segments, nested documents, JSON and text nodes, the
percent-encoding and base64 layers); `tables` CSV, TSV and NDJSON; `markup` XML; `multipart`
multipart bodies; `fields` forms, query strings, headers and the URL path. Import from
`dlp_proxy.codecs`, not from here.
"""
