"""Small synchronous calls to tollgate's egress door: is it there, is the token valid, its CA."""

from __future__ import annotations

import base64
import http.client
import socket

from gateway.sandbox.plan import Endpoint

MAX_BODY = 1024 * 1024


class DoorError(Exception):
    """The door cannot be reached or answered nonsense; the message is one line."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def get(endpoint: Endpoint, path: str, headers: dict[str, str], timeout: float = 5.0) -> tuple[int, bytes]:
    conn: http.client.HTTPConnection
    if endpoint.path:
        conn = _UnixConnection(endpoint.path, timeout)
    else:
        conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(MAX_BODY)
    except (OSError, http.client.HTTPException) as e:
        raise DoorError(f"the egress door at {endpoint} is unreachable ({e.__class__.__name__}: {e})") from None
    finally:
        conn.close()


def proxy_authorization(agent: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{agent}:{token}".encode()).decode()


def token_valid(endpoint: Endpoint, agent: str, token: str, timeout: float = 5.0) -> bool:
    """True when the door accepts the agent's credentials, False on 407 (unknown or revoked)."""
    status, body = get(endpoint, "/whoami", {"Proxy-Authorization": proxy_authorization(agent, token)}, timeout)
    if status == 407:
        return False
    if status != 200 or body.strip() != agent.encode():
        raise DoorError(f"the egress door at {endpoint} answered /whoami with HTTP {status} (is it tollgate?)")
    return True


def ca_pem(endpoint: Endpoint) -> bytes:
    status, body = get(endpoint, "/ca.pem", {})
    if status != 200 or b"-----BEGIN CERTIFICATE-----" not in body:
        raise DoorError(f"the egress door at {endpoint} served no CA certificate at /ca.pem (HTTP {status})")
    return body
