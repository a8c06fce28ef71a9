"""Pure decisions of `tollgate sandbox`: no syscalls, no sockets, no files.

What the sandboxed command's environment holds, where the doors are, which nftables rules
confine a uid to the proxy, when an idle sandbox ends and which exit status the caller sees.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

# Every variable common tools read for an extra trust store; all point at one bundle file.
CA_VARIABLES = (
    "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "PIP_CERT", "GIT_SSL_CAINFO",
    "AWS_CA_BUNDLE",
)  # fmt: skip
# curl reads only the lower-case http_proxy (httpoxy); other tools read either spelling.
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")
NO_PROXY = "localhost,127.0.0.1,::1"
# Harmless settings of the caller's terminal that a command may expect; nothing else passes.
PASSTHROUGH = ("TERM", "LANG", "LC_ALL", "TZ")
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
# The SDKs' own variables for the LLM door (OpenAI's base URL ends in /v1, Anthropic's does not).
LLM_VARIABLES = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY")

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PlanError(ValueError):
    """A bad argument; the message is the one line the CLI prints."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a door listens, seen from the host: a TCP address or a Unix socket path."""

    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.path:
            return f"unix:{self.path}"
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_duration(text: str) -> float | None:
    """`30m`, `90s`, `1.5h`, `250ms`, a bare number of seconds; `0` or `off`: never (None)."""
    value = text.strip().lower()
    if value in ("0", "off", "none", "never"):
        return None
    m = _DURATION_RE.match(value)
    if not m:
        raise PlanError(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h, or off)")
    seconds = float(m.group(1)) * _UNITS[m.group(2)]
    return seconds or None


def command_args(remainder: list[str]) -> list[str]:
    """The command after `--` (argparse keeps the separator in a REMAINDER argument)."""
    args = remainder[1:] if remainder[:1] == ["--"] else remainder
    if not args:
        raise PlanError("no command to run: put it after `--`, e.g. tollgate sandbox run --agent ID -- bash")
    return args


def parse_proxy(url: str) -> Endpoint:
    """`http://host:port` or `unix:/path/to/egress.sock` (also `unix:///path`)."""
    if url.startswith("unix:"):
        path = url[len("unix:") :]
        path = "/" + path.lstrip("/") if path.startswith("//") else path
        if not path.startswith("/"):
            raise PlanError(f"--proxy {url!r}: a Unix socket needs an absolute path (unix:/run/tollgate/egress.sock)")
        return Endpoint(path=path)
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.username or parts.path not in ("", "/"):
        raise PlanError(f"--proxy {url!r}: expected http://HOST:PORT or unix:/PATH (credentials come from the token)")
    try:
        port = parts.port or 80
    except ValueError:
        raise PlanError(f"--proxy {url!r}: bad port") from None
    return Endpoint(host=parts.hostname, port=port)


def dial_host(listen_host: str) -> str:
    """The address to connect to for a listener: a wildcard bind is reached on loopback."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(listen_host, listen_host)


def extra_env(pairs: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    """`--env NAME=VALUE` pairs, or `--env NAME` to pass the caller's value on (it then never sits in
    a command line that `ps` shows); the sandbox's own variables cannot be overridden."""
    out: dict[str, str] = {}
    own = {*CA_VARIABLES, *PROXY_VARIABLES, *LLM_VARIABLES, "NO_PROXY", "no_proxy"}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not _ENV_NAME_RE.match(name):
            raise PlanError(f"--env {pair!r}: expected NAME=VALUE or NAME")
        if name in own:
            raise PlanError(f"--env {name}: set by the sandbox itself (proxy, CA bundle or LLM door)")
        if not sep:
            if name not in environ:
                raise PlanError(f"--env {name}: not set in this environment")
            value = environ[name]
        out[name] = value
    return out


