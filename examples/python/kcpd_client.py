"""A kcpd client in Python: the whole application side of a KCP session.

kcpd (docs/kcpd.md) owns the UDP side of KCP sessions. An application in any
language talks to it over two Unix sockets:

* the control socket, gRPC (kcpp.v1.Kcpd in proto/kcpp/v1/kcpd.proto): create
  listeners, dial sessions, watch events, read counters, close;
* the data socket: each stream is one connection, attached with the one-time
  token kcpd handed out ("ATTACH <token>\\n", then "OK\\n", then the bytes).

This file is both a small library (Kcpd, EventWatch, attach, exchange) and an
example that uses it end to end against two kcpd processes:

    python3 kcpd_client.py DIALER_CONTROL_SOCKET ACCEPTOR_CONTROL_SOCKET

It needs the gRPC stubs generated from proto/ on the import path (README.md
in this directory says how; they are generated, never checked in).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import os
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

import grpc

try:
    from proto.kcpp.v1 import kcpd_pb2 as pb
    from proto.kcpp.v1 import kcpd_pb2_grpc as pb_grpc
except ModuleNotFoundError as e:  # pragma: no cover - a setup mistake
    raise ImportError(
        "kcpd's Python stubs are missing: generate them with protoc from "
        "proto/kcpp/v1/kcpd.proto and put their directory on PYTHONPATH "
        "(see examples/python/README.md)"
    ) from e

# How long one control call may take. kcpd answers in microseconds; a deadline
# turns a wedged daemon into an error instead of a hang.
DEFAULT_CALL_TIMEOUT_S = 10.0


class KcpdError(Exception):
    """A control call failed. `code` is the gRPC status (docs/kcpd.md "Errors"),
    `details` kcpd's message, which names the field or limit to change."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str):
        super().__init__(f"{method}: {code.name}: {details}")
        self.method = method
        self.code = code
        self.details = details


class AttachError(Exception):
    """kcpd refused an attachment ("ERR <reason>"), or the handshake broke."""


class Kcpd:
    """A connection to one kcpd's control socket.

    Every method is one unary call with a deadline; failures raise KcpdError.
    Use as a context manager (or call close()) to release the channel.
    """

    def __init__(self, control_socket: str, call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S):
        self.control_socket = os.path.abspath(control_socket)
        self.call_timeout_s = call_timeout_s
        # gRPC's "unix:" target: an absolute path after the colon. No TLS:
        # kcpd checks the caller's uid on the socket instead (SO_PEERCRED).
        self._channel = grpc.insecure_channel("unix:" + self.control_socket)
        self._stub = pb_grpc.KcpdStub(self._channel)

    def __enter__(self) -> Kcpd:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self._stub, method)(request, timeout=self.call_timeout_s)
        except grpc.RpcError as e:
            raise KcpdError(method, e.code(), e.details()) from None

    def create_listener(
        self, listener_id: str, address: str, options: pb.SessionOptions | None = None
    ) -> pb.Listener:
        """Binds `address` ("ip:port"; port 0 picks one, see bound_address)."""
        listener = pb.Listener(address=address, session_options=options)
        return self._call(
            "CreateListener", pb.CreateListenerRequest(listener_id=listener_id, listener=listener)
        )

    def delete_listener(self, name: str, close_sessions: bool = False) -> None:
        request = pb.DeleteListenerRequest(name=name, close_sessions=close_sessions)
        self._call("DeleteListener", request)

    def dial(
        self, remote_address: str, options: pb.SessionOptions | None = None
    ) -> pb.DialSessionResponse:
        """Opens a session and its first stream (with its DataAttachment).

        KCP has no handshake: success means the session exists here, not that
        the peer answered."""
        return self._call(
            "DialSession", pb.DialSessionRequest(remote_address=remote_address, options=options)
        )

    def get_session(self, name: str) -> pb.Session:
        return self._call("GetSession", pb.GetSessionRequest(name=name))

    def close_session(self, name: str) -> None:
        self._call("CloseSession", pb.CloseSessionRequest(name=name))

    def get_stats(self) -> pb.Stats:
        return self._call("GetStats", pb.GetStatsRequest())

    def watch(self, listener: str = "", session: str = "") -> EventWatch:
        """Starts WatchSessionEvents (filtered by listener and/or session name)
        and returns once kcpd has registered it: nothing done afterwards is
        missed."""
        request = pb.WatchSessionEventsRequest(listener=listener, session=session)
        return EventWatch(self._stub, request)


