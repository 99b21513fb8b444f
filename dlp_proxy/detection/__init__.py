"""Detection: finding PII in text segments.

`detector` is the seam the rest of dlp-proxy sees (`Segment` in, `Finding` out, the `Detector`
protocol); `presidio` implements it with Presidio and spaCy, `recognizers` adds dlp-proxy's own
recognizers (checksums, field names as evidence, split values, a policy's custom detectors), and
`prefilter` decides what a value could hold before anything is asked. Nothing here knows about
message formats, the proxy or mitmproxy.
"""
