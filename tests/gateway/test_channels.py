"""Tests for dlp_proxy/gateway/channels.py: tunnels refused or inspected, upgrades refused,
WebSocket control frames emptied; mitmproxy's own layers driven event by event."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import wsproto
import wsproto.events as ws
from mitmproxy import connection, http, options
from mitmproxy.connection import ConnectionState
from mitmproxy.flow import Flow
from mitmproxy.proxy import commands, events, layer, layers, mode_specs
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layers import tcp as tcp_layer
from mitmproxy.proxy.layers import udp as udp_layer
from mitmproxy.proxy.layers import websocket as websocket_layer
from mitmproxy.test import taddons, tflow

from dlp_proxy.core.inspect import Decision, Message
from dlp_proxy.gateway import channels
from dlp_proxy.gateway.channels import (
    ChannelGuard,
    GuardedConnection,
    RefusedLayer,
    install,
    tunnel_decision,
    upgrade_refused,
)
from dlp_proxy.incidents.audit import FlowInfo
from dlp_proxy.policy.loader import parse_policy
from dlp_proxy.policy.model import Action, Mode, Policy, TunnelAction

CARD = b"4111 1111 1111 1111"
EMAIL = "maria.gonzalez@example.com"

POLICY = """
version: 1
name: channels
mode: {mode}
unknown_destinations: {unknown}
vendors:
  - id: files
    hosts: [files.vendor.example]
    tunnels: {{action: allow, reason: "SFTP, encrypted end to end (contract 17)"}}
  - id: chat
    hosts: [chat.vendor.example]
    tunnels: inspect
  - id: web
    hosts: [web.vendor.example]
rules: [{{id: block-ssn, entities: [US_SSN], action: block}}]
"""


def policy(mode: str = "enforce", unknown: str = "inspect") -> Policy:
    """The test policy: tunnels refused but to `files` (allowed) and `chat` (inspected)."""
    return parse_policy(textwrap.dedent(POLICY.format(mode=mode, unknown=unknown)))


# --- the decisions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "action", "vendor"),
    [
        ("web.vendor.example", TunnelAction.REFUSE, "web"),
        ("nobody.example", TunnelAction.REFUSE, None),
        ("files.vendor.example", TunnelAction.ALLOW, "files"),
        ("chat.vendor.example", TunnelAction.INSPECT, "chat"),
    ],
)
def test_a_tunnel_gets_its_vendors_setting_or_the_policys(
    host: str, action: TunnelAction, vendor: str | None
) -> None:
    """The vendor's `tunnels` decides for its hosts; everyone else gets the default refusal."""
    got, decision = tunnel_decision(policy(), host)
    assert got is action
    assert decision.vendor == vendor
    assert decision.inspected is False


def test_a_refused_tunnel_is_a_block_by_the_tunnels_rule() -> None:
    """Refusing is a logged block (`blocking_rule: tunnels`), enforced in enforce mode."""
    _, decision = tunnel_decision(policy(), "web.vendor.example")
    assert (decision.action, decision.blocking_rule, decision.enforced) == (
        Action.BLOCK,
        "tunnels",
        True,
    )


def test_an_allowed_tunnel_carries_its_reason_into_the_log() -> None:
    """An allowed tunnel is logged as allowed by `tunnels`, with the policy's reason."""
    _, decision = tunnel_decision(policy(), "files.vendor.example")
    assert decision.action is Action.ALLOW
    assert decision.allowed_by == ("tunnels",)
    assert decision.allow_reasons == {"tunnels": "SFTP, encrypted end to end (contract 17)"}


def test_unknown_destinations_block_refuses_tunnels_to_unknown_hosts() -> None:
    """Under `unknown_destinations: block` a tunnel to an unknown host is refused as such."""
    action, decision = tunnel_decision(policy(unknown="block"), "nobody.example")
    assert action is TunnelAction.REFUSE
    assert decision.blocking_rule == "unknown_destination"
    action, _ = tunnel_decision(policy(unknown="block"), "chat.vendor.example")
    assert action is TunnelAction.INSPECT


def test_in_monitor_mode_a_refusal_is_only_logged() -> None:
    """Monitor mode logs would_block and changes nothing, as for every other block."""
    _, decision = tunnel_decision(policy(mode="monitor"), "web.vendor.example")
    assert decision.outcome == "would_block"
    assert not decision.enforced


def request(headers: dict[str, str], method: str = "GET", version: str = "HTTP/1.1") -> Any:
    """A request to web.vendor.example with `headers`."""
    req = tflow.treq(method=method.encode(), http_version=version.encode())
    req.host = "web.vendor.example"
    req.headers.clear()
    for name, value in headers.items():
        req.headers.add(name, value)
    return req


WEBSOCKET = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}


