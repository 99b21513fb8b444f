"""Load dlp-proxy into mitmdump: `mitmdump -s addons/dlp.py --set dlp_policy=policies/default.yaml`.

A thin adapter: everything lives in the importable `dlp_proxy` package (worker functions must be
importable to be pickled, and engines must survive a script reload).
"""

from dlp_proxy.gateway.addon import DlpAddon

addons = [DlpAddon()]
