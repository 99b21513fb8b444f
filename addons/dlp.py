"""Load dlp-proxy into mitmdump: `mitmdump -s addons/dlp.py --set dlp_policy=policies/default.yaml`.

A thin adapter: everything lives in the importable `dlp_proxy` package (worker functions must be
importable to be pickled, and engines must survive a script reload). Loading it also scrubs
mitmdump's log output (`dlp_proxy.gateway.logs`): no line or traceback quotes the traffic.
Run mitmdump with `--set flow_detail=0`: its flow dump (stdout) prints URLs, query strings and,
at higher levels, bodies, and is no log.
"""

from dlp_proxy.gateway import logs
from dlp_proxy.gateway.addon import DlpAddon

logs.install()  # idempotent: a script reload installs nothing twice

addons = [DlpAddon()]
