"""Fixtures of the end-to-end suite: vendors and proxies start once per session and are shared.

Each proxy has its own port, confdir (CA and keyring) and data dir. Tests tell their traffic
apart by path: every test sends to its own `unique_path`.
"""

from __future__ import annotations

import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import (
    BIN,
    DEFAULT_POLICY,
    ROOT,
    Proxy,
    Vendor,
    client_tls_context,
    dlp_proxy_argv,
    free_port,
    make_vendor_certificate,
)


@pytest.fixture(scope="session")
def vendor_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The vendor's self-signed certificate and key."""
    return make_vendor_certificate(tmp_path_factory.mktemp("vendor-tls"))


@pytest.fixture(scope="session")
def http_vendor() -> Iterator[Vendor]:
    """A plain-HTTP vendor."""
    vendor = Vendor()
    yield vendor
    vendor.close()


@pytest.fixture(scope="session")
def https_vendor(vendor_cert: tuple[Path, Path]) -> Iterator[Vendor]:
    """An HTTPS vendor with its own self-signed certificate, speaking HTTP/1.1 only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*vendor_cert)
    context.set_alpn_protocols(["http/1.1"])
    vendor = Vendor(tls=context)
    yield vendor
    vendor.close()


def _start(proxy: Proxy) -> Iterator[Proxy]:
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def explicit_proxy(
    tmp_path_factory: pytest.TempPathFactory, https_vendor: Vendor, vendor_cert: tuple[Path, Path]
) -> Iterator[Proxy]:
    """An explicit (regular mode) proxy enforcing default.yaml, trusting the vendor's cert.

    The CA is created ahead of start with `dlp-proxy init`, and one responder, whose private
    key is `responder.pem` in the proxy's workdir, with `dlp-proxy responders keygen` and
    `add`. connection_strategy=lazy lets mitmproxy offer HTTP/2 to clients: eagerly, it would
    mirror the HTTP/1.1-only vendor's ALPN.
    """
    workdir = tmp_path_factory.mktemp("explicit-proxy")
    confdir, data_dir, port = workdir / "conf", workdir / "data", free_port()
    cli = str(BIN / "dlp-proxy")
    for argv in ([cli, "init", "--confdir", str(confdir)],):
        subprocess.run(argv, check=True, capture_output=True, timeout=60, cwd=ROOT)
    keygen = subprocess.run(
        [cli, "responders", "keygen", "--out", str(workdir / "responder.pem")],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    public = next(
        line.split()[-1] for line in keygen.stdout.splitlines() if line.startswith("public key")
    )
    subprocess.run(
        [
            cli,
            "responders",
            "add",
            "e2e",
            public,
            "--confdir",
            str(confdir),
            "--data-dir",
            str(data_dir),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    argv = dlp_proxy_argv(
        DEFAULT_POLICY,
        ["regular"],
        port,
        confdir,
        data_dir,
        "--set",
        f"ssl_verify_upstream_trusted_ca={vendor_cert[0]}",
        "--set",
        "connection_strategy=lazy",
    )
    yield from _start(Proxy("explicit proxy", argv, workdir, port, confdir, data_dir))


@pytest.fixture(scope="session")
def reverse_proxy(tmp_path_factory: pytest.TempPathFactory, http_vendor: Vendor) -> Iterator[Proxy]:
    """A reverse proxy in front of the plain-HTTP vendor, enforcing default.yaml."""
    workdir = tmp_path_factory.mktemp("reverse-proxy")
    confdir, data_dir, port = workdir / "conf", workdir / "data", free_port()
    argv = dlp_proxy_argv(
        DEFAULT_POLICY,
        [f"reverse:{http_vendor.origin}"],
        port,
        confdir,
        data_dir,
        "--workers",
        "1",
    )
    yield from _start(Proxy("reverse proxy", argv, workdir, port, confdir, data_dir))


@pytest.fixture(scope="session")
def monitor_proxy(tmp_path_factory: pytest.TempPathFactory, http_vendor: Vendor) -> Iterator[Proxy]:
    """A reverse proxy in front of the plain-HTTP vendor with default.yaml in monitor mode."""
    workdir = tmp_path_factory.mktemp("monitor-proxy")
    confdir, data_dir, port = workdir / "conf", workdir / "data", free_port()
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    assert text.count("\nmode: enforce") == 1
    policy = workdir / "monitor.yaml"
    policy.write_text(text.replace("\nmode: enforce", "\nmode: monitor"), encoding="utf-8")
    argv = dlp_proxy_argv(
        policy, [f"reverse:{http_vendor.origin}"], port, confdir, data_dir, "--workers", "1"
    )
    yield from _start(Proxy("monitor proxy", argv, workdir, port, confdir, data_dir))


@pytest.fixture
def explicit_client(explicit_proxy: Proxy) -> Iterator[httpx.Client]:
    """An HTTP/1.1 client using the explicit proxy and trusting only the proxy's CA."""
    with httpx.Client(
        proxy=explicit_proxy.url,
        verify=client_tls_context(explicit_proxy.ca_cert),
        trust_env=False,
        timeout=60,
    ) as client:
        yield client


@pytest.fixture
def reverse_client(reverse_proxy: Proxy) -> Iterator[httpx.Client]:
    """A client talking to the reverse proxy as if it were the vendor."""
    with httpx.Client(base_url=reverse_proxy.url, trust_env=False, timeout=60) as client:
        yield client


@pytest.fixture
def monitor_client(monitor_proxy: Proxy) -> Iterator[httpx.Client]:
    """A client talking to the monitor-mode reverse proxy."""
    with httpx.Client(base_url=monitor_proxy.url, trust_env=False, timeout=60) as client:
        yield client


@pytest.fixture
def unique_path(request: pytest.FixtureRequest) -> str:
    """A path no other test sends to, so the vendor's record and the logs can be told apart.

    Its last segment starts with a letter: eight random hex digits are all digits one time in
    40, and a bare number in a path may read as an account number or an SSN.
    """
    return f"/api/{request.node.name.replace('[', '-').rstrip(']')}/t{uuid.uuid4().hex[:8]}"