class EventWatch:
    """A running WatchSessionEvents call whose events a background thread
    collects, so the caller can wait for the one it needs.

    kcpd sends the call's initial metadata as soon as the watch is registered;
    the constructor waits for it, which is what makes "watch, then dial" safe.
    """

    def __init__(self, stub: pb_grpc.KcpdStub, request: pb.WatchSessionEventsRequest):
        self._call = stub.WatchSessionEvents(request)
        self._changed = threading.Condition()
        self._events: list[pb.SessionEvent] = []
        self._error: KcpdError | None = None
        self._ended = False
        # Blocks until the metadata arrives, or the call ended (then the
        # thread below records why).
        self._call.initial_metadata()
        self._thread = threading.Thread(target=self._collect, name="kcpd-watch", daemon=True)
        self._thread.start()

    def __enter__(self) -> EventWatch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._call.cancel()
        self._thread.join()

    def _collect(self) -> None:
        try:
            for event in self._call:
                with self._changed:
                    self._events.append(event)
                    self._changed.notify_all()
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:  # CANCELLED: our close()
                self._error = KcpdError("WatchSessionEvents", e.code(), e.details())
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def wait_for(
        self, event_type: int, name: str = "", timeout_s: float = 20.0
    ) -> pb.SessionEvent:
        """The first event of `event_type` (a pb.SessionEvent.Type value, e.g.
        pb.SessionEvent.STREAM_ACCEPTED) whose session or stream is `name` (any,
        if empty), waiting up to `timeout_s` for it to arrive."""

        def find() -> pb.SessionEvent | None:
            for e in self._events:
                if e.type == event_type and name in ("", e.session.name, e.stream.name):
                    return e
            return None

        with self._changed:
            self._changed.wait_for(lambda: find() is not None or self._ended, timeout_s)
            found = find()
            if found is not None:
                return found
            what = f"{pb.SessionEvent.Type.Name(event_type)} {name}".strip()
            if self._error is not None:
                raise KcpdError(self._error.method, self._error.code,
                                f"{self._error.details} (while waiting for {what})")
            if self._ended:
                raise RuntimeError(f"the watch ended before {what}")
            raise TimeoutError(f"no {what} within {timeout_s} s")


def attach(attachment: pb.DataAttachment, timeout_s: float = 30.0) -> socket.socket:
    """Connects to kcpd's data socket and claims a stream with its token.

    Returns the connected socket: from here on it *is* the stream (write to
    send to the peer, read what the peer sent, shutdown(SHUT_WR) to send
    end-of-file). Raises AttachError with kcpd's reason on refusal.
    """
    kind = {
        pb.DataAttachment.SOCKET_TYPE_STREAM: socket.SOCK_STREAM,
        pb.DataAttachment.SOCKET_TYPE_SEQPACKET: socket.SOCK_SEQPACKET,
    }.get(attachment.socket_type)
    if kind is None:
        raise AttachError(f"unknown socket type {attachment.socket_type} in the attachment")
    sock = socket.socket(socket.AF_UNIX, kind)
    try:
        sock.settimeout(timeout_s)
        sock.connect(attachment.socket_path)
        sock.sendall(b"ATTACH " + attachment.token.encode("ascii") + b"\n")
        answer = _read_answer(sock, kind)
        if answer != b"OK\n":
            reason = answer.decode("ascii", "replace").strip()
            raise AttachError(reason or "kcpd closed the connection without an answer")
        return sock
    except BaseException:
        sock.close()
        raise


def _read_answer(sock: socket.socket, kind: int) -> bytes:
    if kind == socket.SOCK_SEQPACKET:
        return sock.recv(512)  # the answer is one packet
    # One byte at a time: the stream's own bytes may follow the line at once.
    line = b""
    while not line.endswith(b"\n") and len(line) <= 256:
        byte = sock.recv(1)
        if not byte:
            break
        line += byte
    return line


def exchange(sock: socket.socket, payload: bytes) -> bytes:
    """Sends `payload` then end-of-file, while reading everything the peer
    sends until its end-of-file; returns what was read.

    Writing and reading run at once: kcpd applies back-pressure end to end,
    so a side that only wrote could wait forever on a peer doing the same.
    """

    def send() -> None:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        sending = pool.submit(send)
        chunks = []
        while chunk := sock.recv(1 << 16):
            chunks.append(chunk)
        sending.result()  # re-raises a failed send
    return b"".join(chunks)


# ---- The example --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Side:
    """What one kcpd reported about its end of the session."""

    session: str  # "sessions/N" on that kcpd
    stream: str  # "sessions/N/streams/M"
    sent_sha256: str
    received_sha256: str
    counters: pb.Counters  # GetSession, after the stream closed
    stats: pb.Stats  # GetStats, after the exchange
    close_reason: str  # SESSION_CLOSED's (or SESSION_CLOSED_BY_PEER's) reason


@dataclasses.dataclass(frozen=True)
class ExampleReport:
    listener_address: str
    bytes_each_way: int
    dialer: Side
    acceptor: Side


