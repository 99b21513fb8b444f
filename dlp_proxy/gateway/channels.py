"""The channels mitmproxy would forward without inspection, closed: tunnels, upgrades, pings.

What mitmproxy 12.3 does, and what the gateway does instead:

- **Tunnels.** After `CONNECT` (or TLS the gateway terminates), bytes that do not look like
  HTTP go to a `TCPLayer` (`rawtcp` defaults to True; a server that speaks first always makes
  it one), UDP goes to a `UDPLayer`, port 53 to a `DNSLayer`, non-HTTP QUIC to a `RawQuicLayer`,
  and `ignore_hosts`/`allow_hosts` make flow-less layers that no hook ever sees
  (`mitmproxy/addons/next_layer.py`). All relay byte for byte. (A first line with a space in
  it, `SYNC v1`, makes mitmproxy guess HTTP, whose layer then waits for headers forever: such
  bytes, not a request line, are taken for a tunnel's too.) `ChannelGuard.next_layer` looks
  at the layer chosen and applies the policy's `tunnels` for the destination: `refuse` puts a
  `RefusedLayer` in its place, which closes the connection before a byte passes either way;
  `inspect` has every TCP/UDP message inspected (`tcp_message`, `udp_message`); `allow` lets it
  through with its reason logged. mitmproxy's TCP and UDP layers ignore `flow.kill()`
  (mitmproxy issue 4711): `install` teaches them to close both connections of a killed flow,
  so a blocked message (or a refusal in `tcp_start`, for the flows no `next_layer` decides,
  such as QUIC streams) ends the connection and nothing more is relayed.
- **Upgrades.** A request with `Upgrade:` other than a WebSocket handshake is answered 403
  in `requestheaders`, before mitmproxy's `disable_h2c` quietly strips `Upgrade: h2c` in
  `request`. A `101` that mitmproxy does not take for a WebSocket (`flow.websocket` unset in
  the `response` hook) would become a raw `TCPLayer` (`http/__init__.py`, `flow_done`): the
  flow is killed instead.
- **WebSocket control frames.** mitmproxy's `WebsocketLayer` relays ping and pong payloads and
  close reasons as they are, past `websocket_message`, and logs ping and pong payloads
  (`Received WebSocket ping from client (payload: ...)`). `install` replaces the layer's
  `WebsocketConnection` with `GuardedConnection`: a ping's payload stays at the gateway, which
  sends the other side a ping with a random nonce instead and, when that side answers, gives
  the first side its own payload back in the pong (RFC 6455 5.5.3, which clients such as
  Python's `websockets` check). Unsolicited pongs pass empty; a close keeps its code and loses
  its reason. No payload is ever in mitmproxy's log lines.
"""

from __future__ import annotations

import collections
import functools
import re
import secrets
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import wsproto.events
from mitmproxy import connection, ctx, http, tcp, udp
from mitmproxy.flow import Error, Flow
from mitmproxy.proxy import commands, events, layer, layers, mode_specs
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layers import dns as dns_layer
from mitmproxy.proxy.layers import tcp as tcp_layer
from mitmproxy.proxy.layers import udp as udp_layer
from mitmproxy.proxy.layers import websocket as websocket_layer
from mitmproxy.proxy.layers.http import HTTPMode

from dlp_proxy.core.inspect import UNKNOWN_DESTINATION_RULE, Decision, Message
from dlp_proxy.incidents.audit import FlowInfo
from dlp_proxy.policy.model import (
    Action,
    Direction,
    Policy,
    TunnelAction,
    UnknownDestinations,
)

__all__ = [
    "TUNNELS_RULE",
    "UPGRADE_RULE",
    "ChannelGuard",
    "Gateway",
    "GuardedConnection",
    "RefusedLayer",
    "install",
    "tunnel_decision",
    "upgrade_refused",
]