@pytest.mark.parametrize(
    ("headers", "method", "refused"),
    [
        pytest.param({}, "GET", False, id="no-upgrade"),
        pytest.param(WEBSOCKET, "GET", False, id="websocket"),
        pytest.param({**WEBSOCKET, "Upgrade": "WebSocket"}, "GET", False, id="websocket-case"),
        pytest.param({"Connection": "Upgrade", "Upgrade": "h2c"}, "GET", True, id="h2c"),
        pytest.param({"Upgrade": "h2c", "HTTP2-Settings": "AAMAAABkAAQAAP__"}, "GET", True),
        pytest.param({**WEBSOCKET, "Sec-WebSocket-Version": "8"}, "GET", True, id="ws-version-8"),
        pytest.param({"Upgrade": "websocket"}, "GET", True, id="ws-without-version"),
        pytest.param({**WEBSOCKET, "Upgrade": "websocket, h2c"}, "GET", True, id="two-protocols"),
        pytest.param({"Upgrade": "TLS/1.0"}, "OPTIONS", True, id="tls-upgrade"),
        pytest.param(WEBSOCKET, "POST", True, id="websocket-post"),
        pytest.param({"Upgrade": ""}, "GET", True, id="empty-upgrade"),
    ],
)
def test_only_a_websocket_handshake_may_upgrade(
    headers: dict[str, str], method: str, refused: bool
) -> None:
    """Any Upgrade but a GET with `Upgrade: websocket` and version 13 is refused, h2c too."""
    assert upgrade_refused(request(headers, method)) is refused


def test_a_second_upgrade_header_or_http_1_0_is_refused() -> None:
    """Two Upgrade headers, or a handshake over HTTP/1.0, are not a WebSocket handshake."""
    twice = request(WEBSOCKET)
    twice.headers.add("Upgrade", "h2c")
    assert upgrade_refused(twice)
    assert upgrade_refused(request(WEBSOCKET, version="HTTP/1.0"))


def test_with_websockets_off_even_a_handshake_is_refused() -> None:
    """mitmproxy without its `websocket` option would relay the 101 raw: refuse it."""
    assert upgrade_refused(request(WEBSOCKET), websocket=False)


# --- driving mitmproxy's layers --------------------------------------------------------------


def context(address: tuple[str, int] = ("chat.vendor.example", 5222), open_: bool = True) -> Any:
    """A layer context: an open client, a server at `address` (connected when `open_`)."""
    client = tflow.tclient_conn()
    client.transport_protocol = "tcp"
    client.alpn, client.sni = None, None  # a plain CONNECT tunnel: no TLS, no ALPN
    ctx = Context(client, options.Options())
    ctx.server.address = address
    if open_:
        ctx.server.state = ConnectionState.OPEN
        ctx.server.timestamp_start = 1.0
    return ctx


Hooks = Callable[[commands.StartHook], None]


def drive(target: layer.Layer, event: events.Event, on_hook: Hooks | None = None) -> list[Any]:
    """Feed one event to a layer, answer every blocking command at once, return all commands.

    `on_hook` runs for each hook before it completes, as an addon would.
    """
    seen: list[Any] = []
    queue = list(target.handle_event(event))
    while queue:
        command = queue.pop(0)
        seen.append(command)
        if isinstance(command, commands.CloseConnection):
            command.connection.state = ConnectionState.CLOSED
        if not command.blocking:
            continue
        reply: events.Event
        if isinstance(command, commands.StartHook):
            if on_hook is not None:
                on_hook(command)
            reply = events.HookCompleted(command)
        elif isinstance(command, commands.OpenConnection):
            command.connection.state = ConnectionState.OPEN
            command.connection.timestamp_start = 1.0
            reply = events.OpenConnectionCompleted(command, None)
        else:
            raise AssertionError(f"no reply for {command}")
        queue = list(target.handle_event(reply)) + queue
    return seen


def sent_to(seen: list[Any], conn: connection.Connection) -> bytes:
    """Everything the commands send to `conn`."""
    return b"".join(
        c.data for c in seen if isinstance(c, commands.SendData) and c.connection is conn
    )


def closed(seen: list[Any]) -> list[connection.Connection]:
    """The connections the commands close."""
    return [c.connection for c in seen if isinstance(c, commands.CloseConnection)]


def kill_on(kind: type[commands.StartHook]) -> Hooks:
    """A hook handler that kills the flow at hooks of `kind`, as the guard does."""

    def handler(hook: commands.StartHook) -> None:
        if isinstance(hook, kind):
            channels._kill(hook.args()[0])

    return handler


@pytest.fixture(autouse=True)
def installed() -> None:
    """mitmproxy's layers patched, as ChannelGuard.load does at startup."""
    install()


def test_install_makes_tcp_and_udp_layers_killable_and_swaps_the_websocket_connection() -> None:
    """After install the layers' steps are guarded; installing twice changes nothing."""
    start = tcp_layer.TCPLayer.start
    install()
    for relay in (tcp_layer.TCPLayer, udp_layer.UDPLayer):
        assert getattr(relay.start, "__dlp_guard__", False)
        assert getattr(relay.relay_messages, "__dlp_guard__", False)
        assert relay._handle_event is relay.start
    assert tcp_layer.TCPLayer.start is start
    assert websocket_layer.WebsocketConnection is GuardedConnection


