"""Policies: the model compliance staff write, its YAML loader, and the watch for changes.

`model` holds the frozen dataclasses and rule matching; `loader` builds a `Policy` from YAML
(over `located`, which keeps every line and column) and reports every problem with its place;
`watch` notices a changed policy file while the proxy runs. Nothing here knows about detection,
the proxy or mitmproxy.
"""