# Both ends of a session must agree on crypt, key and framing (kcptun's
# rules); this is kcptun's "--crypt aes --mode fast3" with larger windows.
def session_options() -> pb.SessionOptions:
    return pb.SessionOptions(
        crypt="aes",
        key="kcpp python example",
        mode=pb.MODE_FAST3,
        send_window=1024,
        receive_window=1024,
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_example(
    dialer_socket: str,
    acceptor_socket: str,
    bytes_each_way: int = 1 << 20,
    listener_id: str = "python-example",
    log: Callable[[str], None] = print,
) -> ExampleReport:
    """Dials from one kcpd to a listener on another, moves `bytes_each_way`
    random bytes in each direction through one stream, reads the counters and
    closes. Raises if any step fails or any byte differs."""
    with Kcpd(dialer_socket) as dialer, Kcpd(acceptor_socket) as acceptor:
        listener = acceptor.create_listener(listener_id, "127.0.0.1:0", session_options())
        log(f"acceptor: {listener.name} on udp {listener.bound_address}")
        try:
            return _run(dialer, acceptor, listener, bytes_each_way, log)
        finally:
            acceptor.delete_listener(listener.name)


def _run(
    dialer: Kcpd,
    acceptor: Kcpd,
    listener: pb.Listener,
    bytes_each_way: int,
    log: Callable[[str], None],
) -> ExampleReport:
    # Accepting is watching: the watch is registered before the dial, so the
    # accepted stream cannot be missed.
    with acceptor.watch(listener=listener.name) as accepted_events:
        dialed = dialer.dial(listener.bound_address, session_options())
        log(f"dialer: {dialed.session.name} to {dialed.session.remote_address}, "
            f"{dialed.stream.name}")
        with dialer.watch(session=dialed.session.name) as dialed_events:
            accepted = accepted_events.wait_for(pb.SessionEvent.STREAM_ACCEPTED)
            log(f"acceptor: STREAM_ACCEPTED {accepted.stream.name} "
                f"from {accepted.session.remote_address}")

            up, down = os.urandom(bytes_each_way), os.urandom(bytes_each_way)
            with attach(dialed.stream.attachment) as a, attach(accepted.stream.attachment) as b:
                log(f"attached both ends over {dialed.stream.attachment.socket_path} and "
                    f"{accepted.stream.attachment.socket_path}")
                with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
                    a_got = pool.submit(exchange, a, up)
                    b_got = pool.submit(exchange, b, down)
                    down_at_dialer, up_at_acceptor = a_got.result(), b_got.result()
            for what, want, got in (("dialer -> acceptor", up, up_at_acceptor),
                                    ("acceptor -> dialer", down, down_at_dialer)):
                if got != want:
                    raise RuntimeError(f"{what}: {len(got)} bytes, sha256 {sha256(got)}; "
                                       f"sent {len(want)} bytes, sha256 {sha256(want)}")
                log(f"{what}: {len(got)} bytes, sha256 {sha256(got)} matches")

            # End-of-file went both ways, so both kcpd end the stream; its
            # byte counts are then final in the session's counters.
            dialed_events.wait_for(pb.SessionEvent.STREAM_CLOSED, dialed.stream.name)
            accepted_events.wait_for(pb.SessionEvent.STREAM_CLOSED, accepted.stream.name)
            dialer_counters = dialer.get_session(dialed.session.name).counters
            acceptor_counters = acceptor.get_session(accepted.session.name).counters
            for who, c in (("dialer", dialer_counters), ("acceptor", acceptor_counters)):
                log(f"{who}: sent {c.bytes_sent} B in {c.packets_sent} datagrams "
                    f"({c.wire_bytes_sent} B on the wire), received {c.bytes_received} B, "
                    f"{c.retransmitted_segments} retransmissions")
            dialer_stats, acceptor_stats = dialer.get_stats(), acceptor.get_stats()

            # One side closes the session; the other kcpd hears of it in-band
            # (kcpd's close notice, docs/protocol.md §6.2) and ends its side
            # at once: SESSION_CLOSED_BY_PEER. The watches see both go.
            acceptor.close_session(accepted.session.name)
            acceptor_closed = accepted_events.wait_for(pb.SessionEvent.SESSION_CLOSED,
                                                       accepted.session.name)
            dialer_closed = dialed_events.wait_for(pb.SessionEvent.SESSION_CLOSED_BY_PEER,
                                                   dialed.session.name)
            log(f"acceptor: SESSION_CLOSED {accepted.session.name} ({acceptor_closed.reason})")
            log(f"dialer: SESSION_CLOSED_BY_PEER {dialed.session.name} ({dialer_closed.reason})")

    return ExampleReport(
        listener_address=listener.bound_address,
        bytes_each_way=bytes_each_way,
        dialer=Side(dialed.session.name, dialed.stream.name, sha256(up), sha256(down_at_dialer),
                    dialer_counters, dialer_stats, dialer_closed.reason),
        acceptor=Side(accepted.session.name, accepted.stream.name, sha256(down),
                      sha256(up_at_acceptor), acceptor_counters, acceptor_stats,
                      acceptor_closed.reason),
    )


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} DIALER_CONTROL_SOCKET ACCEPTOR_CONTROL_SOCKET", file=sys.stderr)
        return 2
    try:
        run_example(argv[1], argv[2])
    except (KcpdError, AttachError, TimeoutError, RuntimeError, OSError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