def test_install_refuses_a_mitmproxy_whose_layers_changed_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A mitmproxy with another WebSocket connection class is not run unguarded."""

    class Other(wsproto.Connection):
        pass

    monkeypatch.setattr(websocket_layer, "WebsocketConnection", Other)
    with pytest.raises(RuntimeError, match="WebsocketConnection changed"):
        install()
    monkeypatch.delattr(udp_layer.UDPLayer, "relay_messages")
    with pytest.raises(RuntimeError, match="UDPLayer has no relay_messages"):
        install()


def test_a_tcp_message_is_relayed_when_nothing_kills_the_flow() -> None:
    """The control case: mitmproxy's TCP layer relays what it gets, both ways."""
    ctx = context()
    relay = tcp_layer.TCPLayer(ctx)
    drive(relay, events.Start())
    assert sent_to(drive(relay, events.DataReceived(ctx.client, b"hello")), ctx.server) == b"hello"
    assert sent_to(drive(relay, events.DataReceived(ctx.server, b"hi")), ctx.client) == b"hi"


def test_a_tcp_flow_killed_at_its_start_never_connects_and_relays_nothing() -> None:
    """Killed in tcp_start: no connection to the server is opened; the client is closed."""
    ctx = context(open_=False)
    relay = tcp_layer.TCPLayer(ctx)
    seen = drive(relay, events.Start(), kill_on(tcp_layer.TcpStartHook))
    assert not any(isinstance(c, commands.OpenConnection) for c in seen)
    assert closed(seen) == [ctx.client]
    assert any(isinstance(c, tcp_layer.TcpErrorHook) for c in seen)
    later = drive(relay, events.DataReceived(ctx.client, CARD))
    assert sent_to(later, ctx.server) == b""


def test_a_tcp_flow_killed_at_its_start_with_a_server_greeting_waiting_closes_both() -> None:
    """Server already connected (eager): its greeting never reaches the client; both close."""
    ctx = context()
    relay = tcp_layer.TCPLayer(ctx)
    seen = drive(relay, events.Start(), kill_on(tcp_layer.TcpStartHook))
    seen += drive(relay, events.DataReceived(ctx.server, b"220 smtp.vendor ready\r\n"))
    assert sent_to(seen, ctx.client) == b""
    assert set(map(id, closed(seen))) == {id(ctx.client), id(ctx.server)}


def test_a_tcp_message_killed_in_its_hook_is_not_sent_and_the_connection_ends() -> None:
    """Killed in tcp_message: that message and every later one stay at the gateway."""
    ctx = context()
    relay = tcp_layer.TCPLayer(ctx)
    drive(relay, events.Start())
    seen = drive(relay, events.DataReceived(ctx.client, CARD), kill_on(tcp_layer.TcpMessageHook))
    assert sent_to(seen, ctx.server) == b""
    assert set(map(id, closed(seen))) == {id(ctx.client), id(ctx.server)}
    assert sent_to(drive(relay, events.DataReceived(ctx.client, b"more")), ctx.server) == b""


def test_a_udp_datagram_killed_in_its_hook_is_not_sent() -> None:
    """UDP layers honour a kill the same way; not even an empty datagram goes out."""
    ctx = context(("dns.vendor.example", 5353))
    ctx.client.transport_protocol = "udp"
    relay = udp_layer.UDPLayer(ctx)
    drive(relay, events.Start())
    seen = drive(relay, events.DataReceived(ctx.client, CARD), kill_on(udp_layer.UdpMessageHook))
    assert not [c for c in seen if isinstance(c, commands.SendData)]
    assert ctx.client in closed(seen)


def test_the_refused_layer_closes_both_sides_and_relays_nothing() -> None:
    """RefusedLayer closes client and server at its first event and then ignores everything."""
    ctx = context()
    refused = RefusedLayer(ctx)
    seen = drive(refused, events.Start())
    seen += drive(refused, events.DataReceived(ctx.server, b"220 hello\r\n"))
    seen += drive(refused, events.DataReceived(ctx.client, CARD))
    assert [c for c in seen if not isinstance(c, commands.CloseConnection)] == []
    assert set(map(id, closed(seen))) == {id(ctx.client), id(ctx.server)}


# --- WebSocket control frames ----------------------------------------------------------------


