"""dlp-proxy: a data-loss-prevention gateway for vendor data exchange.

The core is `inspect(message, policy, detector=..., keyring=...) -> Decision`; the mitmproxy
addon (`dlp_proxy.gateway`) and the command line (`dlp_proxy.cli`) are thin adapters around it.
One subpackage per concern, drawn in docs/architecture.md: `core`, `detection`, `policy`,
`crypto`, `incidents`, `gateway`, `tools`, `cli`.
"""

from dlp_proxy.core.inspect import Decision, Message, inspect
from dlp_proxy.errors import DlpError, InspectionError, PolicyError
from dlp_proxy.policy.loader import load_policy, parse_policy
from dlp_proxy.policy.model import Action, Direction, Mode, Policy

__version__ = "0.1.0"

__all__ = [
    "Action",
    "Decision",
    "Direction",
    "DlpError",
    "InspectionError",
    "Message",
    "Mode",
    "Policy",
    "PolicyError",
    "__version__",
    "inspect",
    "load_policy",
    "parse_policy",
]
