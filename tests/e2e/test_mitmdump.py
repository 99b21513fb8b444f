"""The script adapter: `mitmdump -s addons/dlp.py` enforces a policy like `dlp-proxy run`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.harness import (
    BIN,
    DEFAULT_POLICY,
    EMAIL,
    ROOT,
    Proxy,
    Vendor,
    assert_masked,
    free_port,
)


@pytest.fixture(scope="module")
def mitmdump_proxy(
    tmp_path_factory: pytest.TempPathFactory, http_vendor: Vendor
) -> Iterator[Proxy]:
    """mitmdump in reverse mode in front of the plain-HTTP vendor, with the dlp script loaded."""
    workdir = tmp_path_factory.mktemp("mitmdump")
    confdir, data_dir, port = workdir / "conf", workdir / "data", free_port()
    argv = [
        str(BIN / "mitmdump"),
        "-s",
        str(ROOT / "addons" / "dlp.py"),
        "--mode",
        f"reverse:{http_vendor.origin}",
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        str(port),
        "--set",
        f"confdir={confdir}",
        "--set",
        f"dlp_policy={DEFAULT_POLICY}",
        "--set",
        f"dlp_data_dir={data_dir}",
        "--set",
        "dlp_log_stdout=true",
        "--set",
        "dlp_workers=1",
        "--set",
        "flow_detail=0",
    ]
    proxy = Proxy("mitmdump", argv, workdir, port, confdir, data_dir)
    proxy.start()
    yield proxy
    proxy.stop()


def test_mitmdump_script_redacts_an_email(
    mitmdump_proxy: Proxy, http_vendor: Vendor, unique_path: str
) -> None:
    """The addon loaded as a mitmdump script masks an email before the vendor sees it."""
    with httpx.Client(base_url=mitmdump_proxy.url, trust_env=False, timeout=60) as client:
        response = client.post(unique_path, json={"ticket_id": "T-48219", "email": EMAIL})
    assert response.status_code == 200, response.text
    received = http_vendor.only(unique_path).json()
    assert received["ticket_id"] == "T-48219"
    assert_masked(received["email"], EMAIL)
    decision = mitmdump_proxy.decision_for(unique_path)
    assert decision["outcome"] == "redacted"
    assert (mitmdump_proxy.confdir / "dlp-keyring.json").exists()
