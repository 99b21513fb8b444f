"""The baseline: plain Presidio as a new user would put it in front of a vendor.

The body is decompressed per Content-Encoding and decoded as UTF-8, `AnalyzerEngine.analyze`
runs over the whole text with every default recognizer (and the same spaCy model as dlp-proxy),
`AnonymizerEngine.anonymize` replaces each finding with `<ENTITY_TYPE>`, and the text is
re-encoded; a body nothing was found in is left as it came. WebSocket messages are treated the
same way, one by one. The path, query and headers are left alone, as a naive addon does.
Nothing goes to the network: tldextract uses its bundled suffix list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from mitmproxy.net.encoding import encode

from bench.cases import Case, Transfer
from bench.score import decompress
from dlp_proxy.detection.presidio import DEFAULT_MODEL, make_tldextract_offline

__all__ = ["PlainPresidio", "baseline_transfer"]

LANGUAGE = "en"


class PlainPresidio:
    """AnalyzerEngine (all default recognizers) plus AnonymizerEngine with default operators."""

    def __init__(self, model: str = DEFAULT_MODEL) -> None:
        make_tldextract_offline()
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_anonymizer import AnonymizerEngine

        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
        configuration = {
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": LANGUAGE, "model_name": model}],
        }
        nlp_engine = NlpEngineProvider(nlp_configuration=configuration).create_engine()
        self._analyzer: Any = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=[LANGUAGE])
        # presidio-anonymizer leaves its constructor unannotated.
        self._anonymizer: Any = AnonymizerEngine()  # type: ignore[no-untyped-call]

    def redact(self, text: str) -> str:
        """`text` with everything the analyzer finds replaced by `<ENTITY_TYPE>`."""
        results = self._analyzer.analyze(text=text, language=LANGUAGE)
        if not results:
            return text
        return str(self._anonymizer.anonymize(text=text, analyzer_results=results).text)


def _redact_bytes(data: bytes, redact: Callable[[str], str]) -> bytes:
    """UTF-8 bytes redacted; bytes that are not UTF-8 text are passed as they are."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    out = redact(text)
    return data if out == text else out.encode("utf-8")


def baseline_transfer(case: Case, redact: Callable[[str], str]) -> Transfer:
    """What the vendor receives from a case through the plain-Presidio baseline."""
    body = case.body
    if body:
        plain = decompress(body, case.content_encoding)
        redacted = _redact_bytes(plain, redact)
        if redacted != plain:
            body = (
                redacted
                if case.content_encoding == "none"
                else encode(redacted, case.content_encoding)
            )
    messages = tuple(_redact_bytes(m, redact) for m in case.messages)
    return Transfer(case.path, case.headers, body, messages)