# The pseudo-rules of the decisions made here, as `blocking_rule` and in `allowed_by`.
TUNNELS_RULE = "tunnels"
UPGRADE_RULE = "upgrade"
# How many pings a side may have in flight before the oldest is forgotten.
MAX_PINGS_IN_FLIGHT = 16
# The layers that relay bytes mitmproxy does not parse as HTTP, and what the log calls them.
_TUNNEL_KINDS: tuple[tuple[type[layer.Layer], str], ...] = (
    (layers.TCPLayer, "TCP"),
    (layers.UDPLayer, "UDP"),
    (layers.DNSLayer, "DNS"),
    (layers.RawQuicLayer, "QUIC"),
)


class Gateway(Protocol):
    """What the guard needs of the addon: the policy, inspection, and the decision log."""

    @property
    def policy(self) -> Policy | None:
        """The policy in force; `None` when none is configured (the guard is idle then)."""
        ...

    async def inspect_channel(
        self, flow: Flow, info: FlowInfo, url: str, message: Message
    ) -> Decision | None:
        """Inspect `message` under the policy and log the decision (`None`: nothing to do)."""
        ...

    async def record_channel(
        self, flow: Flow | None, info: FlowInfo, url: str, decision: Decision, message: Message
    ) -> str | None:
        """Log a decision made here; a block is an incident too. Returns its incident id.

        `flow` is `None` for a connection mitmproxy made no flow for (ignored hosts, DNS).
        """
        ...


# --- the decisions -------------------------------------------------------------------------


def tunnel_decision(policy: Policy, host: str) -> tuple[TunnelAction, Decision]:
    """What the policy does with a tunnel to `host`, and the decision to log for it.

    The vendor's `tunnels` applies to its hosts, the policy's to the rest; a host no vendor
    matches is refused under `unknown_destinations: block`. For `inspect` the decision is only
    a starting point: each message gets its own.
    """
    vendor = policy.vendor_for(host)
    base = Decision(
        action=Action.ALLOW,
        mode=policy.mode,
        policy_name=policy.name,
        policy_sha256=policy.sha256,
        vendor=vendor.id if vendor else None,
        inspected=False,
    )
    if vendor is None and policy.unknown_destinations is UnknownDestinations.BLOCK:
        return TunnelAction.REFUSE, replace(
            base, action=Action.BLOCK, blocking_rule=UNKNOWN_DESTINATION_RULE
        )
    tunnels = policy.tunnels_for(vendor)
    if tunnels.action is TunnelAction.REFUSE:
        return tunnels.action, replace(base, action=Action.BLOCK, blocking_rule=TUNNELS_RULE)
    if tunnels.action is TunnelAction.ALLOW:
        return tunnels.action, replace(
            base, allowed_by=(TUNNELS_RULE,), allow_reasons={TUNNELS_RULE: tunnels.reason}
        )
    return tunnels.action, base


def upgrade_refused(request: http.Request, websocket: bool = True) -> bool:
    """True when `request` asks to switch protocols to anything but a WebSocket.

    A WebSocket handshake is `GET` over HTTP/1.1 with one `Upgrade: websocket` and
    `Sec-WebSocket-Version: 13` (what mitmproxy hands to its WebSocket layer); with
    mitmproxy's `websocket` option off, it is refused too, since the 101 would make a raw tunnel.
    """
    upgrades = request.headers.get_all("upgrade")
    if not upgrades:
        return False
    handshake = (
        websocket
        and len(upgrades) == 1
        and upgrades[0].strip().lower() == "websocket"
        and request.headers.get_all("sec-websocket-version") == ["13"]
        and request.method.upper() == "GET"
        and request.http_version == "HTTP/1.1"
    )
    return not handshake


def _refusal(policy: Policy, host: str, rule: str) -> Decision:
    """A block by one of this module's pseudo-rules, before any content was read."""
    vendor = policy.vendor_for(host)
    return Decision(
        action=Action.BLOCK,
        mode=policy.mode,
        policy_name=policy.name,
        policy_sha256=policy.sha256,
        vendor=vendor.id if vendor else None,
        blocking_rule=rule,
        inspected=False,
    )


