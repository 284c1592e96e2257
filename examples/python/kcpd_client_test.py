"""Checks kcpd_client.py against two real kcpd processes.

kcpd_client_test.sh starts the daemons and passes their control sockets in
KCPD_DIALER_SOCKET and KCPD_ACCEPTOR_SOCKET. The tests share the two daemons,
so they compare process-wide numbers before and after, never absolute ones.
"""

from __future__ import annotations

import os
import unittest

import grpc

import kcpd_client as kc
from kcpd_client import pb

MIB = 1 << 20


class KcpdClientTest(unittest.TestCase):
    dialer_socket = os.environ["KCPD_DIALER_SOCKET"]
    acceptor_socket = os.environ["KCPD_ACCEPTOR_SOCKET"]

    def stats(self) -> tuple[pb.Stats, pb.Stats]:
        with kc.Kcpd(self.dialer_socket) as d, kc.Kcpd(self.acceptor_socket) as a:
            return d.get_stats(), a.get_stats()

    def test_example_moves_bytes_both_ways_counts_them_and_closes(self) -> None:
        dialer_before, acceptor_before = self.stats()
        lines: list[str] = []
        report = kc.run_example(self.dialer_socket, self.acceptor_socket, MIB, log=lines.append)
        dialer_after, acceptor_after = self.stats()
        d, a = report.dialer, report.acceptor

        # Bytes: each side received exactly what the other sent.
        self.assertEqual(report.bytes_each_way, MIB)
        self.assertEqual(d.sent_sha256, a.received_sha256)
        self.assertEqual(a.sent_sha256, d.received_sha256)
        self.assertNotEqual(d.sent_sha256, a.sent_sha256)  # two different payloads
        self.assertTrue(any("STREAM_ACCEPTED" in line for line in lines), lines)

        # Names: both ends name the same smux stream (odd: the dialler opened it).
        self.assertRegex(d.session, r"^sessions/\d+$")
        self.assertTrue(d.stream.startswith(d.session + "/streams/"), d.stream)
        self.assertTrue(a.stream.startswith(a.session + "/streams/"), a.stream)
        stream_id = d.stream.rsplit("/", 1)[1]
        self.assertEqual(a.stream.rsplit("/", 1)[1], stream_id)
        self.assertEqual(int(stream_id) % 2, 1)

        # Session counters: the application bytes exactly, both ends agreeing.
        self.assertEqual(d.counters.bytes_sent, MIB)
        self.assertEqual(d.counters.bytes_received, MIB)
        self.assertEqual(a.counters.bytes_sent, MIB)
        self.assertEqual(a.counters.bytes_received, MIB)
        for side in (d, a):
            c = side.counters
            # On the wire: more than the payload (smux, KCP and crypt headers),
            # in datagrams of at most the MTU (1400 by default).
            self.assertGreater(c.wire_bytes_sent, c.bytes_sent)
            self.assertGreater(c.wire_bytes_received, c.bytes_received)
            self.assertLessEqual(c.wire_bytes_sent, c.packets_sent * 1400)
            self.assertLessEqual(c.wire_bytes_received, c.packets_received * 1400)
            self.assertEqual(c.checksum_errors, 0)  # same key on both ends

        # Process counters (read after the exchange, before the close).
        self.assertEqual(d.stats.sessions_dialed - dialer_before.sessions_dialed, 1)
        self.assertEqual(a.stats.sessions_accepted - acceptor_before.sessions_accepted, 1)
        for before, during in ((dialer_before, d.stats), (acceptor_before, a.stats)):
            self.assertEqual(during.attachments - before.attachments, 1)
            self.assertEqual(during.attachments_refused, before.attachments_refused)
            self.assertEqual(during.counters.bytes_sent - before.counters.bytes_sent, MIB)
            self.assertEqual(during.counters.bytes_received - before.counters.bytes_received, MIB)
            self.assertEqual(during.backend, "transport")

        # The close: each watch saw its session end, and kcpd forgot it.
        self.assertEqual(d.close_reason, "closed by the peer")  # the acceptor closed it
        self.assertEqual(a.close_reason, "closed by CloseSession")
        self.assertEqual(dialer_after.sessions_closed - dialer_before.sessions_closed, 1)
        self.assertEqual(acceptor_after.sessions_closed - acceptor_before.sessions_closed, 1)
        self.assertEqual(acceptor_after.listeners, acceptor_before.listeners)  # deleted again
        with kc.Kcpd(self.dialer_socket) as dialer, kc.Kcpd(self.acceptor_socket) as acceptor:
            for client, name in ((dialer, d.session), (acceptor, a.session)):
                with self.assertRaises(kc.KcpdError) as e:
                    client.get_session(name)
                self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)

    def test_the_example_runs_again_on_the_same_daemons(self) -> None:
        # The listener id is free again and nothing is left behind.
        for _ in range(2):
            report = kc.run_example(self.dialer_socket, self.acceptor_socket, 4096,
                                    log=lambda _: None)
            self.assertEqual(report.dialer.sent_sha256, report.acceptor.received_sha256)

    def test_a_socket_nobody_serves_is_unavailable_and_named(self) -> None:
        path = os.path.join(os.path.dirname(self.dialer_socket), "nobody.sock")
        with kc.Kcpd(path) as client, self.assertRaises(kc.KcpdError) as e:
            client.get_stats()
        self.assertEqual(e.exception.code, grpc.StatusCode.UNAVAILABLE)
        self.assertIn(path, str(e.exception))
        self.assertTrue(str(e.exception).startswith("GetStats: UNAVAILABLE: "), str(e.exception))

    def test_kcpds_message_names_the_bad_field(self) -> None:
        with kc.Kcpd(self.dialer_socket) as client:
            with self.assertRaises(kc.KcpdError) as e:
                client.dial("not-an-address")
            self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("remote_address", e.exception.details)
            with self.assertRaises(kc.KcpdError) as e:
                client.get_session("sessions/999999")
            self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)

    def test_errors_carry_google_rpc_details(self) -> None:
        # AIP-193: a google.rpc.Status in the grpc-status-details-bin
        # trailer, with an ErrorInfo (a reason to switch on) and, for a bad
        # field, a BadRequest naming it (docs/kcpd.md "Errors").
        from google.rpc import error_details_pb2, status_pb2

        with grpc.insecure_channel(f"unix:{self.dialer_socket}") as channel:
            stub = kc.pb_grpc.KcpdStub(channel)
            with self.assertRaises(grpc.RpcError) as e:
                stub.GetSession(pb.GetSessionRequest(name="listeners/web"), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        trailers = dict(e.exception.trailing_metadata())
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        self.assertEqual(status.code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        self.assertEqual(len(status.details), 2)
        self.assertTrue(status.details[0].Unpack(info))
        self.assertTrue(status.details[1].Unpack(bad))
        self.assertEqual((info.domain, info.reason), ("kcpd.kcpp", "INVALID_RESOURCE_NAME"))
        self.assertEqual(bad.field_violations[0].field, "name")

    def test_attach_refusals_carry_kcpds_reason(self) -> None:
        with kc.Kcpd(self.dialer_socket) as client:
            before = client.get_stats()
            # Nothing listens on the discard port; KCP has no handshake, so the
            # session and its stream exist anyway.
            dialed = client.dial("127.0.0.1:9")
            try:
                wrong = pb.DataAttachment()
                wrong.CopyFrom(dialed.stream.attachment)
                wrong.token = "0" * 64
                with self.assertRaisesRegex(kc.AttachError, r"^ERR unknown token"):
                    kc.attach(wrong)
                kc.attach(dialed.stream.attachment).close()
                with self.assertRaisesRegex(kc.AttachError, r"^ERR token already used"):
                    kc.attach(dialed.stream.attachment)
            finally:
                client.close_session(dialed.session.name)
            after = client.get_stats()
            self.assertEqual(after.attachments - before.attachments, 1)
            self.assertEqual(after.attachments_refused - before.attachments_refused, 2)

    def test_a_watch_sees_what_is_done_right_after_it_started(self) -> None:
        # watch() returns once kcpd registered the watch (its initial
        # metadata): the SESSION_DIALED of a dial made next cannot be missed.
        with kc.Kcpd(self.dialer_socket) as client:
            for _ in range(5):
                with client.watch() as watch:
                    dialed = client.dial("127.0.0.1:9")
                    try:
                        event = watch.wait_for(pb.SessionEvent.SESSION_DIALED, dialed.session.name)
                        self.assertEqual(event.session.remote_address, "127.0.0.1:9")
                    finally:
                        client.close_session(dialed.session.name)

    def test_a_watch_reports_an_event_that_never_comes_as_a_timeout(self) -> None:
        with kc.Kcpd(self.acceptor_socket) as client:
            with client.watch(listener="listeners/none") as watch:
                with self.assertRaisesRegex(TimeoutError, r"no STREAM_ACCEPTED within"):
                    watch.wait_for(pb.SessionEvent.STREAM_ACCEPTED, timeout_s=0.05)


if __name__ == "__main__":
    unittest.main(verbosity=2)
