"""Aggregation and presentation: rates per entity, the targets, the tables, the JSON file.

The tables are Markdown so they can be pasted into docs/detection.md as they are printed.
Nothing here ever prints or writes a PII value: leaks are reported by case id, format, disguise
and entity only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.cases import ENTITIES
from bench.score import Outcome

__all__ = ["TARGETS", "Rate", "Summary", "Target", "leak_records", "render", "summarise", "to_json"]


@dataclass(frozen=True)
class Rate:
    """`hits` out of `total`."""

    hits: int
    total: int

    @property
    def percent(self) -> float:
        """The rate in percent (0 for an empty total)."""
        return 100.0 * self.hits / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.hits}/{self.total} ({self.percent:.1f}%)"


@dataclass(frozen=True)
class Target:
    """A line of the issue's targets: what is measured and the most it may be (percent)."""

    key: str
    title: str
    limit: float

    @property
    def text(self) -> str:
        """The target as the table prints it."""
        return "0" if self.limit == 0 else f"≤ {self.limit:g}%"

    def met(self, rate: Rate) -> bool:
        """Whether `rate` meets the target."""
        return rate.hits == 0 if self.limit == 0 else rate.percent <= self.limit


_ZERO = ("CREDIT_CARD", "US_SSN", "US_BANK_NUMBER", "ABA_ROUTING_NUMBER", "IBAN_CODE")
_ONE = ("EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS")
_TEN = ("PERSON", "STREET_ADDRESS", "DATE_OF_BIRTH")
TARGETS: tuple[Target, ...] = (
    *(Target(e, f"{e} leaked", 0.0) for e in _ZERO),
    *(Target(e, f"{e} leaked", 1.0) for e in _ONE),
    *(Target(e, f"{e} leaked", 10.0) for e in _TEN),
    Target("benign_altered", "benign values altered", 1.0),
    Target("clean_blocked", "clean requests blocked", 0.0),
    Target("clean_changed", "clean requests changed", 0.0),
)


@dataclass(frozen=True)
class Summary:
    """The figures of one run (dlp-proxy or the baseline) over the corpus."""

    rates: dict[str, Rate]
    by_format: dict[str, dict[str, Rate]]
    by_disguise: dict[str, Rate]
    by_transport: dict[str, Rate]
    by_encoding: dict[str, Rate]


def _leak_rate(outcomes: Iterable[Outcome], entity: str | None = None) -> Rate:
    """Labels leaked out of labels (of one entity type, or all)."""
    labels = [x for o in outcomes for x in o.labels if entity in (None, x.entity)]
    return Rate(sum(x.leaked for x in labels), len(labels))


def _grouped(outcomes: Sequence[Outcome], key: Callable[[Outcome], str]) -> dict[str, Rate]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[key(o)].append(o)
    return {k: _leak_rate(v) for k, v in sorted(groups.items())}


def _format_row(outcomes: list[Outcome]) -> dict[str, Rate]:
    pii = [o for o in outcomes if not o.clean]
    clean = [o for o in outcomes if o.clean]
    benign = [b for o in outcomes for b in o.benign if b.altered is not None]
    return {
        "leaked": _leak_rate(outcomes),
        "cases_leaking": Rate(sum(any(x.leaked for x in o.labels) for o in pii), len(pii)),
        "blocked": Rate(sum(not o.delivered or o.dropped_messages > 0 for o in pii), len(pii)),
        "clean_failed": Rate(sum(o.clean_failed for o in clean), len(clean)),
        "benign_altered": Rate(sum(bool(b.altered) for b in benign), len(benign)),
    }


def summarise(outcomes: Sequence[Outcome]) -> Summary:
    """Rates per entity and per target line, and leak rates by format, disguise, transport."""
    rates = {e: _leak_rate(outcomes, e) for e in ENTITIES}
    benign = [b for o in outcomes for b in o.benign if b.altered is not None]
    clean = [o for o in outcomes if o.clean]
    rates["benign_altered"] = Rate(sum(bool(b.altered) for b in benign), len(benign))
    rates["clean_blocked"] = Rate(sum(not o.delivered for o in clean), len(clean))
    rates["clean_changed"] = Rate(sum(bool(o.changed) for o in clean), len(clean))
    formats: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        formats[o.format].append(o)
    disguises: dict[str, list[bool]] = defaultdict(list)
    for o in outcomes:
        for x in o.labels:
            disguises[x.disguise].append(x.leaked)
    return Summary(
        rates=rates,
        by_format={k: _format_row(v) for k, v in sorted(formats.items())},
        by_disguise={k: Rate(sum(v), len(v)) for k, v in sorted(disguises.items())},
        by_transport=_grouped(outcomes, lambda o: o.transport),
        by_encoding=_grouped(outcomes, lambda o: o.encoding),
    )


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# Columns of the per-format table: (heading, key in `Summary.by_format[...]`).
_FORMAT_COLUMNS = (
    ("values leaked", "leaked"),
    ("requests leaking", "cases_leaking"),
    ("blocked", "blocked"),
    ("clean failed", "clean_failed"),
    ("benign altered", "benign_altered"),
)