# An HTTP/1 request line as mitmproxy reads one (`net/http/http1/read.py`): three parts split
# by whitespace, the last an HTTP version; `PRI * HTTP/2.0` (HTTP/2 prior knowledge) included.
_REQUEST_LINE = re.compile(rb"[^\s]+[ \t]+[^\s]+[ \t]+HTTP/\d(\.\d)?[ \t]*\r?\n")


# --- the addon -------------------------------------------------------------------------------


class ChannelGuard:
    """The addon that closes the channels (see the module docstring); a child of `DlpAddon`.

    Idle while the gateway has no policy, as the addon is. `blocked` makes the 403 a refused
    upgrade gets (the addon's `blocked_response`).
    """

    def __init__(self, gateway: Gateway, blocked: Callable[[Decision, str], http.Response]):
        self.gateway = gateway
        self.blocked = blocked

    def load(self, loader: object) -> None:
        """Patch mitmproxy's TCP, UDP and WebSocket layers (once per process)."""
        install()

    # --- tunnels ---

    async def next_layer(self, nextlayer: layer.NextLayer) -> None:
        """Refuse, inspect or allow the tunnel mitmproxy has chosen (or would choose) here."""
        policy = self.gateway.policy
        if policy is None:
            return
        if nextlayer.layer is None:
            # This addon may run before mitmproxy's own (under mitmdump -s): ask it first, so
            # the decision is made on what mitmproxy would really do.
            chooser = ctx.master.addons.get("nextlayer")  # type: ignore[no-untyped-call]  # unannotated
            if chooser is not None:
                chooser.next_layer(nextlayer)
        chosen = nextlayer.layer
        context = nextlayer.context
        data = nextlayer.data_client()  # type: ignore[no-untyped-call]  # unannotated
        if _guessed_http(chosen, context, data) and not _starts_like_http(data):
            # mitmproxy guessed HTTP from a space in the first line ("SYNC v1\n..."): its HTTP
            # layer would wait for headers that never come. Bytes that are not a request line
            # are a tunnel's.
            assert chosen is not None
            _discard(chosen, context)
            chosen = nextlayer.layer = tcp_layer.TCPLayer(context)
        found = _tunnel_in(chosen)
        if chosen is None or found is None:
            return
        tunnel, kind = found
        if isinstance(tunnel, layers.DNSLayer) and _mitmproxys_own_resolver(context):
            return  # WireGuard's DNS server: mitmproxy answers it, nothing is relayed
        host, port = _destination(context)
        action, decision = tunnel_decision(policy, host)
        flow: Flow | None = getattr(tunnel, "flow", None)
        if action is TunnelAction.INSPECT:
            if flow is not None or isinstance(tunnel, layers.RawQuicLayer):
                _mark(flow, action)  # QUIC: its streams are TCP/UDP flows, inspected each
                return
            if tunnel is not chosen:  # a flow-less layer inside a stack: cannot be inspected
                action = TunnelAction.REFUSE
                decision = _refusal(policy, host, TUNNELS_RULE)
            else:  # ignored hosts, DNS: relay it as TCP or UDP, whose messages are inspected
                _discard(chosen, context)
                fresh = _relay_layer(context)
                nextlayer.layer = fresh
                _mark(fresh.flow, action)
                return
        _mark(flow, action)
        info = _tunnel_info(flow, context, kind, host, port)
        message = Message(
            direction=Direction.REQUEST,
            method=kind,
            host=host,
            path="/",
            body=data,
        )
        url = f"{info.scheme}://{host}:{port}"
        await self.gateway.record_channel(flow, info, url, decision, message)
        if action is TunnelAction.REFUSE and decision.enforced:
            _discard(chosen, context)
            nextlayer.layer = RefusedLayer(context)

    async def tcp_start(self, flow: tcp.TCPFlow) -> None:
        """Decide on a TCP flow no `next_layer` decided on (a QUIC stream, a 101 let through)."""
        await self._start(flow, "TCP")

    async def udp_start(self, flow: udp.UDPFlow) -> None:
        """As `tcp_start`, for UDP."""
        await self._start(flow, "UDP")

    async def tcp_message(self, flow: tcp.TCPFlow) -> None:
        """Inspect a message of an inspected tunnel; a block ends the connection."""
        await self._message(flow, flow.messages[-1], "TCP")

    async def udp_message(self, flow: udp.UDPFlow) -> None:
        """As `tcp_message`, for a datagram."""
        await self._message(flow, flow.messages[-1], "UDP")

    async def _start(self, flow: tcp.TCPFlow | udp.UDPFlow, kind: str) -> None:
        policy = self.gateway.policy
        if policy is None or "dlp_tunnel" in flow.metadata:
            return
        host, port = _flow_destination(flow)
        action, decision = tunnel_decision(policy, host)
        _mark(flow, action)
        if action is TunnelAction.INSPECT:
            return
        info = _flow_tunnel_info(flow, kind, host, port)
        message = Message(direction=Direction.REQUEST, method=kind, host=host, path="/")
        url = f"{info.scheme}://{host}:{port}"
        await self.gateway.record_channel(flow, info, url, decision, message)
        if action is TunnelAction.REFUSE and decision.enforced and flow.killable:
            _kill(flow)  # the patched layer closes both sides before connecting or relaying

    async def _message(
        self, flow: tcp.TCPFlow | udp.UDPFlow, frame: tcp.TCPMessage | udp.UDPMessage, kind: str
    ) -> None:
        if self.gateway.policy is None:
            return
        if "dlp_tunnel" not in flow.metadata:
            await self._start(flow, kind)
            if not flow.live:
                frame.content = b""
                return
        if flow.metadata.get("dlp_tunnel") != TunnelAction.INSPECT.value:
            return
        host, port = _flow_destination(flow)
        direction = Direction.REQUEST if frame.from_client else Direction.RESPONSE
        message = Message(direction=direction, method=kind, host=host, path="/", body=frame.content)
        info = replace(_flow_tunnel_info(flow, kind, host, port), direction=direction.value)
        url = f"{info.scheme}://{host}:{port}"
        decision = await self.gateway.inspect_channel(flow, info, url, message)
        if decision is None or not decision.enforced:
            return
        if decision.action is Action.BLOCK:
            frame.content = b""
            if flow.killable:
                _kill(flow)
        elif decision.body is not None:
            frame.content = decision.body

    # --- protocol upgrades ---

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        """Answer 403 to a request to switch to any protocol but WebSocket; never forward it."""
        policy = self.gateway.policy
        if policy is None or flow.response or flow.error or not flow.live:
            return
        if not upgrade_refused(flow.request, websocket=bool(ctx.options.websocket)):
            return
        decision = _refusal(policy, flow.request.host, UPGRADE_RULE)
        incident_id = await self._record_http(flow, Direction.REQUEST, decision)
        if decision.enforced:  # refused even if the log could not name an incident
            flow.response = self.blocked(decision, incident_id or "")
            flow.metadata["dlp_blocked"] = True

    async def response(self, flow: http.HTTPFlow) -> None:
        """Kill a flow a vendor switched to anything but an accepted WebSocket (never raw TCP)."""
        policy = self.gateway.policy
        if policy is None or flow.response is None or flow.error or not flow.live:
            return
        if flow.response.status_code != 101 or flow.websocket is not None:
            return
        decision = _refusal(policy, flow.request.host, UPGRADE_RULE)
        await self._record_http(flow, Direction.RESPONSE, decision)
        if decision.enforced and flow.killable:
            _kill(flow)

    async def _record_http(
        self, flow: http.HTTPFlow, direction: Direction, decision: Decision
    ) -> str | None:
        request = flow.request
        part = request if direction is Direction.REQUEST else flow.response
        assert part is not None
        peer = flow.client_conn.peername
        info = FlowInfo(
            flow_id=flow.id,
            client=f"{peer[0]}:{peer[1]}" if peer else "",
            scheme=request.scheme,
            host=request.host,
            port=request.port,
            method=request.method,
            path=request.path,
            direction=direction.value,
        )
        message = Message(
            direction=direction,
            method=request.method,
            host=request.host,
            path=request.path.split("?", 1)[0],
            content_type=part.headers.get("content-type", ""),
            headers=tuple(part.headers.items(multi=True)),  # type: ignore[no-untyped-call]  # unannotated
        )
        return await self.gateway.record_channel(flow, info, request.pretty_url, decision, message)


