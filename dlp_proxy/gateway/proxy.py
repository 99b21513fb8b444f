"""Running the gateway in-process: mitmproxy's master with the dlp addon, and the CA.

`dlp-proxy run` and `dlp-proxy init` are front ends over `serve` and `ensure_ca`; they live
here because the gateway is the only wing that imports mitmproxy.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from mitmproxy import exceptions, options
from mitmproxy.certs import CertStore
from mitmproxy.tools.dump import DumpMaster

from dlp_proxy.gateway import logs
from dlp_proxy.gateway.addon import DlpAddon

__all__ = ["CA_CERT", "ProxySettings", "ensure_ca", "serve"]

# The certificate clients must trust, as mitmproxy names it in the confdir.
CA_CERT = "mitmproxy-ca-cert.pem"


@dataclass(frozen=True)
class ProxySettings:
    """What `dlp-proxy run` starts: where it listens, in which modes, with which addon options.

    An addon option left at None keeps the addon's default; `settings` are mitmproxy's own
    `name=value` options (`--set`), applied after the addon's.
    """

    policy: str
    listen_host: str
    listen_port: int
    confdir: str
    data_dir: str
    modes: tuple[str, ...] = ("regular",)
    log_stdout: bool = False
    keyring: str | None = None
    model: str | None = None
    workers: int | None = None
    timeout: float | None = None
    bulk_workers: int | None = None
    bulk_bytes: int | None = None
    bulk_timeout: int | None = None
    settings: tuple[str, ...] = ()

    def addon_options(self) -> dict[str, object]:
        """The addon's options (`dlp_*`) to set: the three always given, the rest when given."""
        chosen: dict[str, object] = {
            "dlp_policy": self.policy,
            "dlp_data_dir": self.data_dir,
            "dlp_log_stdout": self.log_stdout,
        }
        for name, value in (
            ("dlp_keyring", self.keyring),
            ("dlp_model", self.model),
            ("dlp_workers", self.workers),
            ("dlp_timeout", self.timeout),
            ("dlp_bulk_workers", self.bulk_workers),
            ("dlp_bulk_bytes", self.bulk_bytes),
            ("dlp_bulk_timeout", self.bulk_timeout),
        ):
            if value is not None:
                chosen[name] = value
        return chosen


def ensure_ca(confdir: Path) -> Path:
    """Create mitmproxy's CA in `confdir` unless one is there; the certificate clients trust."""
    CertStore.from_store(confdir, "mitmproxy", 2048)
    return confdir / CA_CERT


async def serve(settings: ProxySettings) -> int:
    """Run the proxy until SIGINT or SIGTERM and return 0; 2 when an option is refused.

    A refused option (a broken policy, an unusable keyring, an unknown `--set`) is said on
    stderr in one line, `dlp-proxy: ...`, and nothing listens. From here on no log line or
    traceback of this process quotes traffic (`gateway.logs`).
    """
    logs.install()
    Path(settings.confdir).mkdir(parents=True, exist_ok=True)
    opts = options.Options(
        listen_host=settings.listen_host,
        listen_port=settings.listen_port,
        mode=list(settings.modes),
        confdir=settings.confdir,
    )
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    master.addons.add(DlpAddon())
    try:
        master.options.update(**settings.addon_options())
        for setting in settings.settings:
            master.options.set(setting)
    except exceptions.OptionsError as e:
        print(f"dlp-proxy: {e}", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    await master.run()
    return 0
