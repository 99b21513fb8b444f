"""The case model and helpers: registration, secrets per run, and the bytes the helpers write."""

from __future__ import annotations

import base64
import json
import re

import pytest

from bench.bypass.attacks import CATALOG as ATTACKS
from bench.bypass.cases import Catalog, build, get, h2c_after_upgrade, jwt, multipart, sse, ws
from bench.bypass.client import Channel
from bench.bypass.controls import CATALOG as CONTROLS
from bench.bypass.pii import Kind, Secret
from bench.bypass.wire import parse_http1_response

SPECS = [*ATTACKS, *CONTROLS]


def test_a_run_is_reproducible_and_a_held_out_seed_draws_new_secrets() -> None:
    """The same seed gives the same secrets; another seed gives none of them; none repeats."""
    first, again, held_out = build(SPECS, 14), build(SPECS, 14), build(SPECS, 1414)
    secrets = [c.secret for c in first if c.secret]
    assert secrets == [c.secret for c in again if c.secret]
    assert len({s.digits for s in secrets}) == len(secrets)
    assert not {s.digits for s in secrets} & {c.secret.digits for c in held_out if c.secret}


def test_names_are_unique_and_a_second_registration_is_refused() -> None:
    """Case names are unique across the suite; registering a name twice raises."""
    names = [s.name for s in SPECS]
    assert len(set(names)) == len(names)
    catalog = Catalog()

    def twice(s: Secret) -> object:
        """A case."""
        return get("/")

    catalog.case("x", None, Channel.HTTP)(twice)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="two cases are named twice"):
        catalog.case("x", None, Channel.HTTP)(twice)  # type: ignore[arg-type]


def test_every_case_says_what_its_trick_is() -> None:
    """Each case's note (its docstring) is a short sentence without a value in it."""
    for spec in SPECS:
        assert 3 < len(spec.note) < 100, spec.name
        assert not re.search(r"\d{5}", spec.note), spec.name


def test_the_helpers_write_what_they_say() -> None:
    """JWT parts decode, multipart has its boundary, SSE is chunked events, ws a handshake."""
    header, payload, signature = jwt({"a": 1}, alg="none").split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "none", "typ": "JWT"}
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == {"a": 1}
    assert signature == ""
    body, ctype = multipart(
        [((("Content-Disposition", 'form-data; name="n"'),), b"v")], b"pre", b"post"
    )
    boundary = ctype.split("boundary=")[1]
    assert body.startswith(b"pre\r\n--" + boundary.encode())
    assert body.endswith(b"--" + boundary.encode() + b"--\r\npost")
    response, _ = parse_http1_response(sse(["1", "2"]), closed=True)
    assert response is not None
    assert response.body == b"event: update\ndata: 1\n\nevent: update\ndata: 2\n\n"
    handshake = ws((), version="8").request
    assert handshake.header("sec-websocket-version") == "8"
    assert ws(()).request.header("sec-websocket-version") == "13"
    assert ws((), version="").request.header("sec-websocket-version") is None
    settings, after = h2c_after_upgrade(b"data")
    assert settings
    assert after.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert b"data" in after


def test_cases_carry_their_kind_of_secret() -> None:
    """A case built for an SSN carries an SSN; a control carries none."""
    for case in build(SPECS, 3):
        spec = next(s for s in SPECS if s.name == case.name)
        assert (case.secret.kind if case.secret else None) == spec.kind
    assert Kind.SSN in {s.kind for s in SPECS}
    assert Kind.CARD in {s.kind for s in SPECS}