def sandbox_env(
    *,
    agent: str,
    token: str,
    proxy_port: int,
    llm_port: int | None,
    ca_bundle: str,
    home: str,
    user: str,
    caller: dict[str, str],
    extra: dict[str, str],
) -> dict[str, str]:
    """The whole environment of the sandboxed command: nothing of the caller's but PASSTHROUGH."""
    env = {name: caller[name] for name in PASSTHROUGH if name in caller}
    env.setdefault("LANG", "C.UTF-8")
    env.update(extra)
    env.update(PATH=env.get("PATH", SAFE_PATH), HOME=home, USER=user, LOGNAME=user)
    proxy = f"http://{quote(agent, safe='')}:{quote(token, safe='')}@127.0.0.1:{proxy_port}"
    env.update(dict.fromkeys(PROXY_VARIABLES, proxy))
    env.update(NO_PROXY=NO_PROXY, no_proxy=NO_PROXY)
    env.update(dict.fromkeys(CA_VARIABLES, ca_bundle))
    if llm_port is not None:
        door = f"http://127.0.0.1:{llm_port}"
        env.update(OPENAI_BASE_URL=door + "/v1", OPENAI_API_KEY=token, ANTHROPIC_BASE_URL=door, ANTHROPIC_API_KEY=token)
    return env


def idle_left(now: float, last_activity: float, timeout_s: float | None, awaiting: int) -> float | None:
    """Seconds until an idle sandbox ends (<= 0: now); None without an idle timeout.

    Idle means no bytes either way and no connection awaiting an answer (its last bytes went
    out): a slow answer is not idleness, a kept-alive connection nobody uses is.
    """
    if timeout_s is None:
        return None
    if awaiting:
        return timeout_s
    return last_activity + timeout_s - now


def exit_code(wait_status: int) -> int:
    """The status a shell would report: the exit code, or 128 + the signal that ended it."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def describe_exit(code: int) -> str:
    if code > 128 and code - 128 in signal.valid_signals():
        return f"killed by {signal.Signals(code - 128).name}"
    return f"exit status {code}"


# --- nftables rules for operators who own the namespace (containers, Kubernetes) -------------


def nft_table(uid: int) -> str:
    return f"tollgate_sandbox_{uid}"


def nft_table_lines(uid: int, ports: list[int]) -> list[str]:
    """The table as `nft list table` prints it back, so a loaded one can be compared line by line."""
    lines = [
        f"table inet {nft_table(uid)} {{",
        "chain output {",
        "type filter hook output priority filter; policy accept;",
    ]
    for port in sorted(set(ports)):
        lines.append(f'meta skuid {uid} oifname "lo" ip daddr 127.0.0.1 tcp dport {port} accept')
        lines.append(f'meta skuid {uid} oifname "lo" ip6 daddr ::1 tcp dport {port} accept')
    # A reset or an ICMP error makes connect() and sendto() fail at once instead of hanging.
    lines += [f"meta skuid {uid} meta l4proto tcp reject with tcp reset", f"meta skuid {uid} reject", "}", "}"]
    return lines


def nft_script(uid: int, ports: list[int]) -> str:
    """An `nft -f` script that (re)defines the uid's table atomically, idempotent on re-apply."""
    table = nft_table(uid)
    allowed = ", ".join(str(p) for p in sorted(set(ports)))
    body = nft_table_lines(uid, ports)
    depth = 0
    indented = []
    for line in body:
        depth -= line == "}"
        indented.append("\t" * depth + line)
        depth += line.endswith("{")
    return "\n".join(
        [
            f"# tollgate sandbox: uid {uid} may reach only tcp port(s) {allowed} on 127.0.0.1 and ::1",
            f"table inet {table}",
            f"delete table inet {table}",
            *indented,
            "",
        ]
    )


_COUNTER_RE = re.compile(r"\s*counter packets \d+ bytes \d+")


def nft_difference(listing: str, uid: int, ports: list[int]) -> str | None:
    """None when `nft list table inet tollgate_sandbox_UID` shows exactly our rules, else the first difference."""
    loaded = [" ".join(_COUNTER_RE.sub("", line).split()) for line in listing.splitlines()]
    loaded = [line for line in loaded if line]
    expected = nft_table_lines(uid, ports)
    for i, want in enumerate(expected):
        have = loaded[i] if i < len(loaded) else "(nothing)"
        if have != want:
            return f"line {i + 1}: expected {want!r}, loaded {have!r}"
    if len(loaded) > len(expected):
        return f"line {len(expected) + 1}: unexpected {loaded[len(expected)]!r}"
    return None
