"""What an incident keeps of a blocked message, before it is sealed (`sealing.seal`).

The policy's `evidence` setting chooses:

- `body`: the request line (or, for a response, the request it answers), the headers and the
  body as received (still compressed per `Content-Encoding`), as JSON;
- `snippets`: for each finding its entity type, location and span, and the text from up to
  `SNIPPET_CONTEXT` characters before it to as many after;
- `none`: nothing.

The plaintext exists only in memory on the way to `seal`; nothing here writes or logs it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from dlp_proxy.core.inspect import Decision, Message, segment_texts
from dlp_proxy.policy.model import Evidence, Policy

__all__ = ["SNIPPET_CONTEXT", "evidence_plaintext"]

SNIPPET_CONTEXT = 40


def evidence_plaintext(
    message: Message, decision: Decision, policy: Policy, url: str
) -> bytes | None:
    """The evidence `policy.evidence` asks for, as UTF-8 JSON; None for `none`.

    `url` is the full URL of the request, query included (it may hold the PII itself).
    """
    if policy.evidence is Evidence.NONE:
        return None
    document: dict[str, Any] = {
        "kind": policy.evidence.value,
        "direction": message.direction.value,
        "method": message.method,
        "url": url,
    }
    if policy.evidence is Evidence.BODY:
        document["headers"] = [list(pair) for pair in message.headers]
        document["content_type"] = message.content_type
        document["content_encoding"] = message.content_encoding
        document["body_base64"] = base64.b64encode(message.body).decode("ascii")
    else:
        document["snippets"] = _snippets(message, decision, policy)
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _snippets(message: Message, decision: Decision, policy: Policy) -> list[dict[str, Any]]:
    texts = segment_texts(message, policy)
    snippets = []
    for finding in decision.findings:
        text = texts.get(finding.location)
        entry: dict[str, Any] = {
            "entity": finding.entity,
            "location": finding.location,
            "start": finding.start,
            "end": finding.end,
        }
        if text is not None and 0 <= finding.start < finding.end <= len(text):
            begin = max(finding.start - SNIPPET_CONTEXT, 0)
            entry["text"] = text[begin : finding.end + SNIPPET_CONTEXT]
            entry["match_start"] = finding.start - begin  # where the value starts in `text`
        snippets.append(entry)
    return snippets