@dataclass
class WebSocketPair:
    """mitmproxy's WebSocket layer between a wsproto client and a wsproto server."""

    ctx: Any
    flow: http.HTTPFlow
    layer: websocket_layer.WebsocketLayer
    client: wsproto.Connection = field(
        default_factory=lambda: wsproto.Connection(wsproto.ConnectionType.CLIENT)
    )
    server: wsproto.Connection = field(
        default_factory=lambda: wsproto.Connection(wsproto.ConnectionType.SERVER)
    )
    logs: list[str] = field(default_factory=list)

    def from_client(self, event: ws.Event) -> list[ws.Event]:
        """The client sends `event`; what the server receives."""
        return self._relay(self.client.send(event), self.ctx.client, self.server)

    def from_server(self, event: ws.Event) -> list[ws.Event]:
        """The server sends `event`; what the client receives."""
        return self._relay(self.server.send(event), self.ctx.server, self.client)

    def back_to_client(self) -> list[ws.Event]:
        """What the client received meanwhile (answers the gateway sent it)."""
        return list(self.client.events())

    def _relay(self, data: bytes, source: Any, peer: wsproto.Connection) -> list[ws.Event]:
        seen = drive(self.layer, events.DataReceived(source, data))
        self.logs += [c.message for c in seen if isinstance(c, commands.Log)]
        other = self.ctx.client if source is self.ctx.server else self.ctx.server
        # Answers the layer sends back to the source are fed to the source's peer object.
        back = self.client if source is self.ctx.client else self.server
        back_data = sent_to(seen, source)
        if back_data:
            back.receive_data(back_data)
        peer.receive_data(sent_to(seen, other))
        return list(peer.events())


@pytest.fixture
def pair() -> WebSocketPair:
    """An open WebSocket through mitmproxy's layer (with the guard installed)."""
    flow = tflow.twebsocketflow()
    flow.websocket.messages = []  # type: ignore[union-attr]
    ctx = context(("chat.vendor.example", 80))
    ws_layer = websocket_layer.WebsocketLayer(ctx, flow)
    drive(ws_layer, events.Start())
    return WebSocketPair(ctx, flow, ws_layer)


def test_the_websocket_layer_uses_the_guarded_connection(pair: WebSocketPair) -> None:
    """mitmproxy's layer builds its two sides from the class install put in its module."""
    assert type(pair.layer.client_ws) is GuardedConnection
    assert type(pair.layer.server_ws) is GuardedConnection


def test_a_ping_payload_never_reaches_the_other_side_nor_the_log(pair: WebSocketPair) -> None:
    """The vendor gets a ping with a random nonce; mitmproxy logs an empty payload."""
    (ping,) = pair.from_client(ws.Ping(payload=CARD))
    assert isinstance(ping, ws.Ping)
    assert len(ping.payload) == 8
    assert CARD not in bytes(ping.payload)
    assert pair.logs == ["Received WebSocket ping from client (payload: b'')"]


def test_the_pinging_side_gets_its_own_payload_back_when_the_other_side_answers(
    pair: WebSocketPair,
) -> None:
    """RFC 6455: the pong echoes the ping; the vendor's pong to the nonce returns the payload."""
    (ping,) = pair.from_client(ws.Ping(payload=b"keepalive-7"))
    assert pair.back_to_client() == []  # no pong before the vendor answered
    (pong,) = pair.from_server(ping.response())
    assert pong == ws.Pong(payload=b"keepalive-7")
    assert all("keepalive-7" not in line for line in pair.logs)


def test_a_vendors_ping_is_answered_with_its_payload_which_the_client_never_sees(
    pair: WebSocketPair,
) -> None:
    """The same the other way round: the client sees a nonce, the vendor gets its payload."""
    (ping,) = pair.from_server(ws.Ping(payload=b"vendor-session-42"))
    assert b"vendor-session-42" not in bytes(ping.payload)
    (pong,) = pair.from_client(ping.response())
    assert pong == ws.Pong(payload=b"vendor-session-42")


def test_an_unsolicited_pong_crosses_empty(pair: WebSocketPair) -> None:
    """A pong answering nothing the gateway sent (a heartbeat) carries no payload across."""
    assert pair.from_client(ws.Pong(payload=CARD)) == [ws.Pong(payload=b"")]


def test_a_pong_answers_earlier_pings_too_and_stale_ones_are_forgotten(
    pair: WebSocketPair,
) -> None:
    """A pong to the second of two pings echoes the second; the first is then unanswerable."""
    (first,) = pair.from_client(ws.Ping(payload=b"one"))
    (second,) = pair.from_client(ws.Ping(payload=b"two"))
    assert pair.from_server(second.response()) == [ws.Pong(payload=b"two")]
    assert pair.from_server(first.response()) == [ws.Pong(payload=b"")]


def test_pings_in_flight_are_bounded(pair: WebSocketPair) -> None:
    """A side that never answers cannot make the gateway remember pings without end."""
    for i in range(channels.MAX_PINGS_IN_FLIGHT + 5):
        pair.from_client(ws.Ping(payload=str(i).encode()))
    assert len(pair.layer.server_ws.pings) == channels.MAX_PINGS_IN_FLIGHT  # type: ignore[attr-defined]


