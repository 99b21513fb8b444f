"""Tests for dlp_proxy/cli/console/server.py: the responders' page and its API, in Chromium.

The browser tests drive Debian's `chromium` with its `chromedriver` (`make test` installs both);
without them they fail, saying so, rather than skip.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dlp_proxy.cli.console.server import ConsoleServer, statistics
from dlp_proxy.crypto.sealing import Recipient, generate_private_key, key_id, private_key_pem
from dlp_proxy.incidents.store import IncidentStore, IncidentWriter
from tests.support import SAMPLE_BODY, sample_evidence, sample_incident

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@dataclass
class Console:
    """A running console over a store of three incidents sealed to one responder."""

    server: ConsoleServer
    key_file: Path
    key_id: str
    data_dir: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def call(
        self, path: str, token: str | None = "", body: bytes | None = None, host: str | None = None
    ) -> tuple[int, Any]:
        """An API call with the right token ("" ), another (str) or none (None)."""
        request = urllib.request.Request(self.base + path, data=body)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token or self.server.token}")
        if host is not None:
            request.add_header("Host", host)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            with e:
                return e.code, json.loads(e.read())


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    key = generate_private_key()
    key_file = tmp_path / "responder.pem"
    key_file.write_bytes(private_key_pem(key))
    data_dir = tmp_path / "var"
    writer = IncidentWriter(data_dir / "incidents.db", [Recipient("alice", key.public_key())])
    for n in (1, 2, 3):
        writer.write(sample_incident(n), sample_evidence)
    writer.close()
    server = ConsoleServer(data_dir / "incidents.db", data_dir, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Console(server, key_file, key_id(key.public_key()), data_dir)
    server.shutdown()
    thread.join(timeout=5)


# --- the API --------------------------------------------------------------------------------------


def test_the_api_refuses_without_the_token(console: Console) -> None:
    """No token, or a wrong one: 401 and how to get in; no incident data."""
    for token in (None, "wrong-token"):
        status, body = console.call("/api/incidents", token=token)
        assert status == 401
        assert "token is required" in body["error"]
        assert "inc-" not in json.dumps(body)


def test_the_page_is_served_without_data_and_with_a_strict_policy(console: Console) -> None:
    """The HTML and script need no token (they hold no data); no script from elsewhere."""
    with urllib.request.urlopen(console.base + "/", timeout=10) as response:
        page = response.read().decode()
        csp = response.headers["Content-Security-Policy"]
    assert "dlp-proxy incidents" in page
    assert "inc-" not in page
    assert "script-src 'self'" in csp
    assert "default-src 'none'" in csp


def test_a_foreign_host_header_is_refused(console: Console) -> None:
    """A page on another origin resolving to 127.0.0.1 (DNS rebinding) gets nothing."""
    status, body = console.call("/api/incidents", host="evil.example")
    assert status == 421
    assert body["error"] == "wrong Host header"


def test_list_filters_detail_and_stats(console: Console) -> None:
    """Filters as in the CLI; the detail carries the evidence sealed only; counts add up."""
    status, body = console.call("/api/incidents?vendor=acme")
    assert status == 200
    assert [i["id"] for i in body["incidents"]] == [sample_incident(n).id for n in (1, 3)]
    assert all("evidence" not in i for i in body["incidents"])
    status, detail = console.call(f"/api/incidents/{sample_incident(2).id}")
    assert status == 200
    assert detail["evidence"]["alg"] == "X25519-HKDF-SHA256-A256GCM"
    assert [r["kid"] for r in detail["evidence"]["recipients"]] == [console.key_id]
    assert "536-90-4399" not in json.dumps(detail)
    assert console.call("/api/stats?severity=low")[1] == {
        "by_vendor": {"beta": 1},
        "by_rule": {"block-ssn": 1},
        "by_day": {"2026-11-29": 1},
    }
    status, newest = console.call("/api/incidents?limit=2")
    assert [i["id"] for i in newest["incidents"]] == [sample_incident(n).id for n in (2, 3)]
    assert (newest["total"], newest["limit"]) == (3, 2)
    assert console.call("/api/incidents/inc-none")[0] == 404
    assert console.call("/api/incidents?since=yesterday")[0] == 400


def test_statistics_count_per_vendor_rule_and_day(tmp_path: Path) -> None:
    """Per vendor, per rule (each rule of an incident), per UTC day."""
    with IncidentStore(tmp_path / "incidents.db") as store:
        store.add(sample_incident(1))
        store.add(sample_incident(2, rules=("a", "b"), time="2026-11-30T01:00:00.000Z"))
        counts = statistics(store.find())
    assert counts == {
        "by_vendor": {"acme": 1, "beta": 1},
        "by_rule": {"block-ssn": 1, "a": 1, "b": 1},
        "by_day": {"2026-11-29": 1, "2026-11-30": 1},
    }


def test_a_reveal_is_recorded(console: Console) -> None:
    """POST of a key id: a chained reveal row and an incident_revealed event; bad input 400."""
    incident = sample_incident(1).id
    path = f"/api/incidents/{incident}/reveals"
    assert console.call(path, body=b"{}")[0] == 400
    assert console.call(path, body=b'{"key_id": "not-hex"}')[0] == 400
    status, body = console.call(path, body=json.dumps({"key_id": console.key_id}).encode())
    assert status == 200
    assert "console" in body["recorded"]["user"]
    with IncidentStore(console.data_dir / "incidents.db") as store:
        assert [r.key_id for r in store.reveals(incident)] == [console.key_id]
        assert store.verify() == []
    events = (console.data_dir / "decisions.jsonl").read_text().splitlines()
    assert [json.loads(e)["via"] for e in events if "incident_revealed" in e] == ["console"]


# --- the page in headless Chromium ----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through chromedriver, both from Debian's packages."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: the console tests need Debian's chromium and "
            "chromium-driver packages, which `make test` installs"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _wait(condition: Callable[[], Any], what: str, seconds: float = 15) -> Any:
    """Poll `condition` until it is true; an element replaced while it is read is a retry."""
    from selenium.common.exceptions import StaleElementReferenceException

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
        except StaleElementReferenceException:
            value = None  # the page re-rendered the list under us: read it again
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _rows(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [row.text for row in driver.find_elements(By.CSS_SELECTOR, "#list tbody tr")]


def test_the_browser_refuses_without_the_token(console: Console, browser: Any) -> None:
    """Opened without the token: the page says what is needed and shows no incident."""
    from selenium.webdriver.common.by import By

    browser.execute_cdp_cmd(
        "Storage.clearDataForOrigin", {"origin": console.base, "storageTypes": "all"}
    )
    browser.get(console.base + "/")
    refused = browser.find_element(By.ID, "refused")
    _wait(refused.is_displayed, "the refusal")
    assert "token" in refused.text
    assert not browser.find_element(By.ID, "app").is_displayed()
    assert "inc-" not in browser.page_source


def test_the_browser_lists_filters_charts_and_shows_an_incident(
    console: Console, browser: Any
) -> None:
    """With the token: three incidents, a filter to one vendor, bars, an incident's detail."""
    from selenium.webdriver.common.by import By

    browser.get(console.server.url)
    _wait(lambda: len(_rows(browser)) == 3, "three incidents")
    assert "#token" not in browser.current_url  # the token is taken out of the address bar
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-day rect.bar")) == 1
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-vendor rect.bar")) == 2
    vendor = browser.find_element(By.NAME, "vendor")
    vendor.send_keys("beta")
    browser.find_element(By.ID, "apply").click()
    _wait(lambda: len(_rows(browser)) == 1, "the filtered list")
    assert sample_incident(2).id in _rows(browser)[0]
    browser.find_element(By.CSS_SELECTOR, "#list tbody tr").click()
    detail = browser.find_element(By.ID, "detail")
    _wait(detail.is_displayed, "the incident's detail")
    _wait(lambda: sample_incident(2).id in detail.text, "the incident id")
    assert "fp:ab12" in detail.text
    assert "sealed to alice" in detail.text
    assert "536-90-4399" not in browser.page_source