def _mark(flow: Flow | None, action: TunnelAction) -> None:
    """Remember on the flow what was decided, so that its hooks neither decide nor log again."""
    if flow is not None:
        flow.metadata["dlp_tunnel"] = action.value


def _guessed_http(chosen: layer.Layer | None, context: Context, data: bytes) -> bool:
    """True when mitmproxy chose HTTP by looking at the client's first bytes.

    That is an HTTP layer in transparent mode (inside a tunnel, or a transparent listener)
    with no ALPN to go by; the explicit proxy's own HTTP layer and HTTP/2 by ALPN are not, and
    neither is a choice made before any byte came (a reverse proxy's).
    """
    return (
        isinstance(chosen, layers.HttpLayer)
        and chosen.mode is HTTPMode.transparent
        and not context.client.alpn
        and bool(data)
    )


def _starts_like_http(data: bytes) -> bool:
    """True when `data` starts with an HTTP/1 request line (method, target, version)."""
    return _REQUEST_LINE.match(data) is not None


def _tunnel_in(chosen: layer.Layer | None) -> tuple[layer.Layer, str] | None:
    """The first layer in the chosen stack that relays bytes unparsed, with its kind."""
    current = chosen
    while current is not None:
        for kind, name in _TUNNEL_KINDS:
            if isinstance(current, kind):
                return current, name
        current = getattr(current, "child_layer", None)
    return None


