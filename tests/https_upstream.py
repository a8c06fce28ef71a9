"""Local HTTPS origins for egress tests: a test CA, certificates for test names, a recording server.

Names such as `api.test` do not resolve; the gateway's `egress.resolve` maps them to 127.0.0.1
(the test config also marks those rules `allow_private`, since loopback is refused otherwise).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.upstream import LoopbackServer


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def make_test_pki(workdir: Path, names: list[str]) -> tuple[Path, ssl.SSLContext]:
    """A test CA (written to `ca.pem`) and a server context for `names` (host names or IP
    addresses), keys in memory."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("tollgate test origin CA"))
        .issuer_name(_name("tollgate test origin CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = workdir / "origin-ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    # The origin's own key is a throwaway test key; a file keeps ssl's loader simple.
    chain = workdir / "origin-leaf.pem"
    chain.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain)
    return ca_path, ctx


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: int = 0  # the proxy's source port: which upstream connection carried the request


@dataclass
class Endless:
    """What the never-ending download saw: bytes written and when the reader went away."""

    sent: int = 0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None


class Origin(LoopbackServer):
    """An HTTPS (or plain HTTP) server on loopback that records every request."""

    def __init__(self, ssl_context: ssl.SSLContext | None) -> None:
        super().__init__()
        self.ssl_context = ssl_context
        self.seen: list[Seen] = []
        self._served: set[int] = set()  # peers that got an answer from /repos/flaky

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/repos/big/{size}", self._big)
        app.router.add_get("/repos/ws", self._ws)
        app.router.add_route("*", "/repos/flaky", self._flaky)
        app.router.add_get("/repos/slow/{seconds}", self._slow)
        app.router.add_route("*", "/{tail:.*}", self._record)
        return app

    async def _record(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.seen.append(Seen(request.method, request.path_qs, headers, body, _peer(request)))
        return web.json_response({"path": request.path_qs, "method": request.method, "got": len(body)})

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        self.seen.append(Seen("WEBSOCKET", request.path, {k.lower(): v for k, v in request.headers.items()}, b""))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str("echo: " + msg.data)
        return ws

    async def _big(self, request: web.Request) -> web.StreamResponse:
        size = int(request.match_info["size"])
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.content_length = size
        await resp.prepare(request)
        block = b"x" * 65536
        sent = 0
        while sent < size:
            n = min(len(block), size - sent)
            await resp.write(block[:n])
            sent += n
        await resp.write_eof()
        return resp

    async def _slow(self, request: web.Request) -> web.Response:
        """An origin that takes its time to answer."""
        await asyncio.sleep(float(request.match_info["seconds"]))
        return web.json_response({"slow": True})

    async def _flaky(self, request: web.Request) -> web.Response:
        """Like an origin whose keep-alive timer fires as the next request arrives: a connection
        answers once, then closes on its next request without a byte of response."""
        peer = _peer(request)
        if peer in self._served:
            assert request.transport is not None
            request.transport.close()
            raise ConnectionResetError("closed idle connection")
        self._served.add(peer)
        return await self._record(request)


def _peer(request: web.Request) -> int:
    return request.transport.get_extra_info("peername")[1] if request.transport else 0


class EndlessOrigin:
    """A TLS origin whose every response body never ends, on blocking sockets: `sendall` fails as
    soon as the reader drops the connection, or blocks while nobody reads. (An asyncio server can
    go on writing into a connection that is gone without noticing.)"""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self.ssl_context = ssl_context
        self.endless: list[Endless] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._stopped = False

    def start(self) -> EndlessOrigin:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped = True
        self._sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        record = Endless()
        try:
            with self.ssl_context.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(30)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = tls.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                self.endless.append(record)
                tls.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                block = b"10000\r\n" + b"x" * 65536 + b"\r\n"
                while not self._stopped:
                    tls.sendall(block)
                    record.sent += 65536
        except OSError:
            pass
        finally:
            record.ended = time.monotonic()
