"""What a gateway that changes nothing would give: the vendor gets exactly what was sent."""

from __future__ import annotations

import h2.connection
import h2.settings

from bench.bypass.cases import Case
from bench.bypass.client import Answer, H2Request, Http1, RawTcp
from bench.bypass.seen import Record, Seen, seen_from
from bench.bypass.vendor import DEFAULT_REPLY
from bench.bypass.wire import CLOSE, h2_config, parse_http1_response, parse_ws_frames, ws_frame

HOST = "127.0.0.1:8000"
SWITCHED = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"


def h2_bytes(request: H2Request) -> bytes:
    """The bytes an HTTP/2 client sends for `request` (to a server that opened its windows)."""
    conn = h2.connection.H2Connection(h2_config(client_side=True))
    conn.initiate_connection()
    server = h2.connection.H2Connection(h2_config(client_side=False))
    server.initiate_connection()
    server.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
    server.increment_flow_control_window(2**31 - 1 - 65535)
    conn.receive_data(server.data_to_send())
    headers = [(":method", request.method), (":scheme", "https")]
    headers += [(":authority", request.authority or "v"), (":path", request.path)]
    conn.send_headers(
        1, [*headers, *request.headers], end_stream=not request.body and not request.trailers
    )
    size = conn.max_outbound_frame_size
    for at in range(0, len(request.body), size):
        last = at + size >= len(request.body)
        conn.send_data(1, request.body[at : at + size], end_stream=last and not request.trailers)
    if request.trailers:
        conn.send_headers(1, list(request.trailers), end_stream=True)
    return conn.data_to_send()


def sent_record(case: Case) -> Record:
    """The vendor's record of the case through a gateway that changes nothing."""
    ex = case.exchange
    if isinstance(ex, RawTcp):
        return Record(b"".join(ex.messages))
    if isinstance(ex, H2Request):
        return Record(h2_bytes(ex), alpn="h2")
    target = ex.request.target
    if ex.request.absolute:  # forwarded as written, userinfo and all
        target = ex.request.absolute.replace("{authority}", HOST)
    data = ex.request.wire(target, HOST)
    if ex.after_upgrade or ex.frames:
        frames = (
            ex.frames
            if not ex.frames or ex.frames[-1][0] & 0x0F == CLOSE
            else (*ex.frames, ws_frame(CLOSE, b"\x03\xe8"))
        )
        return Record(data + ex.after_upgrade + b"".join(frames), SWITCHED)
    return Record(data, case.script.reply)


def transparent(case: Case) -> tuple[Seen, Answer]:
    """What the vendor and the client see through a gateway that changes nothing."""
    seen = seen_from([sent_record(case)])
    ex = case.exchange
    if isinstance(ex, H2Request):
        reply = case.script.h2
        return seen, Answer(
            reply.status, body=reply.body, headers=reply.headers, trailers=reply.trailers
        )
    if isinstance(ex, RawTcp):
        return seen, Answer(200, received=b"ACK 1\n")
    if isinstance(ex, Http1) and (ex.frames or ex.after_upgrade):
        sent = b"".join(ws_frame(0x1, m, mask=False) for m in case.script.ws_send)
        frames = tuple(parse_ws_frames(sent)[0])
        return seen, Answer(101, received=SWITCHED + sent, frames=frames)
    raw = case.script.reply or DEFAULT_REPLY
    response, _ = parse_http1_response(raw, closed=True)
    assert response is not None
    return seen, Answer(
        response.status,
        received=raw,
        body=response.body,
        headers=response.headers,
        trailers=response.trailers,
    )