def test_a_close_keeps_its_code_and_loses_its_reason(pair: WebSocketPair) -> None:
    """The close reason (free text) never crosses or lands on the flow; the code does."""
    (close,) = pair.from_client(ws.CloseConnection(code=4001, reason=f"customer {EMAIL}"))
    assert isinstance(close, ws.CloseConnection)
    assert (close.code, close.reason) == (4001, "")
    assert pair.flow.websocket is not None
    assert (pair.flow.websocket.close_code, pair.flow.websocket.close_reason) == (4001, "")
    echoed = pair.back_to_client()
    assert [(e.code, e.reason) for e in echoed if isinstance(e, ws.CloseConnection)] == [(4001, "")]


def test_text_messages_still_pass_the_message_hook(pair: WebSocketPair) -> None:
    """Data frames are untouched by the guard: websocket_message sees and relays them."""
    received = pair.from_client(ws.TextMessage(data="hello"))
    assert [e.data for e in received if isinstance(e, ws.TextMessage)] == ["hello"]
    assert pair.flow.websocket is not None
    assert [m.content for m in pair.flow.websocket.messages] == [b"hello"]


# --- the addon -------------------------------------------------------------------------------


@dataclass
class FakeGateway:
    """The addon's side of the guard: a policy, and a record of what was logged or inspected."""

    policy: Policy | None
    recorded: list[tuple[Flow | None, FlowInfo, str, Decision, Message]] = field(
        default_factory=list
    )
    inspected: list[Message] = field(default_factory=list)
    verdict: Callable[[Message], Decision | None] = lambda message: None

    async def inspect_channel(
        self, flow: Flow, info: FlowInfo, url: str, message: Message
    ) -> Decision | None:
        """Record the message; answer with `verdict`."""
        self.inspected.append(message)
        return self.verdict(message)

    async def record_channel(
        self, flow: Flow | None, info: FlowInfo, url: str, decision: Decision, message: Message
    ) -> str | None:
        """Record the decision; blocks get an incident id."""
        self.recorded.append((flow, info, url, decision, message))
        return "inc-1" if decision.action is Action.BLOCK else None


def blocked(decision: Decision, incident_id: str) -> http.Response:
    """A stand-in for the addon's blocked_response."""
    return http.Response.make(403, f"{decision.blocking_rule} {incident_id}".encode())


@pytest.fixture
def guard() -> Iterator[tuple[ChannelGuard, FakeGateway]]:
    """A guard over a fake gateway with the test policy, inside a mitmproxy test context."""
    gateway = FakeGateway(policy())
    addon = ChannelGuard(gateway, blocked)
    with taddons.context(addon):
        yield addon, gateway


def next_layer_to(
    host: str,
    data: bytes = b"",
    chosen: Callable[[Any], layer.Layer] | None = None,
    port: int = 5222,
) -> layer.NextLayer:
    """A next-layer decision for a tunnel to `host` with `data` from the client so far.

    `chosen` builds what mitmproxy's NextLayer addon picked (a TCP layer unless given).
    """
    ctx = context((host, port))
    nextlayer = layer.NextLayer(ctx)
    nextlayer.events = [events.Start(), events.DataReceived(ctx.client, data)]
    nextlayer.layer = (chosen or layers.TCPLayer)(ctx)
    return nextlayer