def _main_table(proxy: Summary, baseline: Summary | None) -> list[str]:
    """One row per target: both runs' figures and dlp-proxy's verdict."""
    base = baseline.rates if baseline else {}
    rows = [
        (
            t.title,
            t.text,
            str(base[t.key]) if t.key in base else "not run",
            str(proxy.rates[t.key]),
            "PASS" if t.met(proxy.rates[t.key]) else "FAIL",
        )
        for t in TARGETS
    ]
    return _table(("measure", "target", "plain Presidio", "dlp-proxy", "verdict"), rows)


def _format_table(proxy: Summary) -> list[str]:
    """Per format: values leaked, requests with a leak, blocked, clean failures, benign."""
    rows = (
        (fmt, *(str(row[key]) for _, key in _FORMAT_COLUMNS))
        for fmt, row in proxy.by_format.items()
    )
    return _table(("format", *(heading for heading, _ in _FORMAT_COLUMNS)), rows)


def _where_table(proxy: Summary) -> list[str]:
    """Leak rates by transport and by content-encoding."""
    rows = [("transport " + k, str(r)) for k, r in proxy.by_transport.items()]
    rows += [("encoding " + k, str(r)) for k, r in proxy.by_encoding.items()]
    return _table(("where", "leaked"), rows)


def render(proxy: Summary, baseline: Summary | None, heading: str) -> str:
    """The printed report: the main table against the targets, then where the leaks are."""
    disguises = _table(("disguise", "leaked"), ((d, str(r)) for d, r in proxy.by_disguise.items()))
    sections = [
        [heading],
        _main_table(proxy, baseline),
        [
            "dlp-proxy by format: PII values leaked; PII requests with a leak; PII requests "
            "blocked (WebSocket: a message dropped); clean requests blocked or changed; benign "
            "values altered.",
        ],
        _format_table(proxy),
        ["dlp-proxy leaks by the disguise applied to the value:"],
        disguises,
        ["dlp-proxy leaks by transport and by content-encoding:"],
        _where_table(proxy),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections)


def leak_records(outcomes: Sequence[Outcome]) -> list[dict[str, str]]:
    """One record per leaked label: case id, format, disguises, transport, encoding, entity."""
    return [
        {
            "case": o.case_id,
            "format": o.format,
            "case_disguise": o.disguise,
            "disguise": x.disguise,
            "transport": o.transport,
            "encoding": o.encoding,
            "entity": x.entity,
        }
        for o in outcomes
        for x in o.labels
        if x.leaked
    ]


def _summary_json(summary: Summary) -> dict[str, Any]:
    def rate(r: Rate) -> dict[str, Any]:
        return {"hits": r.hits, "total": r.total, "percent": round(r.percent, 2)}

    return {
        "rates": {k: rate(r) for k, r in summary.rates.items()},
        "by_format": {
            f: {k: rate(r) for k, r in row.items()} for f, row in summary.by_format.items()
        },
        "by_disguise": {k: rate(r) for k, r in summary.by_disguise.items()},
        "by_transport": {k: rate(r) for k, r in summary.by_transport.items()},
        "by_encoding": {k: rate(r) for k, r in summary.by_encoding.items()},
    }


def _case_json(o: Outcome) -> dict[str, Any]:
    return {
        "case": o.case_id,
        "format": o.format,
        "disguise": o.disguise,
        "transport": o.transport,
        "encoding": o.encoding,
        "clean": o.clean,
        "delivered": o.delivered,
        "blocked": o.blocked,
        "status": o.status,
        "changed": o.changed,
        "dropped_messages": o.dropped_messages,
        "leaked": [x.entity for x in o.labels if x.leaked],
        "labels": len(o.labels),
        "benign_altered": [b.kind for b in o.benign if b.altered],
    }


def to_json(
    meta: dict[str, Any],
    proxy: tuple[Summary, Sequence[Outcome]],
    baseline: tuple[Summary, Sequence[Outcome]] | None,
) -> dict[str, Any]:
    """The full results: summaries, targets, every leak and failure by case id (no values)."""
    proxy_summary = proxy[0]
    runs: dict[str, tuple[Summary, Sequence[Outcome]]] = {"dlp_proxy": proxy}
    if baseline:
        runs["plain_presidio"] = baseline
    return {
        "meta": meta,
        "targets": [
            {
                "key": t.key,
                "title": t.title,
                "target": t.text,
                "dlp_proxy": str(proxy_summary.rates[t.key]),
                "met": t.met(proxy_summary.rates[t.key]),
            }
            for t in TARGETS
        ],
        "runs": {
            name: {
                "summary": _summary_json(summary),
                "leaks": leak_records(outcomes),
                "clean_failures": [_case_json(o) for o in outcomes if o.clean_failed],
                "cases": [_case_json(o) for o in outcomes],
            }
            for name, (summary, outcomes) in runs.items()
        },
    }