def _discard(chosen: layer.Layer, context: Context) -> None:
    """Take the layers of a stack that will not run out of the context's layer list."""
    current: layer.Layer | None = chosen
    while current is not None:
        if current in context.layers:
            context.layers.remove(current)
        current = getattr(current, "child_layer", None)


def _relay_layer(context: Context) -> tcp_layer.TCPLayer | udp_layer.UDPLayer:
    """A TCP (or UDP) layer with a flow, so that every message passes the message hooks."""
    if context.client.transport_protocol == "udp":
        return udp_layer.UDPLayer(context)
    return tcp_layer.TCPLayer(context)


def _mitmproxys_own_resolver(context: Context) -> bool:
    """True for WireGuard mode's DNS server (10.0.0.53:53), answered by mitmproxy itself.

    mitmproxy's DnsResolver (`addons/dns_resolver.py`) resolves queries there; none is relayed.
    """
    return isinstance(context.client.proxy_mode, mode_specs.WireGuardMode) and tuple(
        context.server.address or ()
    ) == ("10.0.0.53", 53)


def _destination(context: Context) -> tuple[str, int]:
    """Where the connection goes: the server address asked for, else the TLS server name."""
    address = context.server.address
    if address:
        return str(address[0]).lower(), int(address[1])
    return str(context.client.sni or "").lower(), 0


def _flow_destination(flow: tcp.TCPFlow | udp.UDPFlow) -> tuple[str, int]:
    address = flow.server_conn.address
    if address:
        return str(address[0]).lower(), int(address[1])
    return str(flow.client_conn.sni or "").lower(), 0