async def test_a_refused_tunnel_gets_the_refused_layer_and_is_logged(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """The TCP layer mitmproxy chose is replaced; the decision names `tunnels` and the bytes."""
    addon, gateway = guard
    nextlayer = next_layer_to("web.vendor.example", b"EHLO me\r\n")
    tcp = nextlayer.layer
    await addon.next_layer(nextlayer)
    assert isinstance(nextlayer.layer, RefusedLayer)
    assert tcp not in nextlayer.context.layers
    ((_flow, info, url, decision, message),) = gateway.recorded
    assert decision.blocking_rule == "tunnels"
    assert decision.action is Action.BLOCK
    assert (info.method, info.scheme, info.host, info.port, info.path) == (
        "TCP",
        "tcp",
        "web.vendor.example",
        5222,
        "/",
    )
    assert url == "tcp://web.vendor.example:5222"
    assert message.body == b"EHLO me\r\n"  # the evidence: what the client tried to send


async def test_an_allowed_tunnel_keeps_its_layer_and_logs_the_reason_once(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """Allowed: mitmproxy's layer stays, the reason is logged, tcp_start logs nothing more."""
    addon, gateway = guard
    nextlayer = next_layer_to("files.vendor.example")
    tcp = nextlayer.layer
    await addon.next_layer(nextlayer)
    assert nextlayer.layer is tcp
    ((_, _, _, decision, _),) = gateway.recorded
    assert decision.allow_reasons == {"tunnels": "SFTP, encrypted end to end (contract 17)"}
    assert isinstance(tcp, tcp_layer.TCPLayer)
    assert tcp.flow is not None
    await addon.tcp_start(tcp.flow)
    assert len(gateway.recorded) == 1


async def test_an_inspected_tunnel_keeps_its_layer_and_logs_per_message(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """Inspected: nothing is logged for the tunnel itself; its flow is marked for inspection."""
    addon, gateway = guard
    nextlayer = next_layer_to("chat.vendor.example")
    tcp = nextlayer.layer
    await addon.next_layer(nextlayer)
    assert nextlayer.layer is tcp
    assert gateway.recorded == []
    assert isinstance(tcp, tcp_layer.TCPLayer)
    assert tcp.flow is not None
    assert tcp.flow.metadata["dlp_tunnel"] == "inspect"


async def test_an_ignored_host_to_inspect_becomes_a_tcp_layer_with_a_flow(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """ignore_hosts gives a flow-less layer no hook sees; to inspect, it gets one with a flow."""
    addon, _gateway = guard
    nextlayer = next_layer_to(
        "chat.vendor.example", chosen=lambda ctx: layers.TCPLayer(ctx, ignore=True)
    )
    await addon.next_layer(nextlayer)
    fresh = nextlayer.layer
    assert isinstance(fresh, tcp_layer.TCPLayer)
    assert fresh.flow is not None
    assert fresh.flow.metadata["dlp_tunnel"] == "inspect"
    assert nextlayer.context.layers.count(fresh) == 1


async def test_an_ignored_host_is_refused_like_any_tunnel(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """ignore_hosts no longer means unread: a refused destination is refused, flow or not."""
    addon, gateway = guard
    nextlayer = next_layer_to(
        "web.vendor.example", chosen=lambda ctx: layers.TCPLayer(ctx, ignore=True)
    )
    await addon.next_layer(nextlayer)
    assert isinstance(nextlayer.layer, RefusedLayer)
    ((flow, info, _, _, _),) = gateway.recorded
    assert flow is None
    assert info.flow_id


async def test_dns_through_a_tunnel_is_a_tunnel(guard: tuple[ChannelGuard, FakeGateway]) -> None:
    """CONNECT to port 53 gives mitmproxy's DNS layer, which relays queries: refused too."""
    addon, gateway = guard
    nextlayer = next_layer_to("web.vendor.example", chosen=layers.DNSLayer)
    await addon.next_layer(nextlayer)
    assert isinstance(nextlayer.layer, RefusedLayer)
    assert gateway.recorded[0][1].method == "DNS"


async def test_wireguards_own_dns_server_is_not_a_tunnel(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """WireGuard mode's 10.0.0.53 is answered by mitmproxy's resolver, not relayed: left be."""
    addon, gateway = guard
    nextlayer = next_layer_to("10.0.0.53", chosen=layers.DNSLayer, port=53)
    nextlayer.context.client.proxy_mode = mode_specs.ProxyMode.parse("wireguard")
    chosen = nextlayer.layer
    await addon.next_layer(nextlayer)
    assert nextlayer.layer is chosen
    assert gateway.recorded == []
    nextlayer.context.client.proxy_mode = mode_specs.ProxyMode.parse("regular")
    await addon.next_layer(nextlayer)  # the same address in another mode is a tunnel
    assert isinstance(nextlayer.layer, RefusedLayer)


async def test_http_is_left_to_the_http_layer(guard: tuple[ChannelGuard, FakeGateway]) -> None:
    """A connection mitmproxy reads as HTTP is not a tunnel: nothing is changed or logged."""
    addon, gateway = guard
    nextlayer = next_layer_to(
        "web.vendor.example",
        chosen=lambda ctx: layers.HttpLayer(ctx, layers.http.HTTPMode.transparent),
    )
    chosen = nextlayer.layer
    await addon.next_layer(nextlayer)
    assert nextlayer.layer is chosen
    assert gateway.recorded == []


def transparent_http(ctx: Any) -> layer.Layer:
    """What mitmproxy's NextLayer picks when the first line has a space: HTTP, by a guess."""
    return layers.HttpLayer(ctx, layers.http.HTTPMode.transparent)


async def test_bytes_mitmproxy_guesses_are_http_but_are_no_request_line_are_a_tunnel(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """`SYNC v1` has a space, so mitmproxy picks HTTP and would wait forever: it is refused."""
    addon, gateway = guard
    nextlayer = next_layer_to("web.vendor.example", b"SYNC v1\nssn=219-09-9999\n", transparent_http)
    await addon.next_layer(nextlayer)
    assert isinstance(nextlayer.layer, RefusedLayer)
    assert gateway.recorded[0][1].method == "TCP"


async def test_a_lookalike_to_an_inspected_vendor_is_inspected_as_tcp(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """For `inspect` the guessed HTTP layer becomes a TCP layer whose messages are inspected."""
    addon, _ = guard
    nextlayer = next_layer_to("chat.vendor.example", b"HELO acme\r\nDATA x\r\n", transparent_http)
    await addon.next_layer(nextlayer)
    fresh = nextlayer.layer
    assert isinstance(fresh, tcp_layer.TCPLayer)
    assert fresh.flow is not None
    assert fresh.flow.metadata["dlp_tunnel"] == "inspect"


@pytest.mark.parametrize(
    "first",
    [
        b"POST /v1/tickets HTTP/1.1\r\nHost: web.vendor.example\r\n",
        b"GET http://web.vendor.example/ HTTP/1.0\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ],
)
async def test_a_real_request_line_stays_http(
    guard: tuple[ChannelGuard, FakeGateway], first: bytes
) -> None:
    """A request line (HTTP/1.x, or HTTP/2's preface) is HTTP's to inspect: left alone."""
    addon, gateway = guard
    nextlayer = next_layer_to("web.vendor.example", first, transparent_http)
    chosen = nextlayer.layer
    await addon.next_layer(nextlayer)
    assert nextlayer.layer is chosen
    assert gateway.recorded == []


async def test_http_chosen_by_alpn_or_as_the_proxys_own_layer_is_not_second_guessed(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """HTTP/2 by ALPN sends frames, not a request line; the explicit proxy's layer is HTTP."""
    addon, gateway = guard
    nextlayer = next_layer_to("web.vendor.example", b"\x00\x00\x12\x04 frames", transparent_http)
    nextlayer.context.client.alpn = b"h2"
    chosen = nextlayer.layer
    await addon.next_layer(nextlayer)
    assert nextlayer.layer is chosen
    regular = next_layer_to(
        "web.vendor.example",
        b"SYNC v1\n",
        lambda ctx: layers.HttpLayer(ctx, layers.http.HTTPMode.regular),
    )
    chosen = regular.layer
    await addon.next_layer(regular)
    assert regular.layer is chosen
    assert gateway.recorded == []


async def test_monitor_mode_logs_a_refusal_and_lets_the_tunnel_be(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """In monitor mode the tunnel passes: the decision says would_block."""
    addon, gateway = guard
    gateway.policy = policy(mode="monitor")
    nextlayer = next_layer_to("web.vendor.example")
    tcp = nextlayer.layer
    await addon.next_layer(nextlayer)
    assert nextlayer.layer is tcp
    assert gateway.recorded[0][3].outcome == "would_block"


async def test_without_a_policy_the_guard_is_idle(guard: tuple[ChannelGuard, FakeGateway]) -> None:
    """No policy configured: mitmproxy's choice stands, as the addon is idle too."""
    addon, gateway = guard
    gateway.policy = None
    nextlayer = next_layer_to("web.vendor.example")
    tcp = nextlayer.layer
    await addon.next_layer(nextlayer)
    assert nextlayer.layer is tcp


async def test_a_tcp_flow_nobody_decided_on_is_refused_at_its_start(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """A TCP flow that reached tcp_start undecided (a QUIC stream, say) is decided and killed."""
    addon, gateway = guard
    flow = tflow.ttcpflow()
    flow.server_conn.address = ("web.vendor.example", 5222)
    await addon.tcp_start(flow)
    assert flow.error is not None
    assert not flow.live
    assert gateway.recorded[0][3].blocking_rule == "tunnels"


async def test_each_message_of_an_inspected_tunnel_is_inspected_as_text(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """Both directions go to the core as method TCP, path /, no content type."""
    addon, gateway = guard
    flow = tflow.ttcpflow()
    flow.server_conn.address = ("chat.vendor.example", 5222)
    await addon.tcp_start(flow)
    assert gateway.recorded == []
    assert flow.metadata["dlp_tunnel"] == "inspect"
    await addon.tcp_message(flow)  # the last message is the server's "it's me"
    flow.messages.append(tcp_layer.tcp.TCPMessage(True, b"my ssn is 219099999"))
    await addon.tcp_message(flow)
    first, second = gateway.inspected
    assert (first.method, first.path, first.content_type, first.direction.value) == (
        "TCP",
        "/",
        "",
        "response",
    )
    assert (second.body, second.direction.value, second.host) == (
        b"my ssn is 219099999",
        "request",
        "chat.vendor.example",
    )


def decision_of(action: Action, body: bytes | None = None, mode: Mode = Mode.ENFORCE) -> Decision:
    """A decision the fake gateway answers with."""
    return Decision(action=action, mode=mode, policy_name="t", policy_sha256="", body=body)


async def test_a_blocked_tcp_message_is_emptied_and_its_flow_killed(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """A block ends the tunnel; the blocked bytes are gone from the message."""
    addon, gateway = guard
    gateway.verdict = lambda message: decision_of(Action.BLOCK)
    flow = tflow.ttcpflow()
    flow.server_conn.address = ("chat.vendor.example", 5222)
    flow.messages.append(tcp_layer.tcp.TCPMessage(True, CARD))
    await addon.tcp_message(flow)
    assert flow.messages[-1].content == b""
    assert flow.error is not None
    assert not flow.live


async def test_a_redacted_tcp_message_is_rewritten(guard: tuple[ChannelGuard, FakeGateway]) -> None:
    """Redact and encrypt rewrite the message content the layer then sends."""
    addon, gateway = guard
    gateway.verdict = lambda message: decision_of(Action.REDACT, b"email <EMAIL_ADDRESS>")
    flow = tflow.ttcpflow()
    flow.server_conn.address = ("chat.vendor.example", 5222)
    flow.messages.append(tcp_layer.tcp.TCPMessage(True, f"email {EMAIL}".encode()))
    await addon.tcp_message(flow)
    assert flow.messages[-1].content == b"email <EMAIL_ADDRESS>"
    assert flow.live


async def test_in_monitor_mode_an_inspected_message_passes_unchanged(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """A would_block changes nothing."""
    addon, gateway = guard
    gateway.verdict = lambda message: decision_of(Action.BLOCK, mode=Mode.MONITOR)
    flow = tflow.ttcpflow()
    flow.server_conn.address = ("chat.vendor.example", 5222)
    await addon.tcp_message(flow)
    assert flow.messages[-1].content == b"it's me"
    assert flow.live


async def test_a_udp_datagram_of_an_inspected_tunnel_is_inspected(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """UDP messages are inspected like TCP ones, as method UDP."""
    addon, gateway = guard
    gateway.verdict = lambda message: decision_of(Action.BLOCK)
    flow = tflow.tudpflow()
    flow.server_conn.address = ("chat.vendor.example", 5222)
    await addon.udp_start(flow)
    await addon.udp_message(flow)
    assert gateway.inspected[0].method == "UDP"
    assert flow.messages[-1].content == b""
    assert not flow.live


async def test_a_udp_flow_to_a_refused_host_is_killed(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """UDP is refused by default the same way."""
    addon, gateway = guard
    flow = tflow.tudpflow()
    flow.server_conn.address = ("web.vendor.example", 5353)
    await addon.udp_start(flow)
    assert not flow.live
    assert gateway.recorded[0][1].method == "UDP"


def upgrade_flow(headers: dict[str, str]) -> http.HTTPFlow:
    """A request flow to web.vendor.example with `headers`."""
    flow = tflow.tflow()
    flow.request = request(headers)
    return flow


async def test_an_h2c_upgrade_is_answered_403_and_logged(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """The refusal is the blocked response with the incident id; nothing goes upstream."""
    addon, gateway = guard
    flow = upgrade_flow({"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c"})
    await addon.requestheaders(flow)
    assert flow.response is not None
    assert flow.response.status_code == 403
    assert flow.response.content == b"upgrade inc-1"
    ((_, info, _url, decision, message),) = gateway.recorded
    assert (decision.blocking_rule, info.direction, info.method) == ("upgrade", "request", "GET")
    assert ("Upgrade", "h2c") in message.headers  # kept as evidence, sealed


async def test_a_websocket_handshake_is_let_through(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """A proper handshake is not the guard's business: websocket_message inspects the rest."""
    addon, gateway = guard
    flow = upgrade_flow(WEBSOCKET)
    await addon.requestheaders(flow)
    assert flow.response is None
    assert gateway.recorded == []


async def test_a_101_to_anything_but_an_accepted_websocket_is_killed(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """mitmproxy would relay such a 101 raw (a TCPLayer): the flow is killed instead."""
    addon, gateway = guard
    flow = upgrade_flow({})
    flow.response = tflow.tresp(status_code=101, headers=http.Headers(upgrade="custom-proto"))
    await addon.response(flow)
    assert flow.error is not None
    assert not flow.live
    assert gateway.recorded[0][3].blocking_rule == "upgrade"
    assert gateway.recorded[0][1].direction == "response"


async def test_an_accepted_websocket_101_is_left_alone(
    guard: tuple[ChannelGuard, FakeGateway],
) -> None:
    """mitmproxy set flow.websocket: its WebSocket layer (and the guard's pings) take over."""
    addon, gateway = guard
    flow = tflow.twebsocketflow()
    await addon.response(flow)
    assert flow.live
    assert gateway.recorded == []


async def test_other_responses_are_left_alone(guard: tuple[ChannelGuard, FakeGateway]) -> None:
    """A 200 is the addon's to inspect, not the guard's."""
    addon, gateway = guard
    flow = tflow.tflow(resp=True)
    await addon.response(flow)
    assert flow.live
    assert gateway.recorded == []


def test_the_guard_hooks_are_named_as_mitmproxy_calls_them() -> None:
    """Every hook the guard defines is a mitmproxy event (a typo would never be called)."""
    from mitmproxy import hooks

    defined = {name for name in vars(ChannelGuard) if not name.startswith("_")}
    assert defined - {"load"} <= set(hooks.all_hooks) | {"load"}
    assert {"next_layer", "tcp_start", "tcp_message", "udp_start", "udp_message"} <= defined
