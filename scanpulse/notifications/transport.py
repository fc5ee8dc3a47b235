"""One HTTP POST to a checked address: no redirects followed, a bounded response read, and a
limit on the whole attempt.

The connection goes to an address ``destinations.check`` allowed, never to what the name
resolves to later; HTTPS still verifies the certificate for the name in the URL (SNI). Each
wait for the network is bounded by the time-out, and the whole attempt by twice it: a receiver
that trickles its answer a byte at a time does not hold a sender for longer."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from scanpulse.pipeline.locations import Address

from .destinations import Destination

RESPONSE_KEPT = 2048  # bytes of a response body kept in the delivery log


@dataclass(frozen=True, slots=True)
class Response:
    status: int | None  # None: no HTTP answer (refused, timed out, TLS failed)
    body: str  # at most RESPONSE_KEPT bytes, decoded
    error: str  # what went wrong, for the log; "" for a 2xx answer
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(
    destination: Destination,
    addresses: tuple[Address, ...],
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
) -> Response:
    """POST ``body`` to the first of ``addresses`` that accepts a connection."""
    started = time.monotonic()
    limit = started + 2 * timeout
    error = "No address to connect to."
    for address in addresses:
        connection = _connection(destination, address, timeout)
        deadline = _Deadline(connection, limit - time.monotonic())
        try:
            connection.request(
                "POST",
                destination.target,
                body=body,
                headers={"Host": destination.host_header, **headers},
            )
            answer = connection.getresponse()
            kept = answer.read(RESPONSE_KEPT).decode("utf-8", errors="replace")
            status = answer.status
        except (OSError, http.client.HTTPException) as exc:
            error = "Timed out." if deadline.expired else _describe(exc)
            if isinstance(exc, ConnectionRefusedError | socket.gaierror) and not deadline.expired:
                continue  # the next address may answer
            break
        finally:
            deadline.cancel()
            connection.close()
        if deadline.expired:  # the answer was cut short
            return Response(None, "", "Timed out.", _ms(started))
        duration = _ms(started)
        if 200 <= status < 300:
            return Response(status, kept, "", duration)
        if 300 <= status < 400:
            problem = f"Redirect ({status}) not followed: webhooks must point at their final URL."
        else:
            problem = f"The receiver answered {status}."
        return Response(status, kept, problem, duration)
    return Response(None, "", error, _ms(started))


class _Deadline:
    """Ends an attempt at its limit, whatever it waits for: a timer shuts its socket down."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.expired = False
        self._connection = connection
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.expired = True
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _connection(
    destination: Destination, address: Address, timeout: float
) -> http.client.HTTPConnection:
    port = destination.remote.port
    connection: http.client.HTTPConnection
    if destination.remote.scheme == "https":
        # The name in the URL is what TLS verifies and what SNI asks for; the socket goes to
        # the checked address.
        connection = http.client.HTTPSConnection(
            destination.remote.host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(destination.remote.host, port, timeout=timeout)
    pinned = (str(address), port)

    def connect(_address: object, timeout: float = timeout, source: object = None) -> socket.socket:
        return socket.create_connection(pinned, timeout)

    connection._create_connection = connect  # type: ignore[attr-defined]
    return connection


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "Connection refused."
    if isinstance(exc, TimeoutError | socket.timeout):
        return "Timed out."
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "TLS certificate verification failed."
    if isinstance(exc, ssl.SSLError):
        return "TLS handshake failed."
    if isinstance(exc, http.client.HTTPException):
        return "The receiver's answer was not valid HTTP."
    return "Connection failed."