def _peer(client: connection.Client) -> str:
    peer = client.peername
    return f"{peer[0]}:{peer[1]}" if peer else ""


def _tunnel_info(flow: Flow | None, context: Context, kind: str, host: str, port: int) -> FlowInfo:
    return FlowInfo(
        flow_id=flow.id if flow is not None else str(uuid.uuid4()),
        client=_peer(context.client),
        scheme="udp" if context.client.transport_protocol == "udp" else "tcp",
        host=host,
        port=port,
        method=kind,
        path="/",
        direction=Direction.REQUEST.value,
    )


def _flow_tunnel_info(flow: tcp.TCPFlow | udp.UDPFlow, kind: str, host: str, port: int) -> FlowInfo:
    return FlowInfo(
        flow_id=flow.id,
        client=_peer(flow.client_conn),
        scheme=kind.lower(),
        host=host,
        port=port,
        method=kind,
        path="/",
        direction=Direction.REQUEST.value,
    )


# --- the refused layer and killable TCP/UDP layers -------------------------------------------


class RefusedLayer(layer.Layer):
    """Closes its connection at the first event; relays nothing, in either direction."""

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._closed = False

    def _handle_event(self, event: events.Event) -> layer.CommandGenerator[None]:
        if self._closed:
            return
        self._closed = True
        for conn in (self.context.server, self.context.client):
            if conn.state is not connection.ConnectionState.CLOSED:
                yield commands.CloseConnection(conn)


Relay = tcp_layer.TCPLayer | udp_layer.UDPLayer
Step = Callable[[Any, events.Event], Generator[commands.Command, Any, None]]


def _kill(flow: Flow) -> None:
    """Kill `flow`, as mitmproxy's own addons do (the patched layers honour it for TCP/UDP)."""
    flow.kill()  # type: ignore[no-untyped-call]  # mitmproxy's Flow.kill is unannotated


def _killed(flow: Flow | None) -> bool:
    return flow is not None and flow.error is not None and flow.error.msg == Error.KILLED_MESSAGE


def _shut(relay: Relay) -> Generator[commands.Command, Any, None]:
    """Close both connections of a killed flow's layer, once; it relays nothing from then on."""
    relay._handle_event = relay.done
    for conn in (relay.context.server, relay.context.client):
        if conn.state is not connection.ConnectionState.CLOSED:
            yield commands.CloseConnection(conn)
    if isinstance(relay, udp_layer.UDPLayer):
        assert relay.flow is not None
        yield udp_layer.UdpErrorHook(relay.flow)
    else:
        assert relay.flow is not None
        yield tcp_layer.TcpErrorHook(relay.flow)


def _honouring_kill(step: Step) -> Step:
    """Wrap a TCP/UDP layer step: once its flow is killed, close both sides, relay no more.

    The check runs before the step and after each command it yields returns (a hook), so a
    flow killed in `tcp_start` never connects and a message killed in `tcp_message` is never
    sent.
    """

    @functools.wraps(step)
    def guarded(relay: Relay, event: events.Event) -> Generator[commands.Command, Any, None]:
        flow = relay.flow
        if _killed(flow):
            yield from _shut(relay)
            return
        steps = step(relay, event)
        reply: Any = None
        while True:
            try:
                command = steps.send(reply)
            except StopIteration:
                break
            if _killed(flow):
                steps.close()
                break
            reply = yield command
        if _killed(flow):
            yield from _shut(relay)

    guarded.__dlp_guard__ = True  # type: ignore[attr-defined]
    return guarded


# --- WebSocket control frames ------------------------------------------------------------------


@dataclass(frozen=True)
class _Ping(wsproto.events.Ping):
    """A ping received, its payload kept aside: `echo` returns to its sender in the pong."""

    echo: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class _Pong(wsproto.events.Pong):
    """The answer to a ping the gateway relayed: `echo` is the pinging side's own payload."""

    echo: bytes = field(default=b"", repr=False)