def test_the_browser_reveals_evidence_with_the_key_file(console: Console, browser: Any) -> None:
    """The key file opens the evidence in the page; the reveal is recorded by key id."""
    from selenium.webdriver.common.by import By

    browser.get(console.server.url)
    _wait(lambda: len(_rows(browser)) == 3, "the list")
    browser.find_elements(By.CSS_SELECTOR, "#list tbody tr")[-1].click()  # the oldest: #1
    _wait(lambda: sample_incident(1).id in browser.find_element(By.ID, "detail-id").text, "detail")
    browser.find_element(By.ID, "key-file").send_keys(str(console.key_file))
    browser.find_element(By.ID, "reveal").click()
    evidence = browser.find_element(By.ID, "evidence-text")
    _wait(lambda: SAMPLE_BODY.decode() in evidence.text, "the revealed body")
    assert "POST https://api.vendor.example/tickets?ref=9" in evidence.text
    status = browser.find_element(By.ID, "reveal-status").text
    assert f"Revealed with key {console.key_id}" in status
    with IncidentStore(console.data_dir / "incidents.db") as store:
        assert [r.key_id for r in store.reveals(sample_incident(1).id)] == [console.key_id]
    _wait(lambda: "console" in browser.find_element(By.ID, "detail-reveals").text, "reveals")


def test_the_browser_refuses_a_key_the_evidence_is_not_sealed_to(
    console: Console, browser: Any, tmp_path: Path
) -> None:
    """Another key: 'not sealed to key ...', nothing shown, nothing recorded."""
    from selenium.webdriver.common.by import By

    other = tmp_path / "other.pem"
    other.write_bytes(private_key_pem(generate_private_key()))
    browser.get(console.server.url)
    _wait(lambda: len(_rows(browser)) == 3, "the list")
    browser.find_elements(By.CSS_SELECTOR, "#list tbody tr")[0].click()
    _wait(lambda: browser.find_element(By.ID, "detail").is_displayed(), "detail")
    browser.find_element(By.ID, "key-file").send_keys(str(other))
    browser.find_element(By.ID, "reveal").click()
    status = browser.find_element(By.ID, "reveal-status")
    _wait(lambda: "Not revealed" in status.text, "the refusal")
    assert "is not sealed to key" in status.text
    assert browser.find_element(By.ID, "evidence-text").text == ""
    with IncidentStore(console.data_dir / "incidents.db") as store:
        assert store.reveals() == []
