"""Tests for dlp_proxy/cli/incidents.py: `dlp-proxy responders ...` and `incidents ...`."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import stat
from pathlib import Path

import pytest

from dlp_proxy.cli.main import main
from dlp_proxy.crypto.sealing import load_private_key, public_key_text
from dlp_proxy.incidents.responders import load_responders
from dlp_proxy.incidents.store import IncidentWriter
from tests.support import SAMPLE_BODY, sample_evidence, sample_incident

BODY = SAMPLE_BODY
_incident = sample_incident
_evidence = sample_evidence


@pytest.fixture
def gateway(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A confdir with responder alice (key in tmp/alice.pem), a data dir with 3 incidents."""
    assert (
        main(["responders", "keygen", "--out", str(tmp_path / "alice.pem"), "--name", "alice"]) == 0
    )
    public = next(
        line.split()[-1] for line in capsys.readouterr().out.splitlines() if "public key" in line
    )
    confdir, data = tmp_path / "conf", tmp_path / "var"
    argv = [
        "responders",
        "add",
        "alice",
        public,
        "--confdir",
        str(confdir),
        "--data-dir",
        str(data),
    ]
    assert main(argv) == 0
    capsys.readouterr()
    writer = IncidentWriter(
        data / "incidents.db", [r.recipient for r in load_responders(confdir / "responders.json")]
    )
    for n in (1, 2, 3):
        writer.write(_incident(n), _evidence)
    writer.close()
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_keygen_writes_an_owner_only_key_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The private key is 0600 PKCS#8; the public key printed is its half; a second run refuses."""
    path = tmp_path / "me.pem"
    status, out, _ = _run(capsys, "responders", "keygen", "--out", str(path))
    assert status == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert public_key_text(load_private_key(path).public_key()) in out
    status, _, err = _run(capsys, "responders", "keygen", "--out", str(path))
    assert status == 2
    assert "never overwritten" in err