# mitmproxy logs "Received WebSocket {type(event).__name__.lower()} ...": keep its wording.
_Ping.__name__ = "Ping"
_Pong.__name__ = "Pong"


class GuardedConnection(websocket_layer.WebsocketConnection):
    """mitmproxy's per-side WebSocket connection, without control-frame payloads crossing.

    `events` is what one side sent (as mitmproxy's layer sees it), `send2` what the layer sends
    to this side. A ping from A reaches the layer with an empty payload (so its log line holds
    none) and A's payload aside; sending it to B, this side's `send2` uses a random nonce and
    remembers A's payload under it; B's pong with that nonce comes back as A's payload.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The nonces of the pings sent to this side, oldest first, with the payload to echo.
        self.pings: collections.OrderedDict[bytes, bytes] = collections.OrderedDict()

    def events(self) -> Generator[wsproto.events.Event, None, None]:
        """What this side sent, control-frame payloads taken out."""
        for event in super().events():
            yield self._received(event)

    def send2(self, event: wsproto.events.Event) -> commands.SendData:
        """Send `event` to this side, a relayed ping under a nonce."""
        return super().send2(self._outgoing(event))

    def _received(self, event: wsproto.events.Event) -> wsproto.events.Event:
        if isinstance(event, wsproto.events.Ping):
            return _Ping(payload=b"", echo=bytes(event.payload))
        if isinstance(event, wsproto.events.Pong):
            nonce = bytes(event.payload)
            if nonce not in self.pings:
                return wsproto.events.Pong(payload=b"")  # unsolicited: a heartbeat
            while self.pings:
                sent, echo = self.pings.popitem(last=False)
                if sent == nonce:  # earlier pings this pong also answers are forgotten
                    return _Pong(payload=b"", echo=echo)
        if isinstance(event, wsproto.events.CloseConnection):
            return wsproto.events.CloseConnection(code=event.code, reason="")
        return event

    def _outgoing(self, event: wsproto.events.Event) -> wsproto.events.Event:
        if isinstance(event, _Ping):
            nonce = secrets.token_bytes(8)
            self.pings[nonce] = event.echo
            while len(self.pings) > MAX_PINGS_IN_FLIGHT:
                self.pings.popitem(last=False)
            return wsproto.events.Ping(payload=nonce)
        if isinstance(event, _Pong):
            return wsproto.events.Pong(payload=event.echo)
        return event


# --- installing ------------------------------------------------------------------------------


def install() -> None:
    """Patch mitmproxy once: killable TCP and UDP layers, the guarded WebSocket connection.

    Checks that mitmproxy has the shape this relies on and raises `RuntimeError` if not: a
    mitmproxy upgrade that changes these layers must be looked at, not run unguarded.
    """
    for relay in (tcp_layer.TCPLayer, udp_layer.UDPLayer):
        for name in ("start", "relay_messages", "done", "_handle_event"):
            if not callable(getattr(relay, name, None)):
                raise RuntimeError(f"mitmproxy's {relay.__name__} has no {name}: update channels")
        if getattr(relay.start, "__dlp_guard__", False):
            continue
        guarded_start = _honouring_kill(relay.start)
        relay.start = guarded_start  # type: ignore[method-assign]
        relay._handle_event = guarded_start
        relay.relay_messages = _honouring_kill(relay.relay_messages)  # type: ignore[method-assign]
    connection_class = websocket_layer.WebsocketConnection
    if connection_class is not GuardedConnection:
        if GuardedConnection.__mro__[1] is not connection_class:
            raise RuntimeError("mitmproxy's WebsocketConnection changed: update channels")
        websocket_layer.WebsocketConnection = GuardedConnection  # type: ignore[misc]
    if not hasattr(dns_layer, "DNSLayer"):
        raise RuntimeError("mitmproxy has no DNSLayer: update channels")
