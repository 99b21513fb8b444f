"""The adversary's suite of issue 14 (`python -m bench.bypass`, `make bypass`).

Each case is one request (or one connection) carrying one secret, a valid US SSN or a
Luhn-valid card number, through the real proxy to a vendor on 127.0.0.1 that records every
byte it gets. A case is scored by what that vendor could recover by undoing the case's trick
(`bench.bypass.score`). docs/bypass.md says how to read the table and how to add a case.

Modules: `pii` (the secrets and their spellings), `wire` (building and parsing HTTP/1.1,
WebSocket frames and HTTP/2 as bytes), `images` (PNG, JPEG and GIF with hidden text), `vendor`
(the recording vendors' answers), `client` (the channels a case is sent through), `cases` (the
case model and its helpers), `matrix` (a case ported to another channel), `registry` (the
attack catalog and its channel matrix), `attacks`, `attacks_wire`, `attacks_bodies` (the
attacks, class by class), `controls` (the benign controls), `undo` (what a vendor that knows
the trick reads back), `seen` and `score` (recovery and verdicts), `plain` (what plain
mitmproxy stops by itself), `run` (the suite, the log scan, the tables, the report).
"""