def test_responders_add_and_list(gateway: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The added responder is listed with its key id; the change is in the audit log."""
    status, out, _ = _run(capsys, "responders", "list", "--confdir", str(gateway / "conf"))
    assert status == 0
    assert "alice" in out
    events = [
        json.loads(line) for line in (gateway / "var" / "decisions.jsonl").read_text().splitlines()
    ]
    assert [e["responder"] for e in events if e["event"] == "responder_added"] == ["alice"]
    status, _, err = _run(
        capsys, "responders", "add", "bob", "not-a-key", "--confdir", str(gateway / "conf")
    )
    assert status == 2
    assert "x25519:" in err


def test_list_filters_and_formats(gateway: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Table, JSON and CSV; filters by vendor and severity; no evidence in any of them."""
    data = str(gateway / "var")
    status, out, _ = _run(capsys, "incidents", "list", "--data-dir", data)
    assert status == 0
    assert out.count("inc-2026") == 3
    _, out, _ = _run(
        capsys, "incidents", "list", "--data-dir", data, "--vendor", "acme", "--format", "json"
    )
    assert [d["id"] for d in json.loads(out)] == [_incident(1).id, _incident(3).id]
    assert all(d["evidence_sealed"] for d in json.loads(out))
    assert '"evidence":' not in out
    _, out, _ = _run(
        capsys, "incidents", "list", "--data-dir", data, "--severity", "low", "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["id"] for r in rows] == [_incident(2).id]
    _, out, _ = _run(
        capsys,
        "incidents",
        "list",
        "--data-dir",
        data,
        "--since",
        "2026-11-29T10:00:02Z",
        "--client",
        "10.0.0.3",
    )
    assert _incident(3).id in out
    assert _incident(2).id not in out
    assert "536-90-4399" not in out


def test_show_prints_everything_but_the_evidence(
    gateway: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A prefix of the id is enough; rules, entities, findings and chain are shown."""
    status, out, _ = _run(
        capsys, "incidents", "show", "inc-20261129T100002Z", "--data-dir", str(gateway / "var")
    )
    assert status == 0
    assert _incident(2).id in out
    assert "US_SSN x1" in out
    assert "fp:ab12" in out
    assert "evidence   body, sealed" in out
    assert "536-90-4399" not in out


def test_reveal_opens_the_evidence_and_is_recorded(
    gateway: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The body comes back in clear for the key's holder; the reveal is chained and logged."""
    data = str(gateway / "var")
    key = str(gateway / "alice.pem")
    status, out, _ = _run(
        capsys, "incidents", "reveal", _incident(1).id, "--key", key, "--data-dir", data
    )
    assert status == 0
    assert "POST https://api.vendor.example/tickets?ref=9" in out
    assert BODY.decode() in out
    _, shown, _ = _run(capsys, "incidents", "show", _incident(1).id, "--data-dir", data)
    assert "revealed" in shown
    events = [
        json.loads(line) for line in (gateway / "var" / "decisions.jsonl").read_text().splitlines()
    ]
    [revealed] = [e for e in events if e["event"] == "incident_revealed"]
    assert revealed["incident_id"] == _incident(1).id
    assert "536-90-4399" not in json.dumps(revealed)


def test_reveal_with_someone_elses_key_is_refused(
    gateway: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key that is not a recipient's: exit 2, the reason, and no reveal recorded."""
    _run(capsys, "responders", "keygen", "--out", str(gateway / "mallory.pem"))
    status, out, err = _run(
        capsys,
        "incidents",
        "reveal",
        _incident(1).id,
        "--key",
        str(gateway / "mallory.pem"),
        "--data-dir",
        str(gateway / "var"),
    )
    assert status == 2
    assert "not sealed to key" in err
    assert "536" not in out
    _, shown, _ = _run(
        capsys, "incidents", "show", _incident(1).id, "--data-dir", str(gateway / "var")
    )
    assert "revealed" not in shown


def test_export_writes_ecs_json_lines(gateway: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One ECS document per incident, filtered like list, to stdout or a file."""
    data = str(gateway / "var")
    status, out, _ = _run(capsys, "incidents", "export", "--data-dir", data, "--rule", "block-ssn")
    assert status == 0
    documents = [json.loads(line) for line in out.splitlines()]
    assert [d["event"]["id"] for d in documents] == [_incident(n).id for n in (1, 2, 3)]
    assert documents[0]["source"]["ip"] == "10.0.0.1"
    target = gateway / "export.jsonl"
    assert (
        main(["incidents", "export", "--data-dir", data, "--out", str(target), "--vendor", "beta"])
        == 0
    )
    assert len(target.read_text().splitlines()) == 1


def test_verify_says_intact_then_names_an_edited_row(
    gateway: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 0 when intact; 1 with the row named after an edit."""
    data = gateway / "var"
    status, out, _ = _run(capsys, "incidents", "verify", "--data-dir", str(data))
    assert status == 0
    assert out.startswith("intact: 3 incidents and 0 reveals")
    db = sqlite3.connect(data / "incidents.db")
    with db:
        db.execute(
            "UPDATE incidents SET content = replace(content, '10.0.0.2', '10.9.9.9') WHERE seq = 2"
        )
    db.close()
    status, out, _ = _run(capsys, "incidents", "verify", "--data-dir", str(data))
    assert status == 1
    assert f"incidents #2 ({_incident(2).id}) was edited" in out


def test_commands_without_a_store_say_where_they_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No incidents.db in the data dir: exit 2 and a hint to pass --data-dir."""
    status, _, err = _run(capsys, "incidents", "list", "--data-dir", str(tmp_path))
    assert status == 2
    assert "no incident store at" in err
    assert "--data-dir" in err


def test_console_serves_behind_the_token_it_prints(gateway: Path) -> None:
    """`dlp-proxy console --port 0` prints a URL with a token; the API answers with it only."""
    import re
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    command = [str(Path(sys.executable).parent / "dlp-proxy"), "console", "--port", "0",
               "--data-dir", str(gateway / "var")]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.match(r"dlp-proxy console: (http://127\.0\.0\.1:\d+)/#token=(\S+)", line)
            assert match, line
            base, token = match.groups()
            request = urllib.request.Request(base + "/api/incidents")
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            refused.value.close()
            assert refused.value.code == 401
            request.add_header("Authorization", f"Bearer {token}")
            with urllib.request.urlopen(request, timeout=10) as response:
                assert len(json.loads(response.read())["incidents"]) == 3
        finally:
            process.terminate()
        assert process.wait(timeout=10) == 0


def test_console_without_a_store_says_where_it_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No incidents.db: exit 2, naming the path."""
    status, _, err = _run(capsys, "console", "--port", "0", "--data-dir", str(tmp_path))
    assert status == 2
    assert f"no incident store at {tmp_path}" in err
