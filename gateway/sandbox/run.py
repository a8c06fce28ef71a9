"""`tollgate sandbox run`: the command in its own network namespace, the relay its only way out.

The supervisor (this process) forks the child. The child enters a new network namespace that
has only loopback, listens there on 127.0.0.1 (one port for the egress door, one for the LLM
door), hands those listening sockets to the supervisor over a socketpair, waits for "go",
drops to the sandbox user with no_new_privs and executes the command. The supervisor stays in
the host's namespace: it accepts on the sandbox's sockets and relays each connection to
tollgate's listener (TCP or Unix), watches for idleness and revocation, forwards SIGTERM to
the command's process group and passes its exit status through.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from gateway.sandbox import door, kernel
from gateway.sandbox.plan import Endpoint, describe_exit, exit_code, idle_left, sandbox_env

# How long the command's process group gets between SIGTERM and SIGKILL.
STOP_GRACE_S = 5.0
READ_SIZE = 64 * 1024
DIAL_TIMEOUT_S = 10.0
SETUP_FAILED = 125  # as `docker run`: the sandbox did not start (126/127: the command did not)
SYSTEM_ROOTS = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem")


class SandboxError(Exception):
    """The sandbox cannot start; the message is the one line the CLI prints."""


@dataclass(frozen=True)
class SandboxUser:
    uid: int
    gid: int
    name: str


@dataclass
class Spec:
    """Everything the run needs, resolved and checked before anything is forked."""

    agent: str
    token: str
    argv: list[str]
    egress: Endpoint
    llm: Endpoint | None
    user: SandboxUser
    as_root: bool
    workdir: str | None
    idle_timeout_s: float | None
    check_interval_s: float
    extra_env: dict[str, str]
    org_id: str = ""
    team_id: str = ""
    config: Any = None  # config.Config when started with --config: the audit sink comes from it
    sandbox_id: str = field(default_factory=lambda: "sbx-" + secrets.token_hex(8))


def resolve_user(spec: str | None, as_root: bool) -> SandboxUser:
    if not as_root:
        if spec is not None:
            raise SandboxError("--user needs root (without root the command runs as yourself, in a user namespace)")
        uid, gid = os.geteuid(), os.getegid()
        with contextlib.suppress(KeyError):
            return SandboxUser(uid, gid, pwd.getpwuid(uid).pw_name)
        return SandboxUser(uid, gid, str(uid))
    spec = spec or "nobody"
    if spec.isdigit():
        uid = int(spec)
        try:
            entry = pwd.getpwuid(uid)
            user = SandboxUser(uid, entry.pw_gid, entry.pw_name)
        except KeyError:
            user = SandboxUser(uid, uid, str(uid))  # an id of its own, with a group of the same number
    else:
        try:
            entry = pwd.getpwnam(spec)
        except KeyError:
            raise SandboxError(f"--user {spec}: no such user") from None
        user = SandboxUser(entry.pw_uid, entry.pw_gid, entry.pw_name)
    if user.uid == 0 or user.gid == 0:
        raise SandboxError(f"--user {spec}: the sandbox user must not be root or in group 0")
    return user


def read_token(token_file: str | None) -> str:
    if token_file is not None:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as e:
            raise SandboxError(f"--token-file {token_file}: {e.strerror}") from None
    else:
        token = os.environ.get("TOLLGATE_AGENT_TOKEN", "").strip()
    if not token:
        raise SandboxError("no agent token: set TOLLGATE_AGENT_TOKEN or pass --token-file FILE")
    return token


def readable_by(path: str, user: SandboxUser) -> bool:
    st = os.stat(path)
    mode = st.st_mode
    return bool(mode & stat.S_IROTH or (st.st_uid == user.uid and mode & stat.S_IRUSR)
                or (st.st_gid == user.gid and mode & stat.S_IRGRP))  # fmt: skip


def ca_bundle(tollgate_ca: bytes) -> bytes:
    """The system's trusted roots plus tollgate's CA(s), for tools that replace rather than add."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, *SYSTEM_ROOTS):
        if candidate and os.path.isfile(candidate):
            roots = Path(candidate).read_bytes()
            return roots.rstrip(b"\n") + b"\n" + tollgate_ca
    return tollgate_ca


def prepare_workdir(workdir: str, user: SandboxUser) -> None:
    """The command's directory, owned by the sandbox user. An existing one is taken over only if empty."""
    path = Path(workdir)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if (st.st_uid, st.st_gid) == (user.uid, user.gid):
        return
    if any(path.iterdir()):
        raise SandboxError(f"--workdir {workdir}: not empty and owned by uid {st.st_uid}, not the sandbox user")
    os.chown(path, user.uid, user.gid)
    path.chmod(0o700)


def start(spec: Spec) -> int:
    """Run the sandbox to its end; returns the command's exit status (SandboxError if it cannot start)."""
    try:
        if not door.token_valid(spec.egress, spec.agent, spec.token):
            raise SandboxError(
                f"the egress door at {spec.egress} refused agent {spec.agent}'s token (unknown agent or revoked token)"
            )
        bundle = ca_bundle(door.ca_pem(spec.egress))
    except door.DoorError as e:
        raise SandboxError(str(e)) from None
    private = tempfile.mkdtemp(prefix="tollgate-sandbox-")
    try:
        os.chmod(private, 0o755)  # the bundle is readable, the directory not writable, by the command
        bundle_path = os.path.join(private, "ca-bundle.pem")
        Path(bundle_path).write_bytes(bundle)
        os.chmod(bundle_path, 0o644)
        workdir = spec.workdir or os.path.join(private, "work")
        if spec.as_root:
            prepare_workdir(workdir, spec.user)
        else:
            os.makedirs(workdir, mode=0o700, exist_ok=True)
        return _fork_and_supervise(spec, workdir, bundle_path)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _fork_and_supervise(spec: Spec, workdir: str, bundle_path: str) -> int:
    targets = [spec.egress] + ([spec.llm] if spec.llm else [])
    parent_chan, child_chan = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    supervisor = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        parent_chan.close()
        _child(child_chan, spec, len(targets), workdir, bundle_path, supervisor)
    child_chan.close()
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # the child does it too; whoever is first wins the race
    try:
        message, fds, _, _ = socket.recv_fds(parent_chan, 4096, len(targets))
    except OSError:
        message, fds = b"", []
    if message != b"ok" or len(fds) != len(targets):
        for fd in fds:
            os.close(fd)
        os.waitpid(pid, 0)
        parent_chan.close()
        raise SandboxError(message.decode(errors="replace").removeprefix("err:") or "the sandbox child died early")
    listeners = [socket.socket(fileno=fd) for fd in fds]
    terminal = _give_terminal(pid)
    try:
        return asyncio.run(Supervisor(spec, pid, parent_chan, list(zip(listeners, targets, strict=True))).run())
    finally:
        if terminal is not None:
            _take_terminal(terminal)
        for sock in listeners:
            sock.close()


def _child(chan: socket.socket, spec: Spec, n_listeners: int, workdir: str, bundle: str, parent: int) -> NoReturn:
    """Between fork and exec: nothing here may return into the supervisor's code."""
    code = SETUP_FAILED
    try:
        os.setpgid(0, 0)
        try:
            kernel.new_namespaces(spec.as_root)
            kernel.hide_run_dirs()
            kernel.loopback_up()
            socks = [kernel.listen_loopback() for _ in range(n_listeners)]
        except OSError as e:
            why = e.strerror or str(e)
            if spec.as_root:
                msg = f"cannot create the sandbox's namespaces ({why}): the kernel or a seccomp profile refuses it"
            else:
                msg = f"not root and no user namespaces ({why}): run as root or enable unprivileged user namespaces"
            chan.send(b"err:" + msg.encode())
            os._exit(SETUP_FAILED)
        socket.send_fds(chan, [b"ok"], [s.fileno() for s in socks])
        ports = [s.getsockname()[1] for s in socks]
        for s in socks:
            s.close()
        if chan.recv(16) != b"go":
            os._exit(SETUP_FAILED)
        chan.close()
        env = sandbox_env(
            agent=spec.agent,
            token=spec.token,
            proxy_port=ports[0],
            llm_port=ports[1] if len(ports) > 1 else None,
            ca_bundle=bundle,
            home=workdir,
            user=spec.user.name,
            caller=dict(os.environ),
            extra=spec.extra_env,
        )
        stage = "cannot drop privileges"
        try:
            if spec.as_root:
                kernel.drop_privileges(spec.user.uid, spec.user.gid)
            stage = f"cannot enter {workdir} as uid {spec.user.uid}"
            os.chdir(workdir)
            stage = "cannot restrict privileges"
            kernel.no_new_privs()
            kernel.die_with_parent(parent)
            kernel.reset_signals()
            stage = spec.argv[0]
            os.execvpe(spec.argv[0], spec.argv, env)
        except OSError as e:
            print(f"tollgate sandbox: {stage}: {e.strerror}", file=sys.stderr, flush=True)
            code = kernel.exec_status(e) if stage == spec.argv[0] else SETUP_FAILED
    except BaseException:  # never unwind into the supervisor's stack in the child
        pass
    os._exit(code)


def _give_terminal(pgid: int) -> int | None:
    """An interactive command gets the terminal (job control), as a shell would give it."""
    try:
        if not os.isatty(0) or os.tcgetpgrp(0) != os.getpgrp():
            return None
        own = os.getpgrp()
        _set_foreground(pgid)
        return own
    except OSError:
        return None


def _take_terminal(own: int) -> None:
    with contextlib.suppress(OSError):
        _set_foreground(own)


def _set_foreground(pgid: int) -> None:
    # A background process group that changes the foreground would get SIGTTOU.
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(0, pgid)
    finally:
        signal.signal(signal.SIGTTOU, old)


class Supervisor:
    def __init__(
        self, spec: Spec, pid: int, chan: socket.socket, listeners: list[tuple[socket.socket, Endpoint]]
    ) -> None:
        self.spec = spec
        self.pid = pid
        self.chan = chan
        self.listeners = listeners
        self.reason = "exited"
        self.bytes = [0, 0]  # from the command, to the command
        self.connections = 0
        self.awaiting = 0  # connections whose last bytes went out: an answer is due
        self._writers: set[asyncio.StreamWriter] = set()
        self.last = 0.0

    async def run(self) -> int:
        self._loop = loop = asyncio.get_running_loop()
        self.last = loop.time()
        self._end = asyncio.Event()
        self._recheck = asyncio.Event()
        if self.spec.config is not None:
            # Imported only here: with --proxy the supervisor needs nothing beyond the standard library.
            import audit

            # No spool: the appliance's workers own theirs; a failed write is logged to this operator.
            audit.install(audit.pipeline_for(self.spec.config, spool=False))
        servers = [
            await asyncio.start_server(functools.partial(self._relay, target), sock=sock)
            for sock, target in self.listeners
        ]
        exited: asyncio.Future[None] = loop.create_future()
        pidfd = os.pidfd_open(self.pid)
        loop.add_reader(pidfd, lambda: None if exited.done() else exited.set_result(None))
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, self.end, f"received {signal.Signals(sig).name}")
        loop.add_signal_handler(signal.SIGUSR1, self._recheck.set)
        tasks = [
            loop.create_task(self._idle()),
            loop.create_task(self._revocation()),
            loop.create_task(self._end.wait()),
        ]
        started = time.monotonic()
        self._audit("sandbox_start", "allowed", uid=self.spec.user.uid, argc=len(self.spec.argv))
        with contextlib.suppress(OSError):  # the child is gone already: its status tells why
            self.chan.send(b"go")
        self.chan.close()
        await asyncio.wait([exited, tasks[2]], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]
        if not exited.done():
            self._signal_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(exited), STOP_GRACE_S)
            except TimeoutError:
                self._signal_group(signal.SIGKILL)
                await exited
        # The leader is a zombie until reaped, so its group id cannot be reused yet: end what it left behind.
        self._signal_group(signal.SIGKILL)
        _, status = os.waitpid(self.pid, 0)  # noqa: ASYNC222 - the pidfd said it exited: this does not block
        loop.remove_reader(pidfd)
        os.close(pidfd)
        for task in tasks:
            task.cancel()
        for server in servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        code = exit_code(status)
        if self.reason != "exited":
            print(f"tollgate sandbox: {self.reason}: ended the command ({describe_exit(code)})", file=sys.stderr)
        result = "denied" if self.reason.startswith("revoked") else "allowed" if code == 0 else "error"
        self._audit("sandbox_end", result, exit_status=code, reason=self.reason.split(":")[0],
                    duration_s=round(time.monotonic() - started, 3), bytes_out=self.bytes[0],
                    bytes_in=self.bytes[1], connections=self.connections)  # fmt: skip
        if self.spec.config is not None:
            import audit

            await audit.uninstall()
        return code

    def end(self, reason: str) -> None:
        if not self._end.is_set():
            self.reason = reason
            self._end.set()

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def _audit(self, action: str, result: Any, **detail: Any) -> None:
        """Start and end of the sandbox, with the --config form (its audit sink is the appliance's)."""
        if self.spec.config is None:
            return
        import audit

        audit.emit(
            audit.AuditEvent(
                "egress",
                action,
                result,
                request_id=self.spec.sandbox_id,
                org_id=self.spec.org_id,
                team_id=self.spec.team_id,
                actor_id=self.spec.agent,
                # The command's name only: its arguments may carry anything.
                resource=os.path.basename(self.spec.argv[0]),
                detail=detail,
            )
        )

    async def _idle(self) -> None:
        while True:
            left = idle_left(self._loop.time(), self.last, self.spec.idle_timeout_s, self.awaiting)
            if left is None:
                return
            if left <= 0:
                self.end(f"idle: no traffic for {self.spec.idle_timeout_s:g}s")
                return
            await asyncio.sleep(left)

    async def _revocation(self) -> None:
        """Ask the door whether the token still holds, every interval or at once on SIGUSR1."""
        spec = self.spec
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._recheck.wait(), spec.check_interval_s)
            self._recheck.clear()
            try:
                valid = await asyncio.to_thread(door.token_valid, spec.egress, spec.agent, spec.token)
            except door.DoorError:
                continue  # tollgate restarting: the command is cut off meanwhile anyway
            if not valid:
                self.end(f"revoked: the egress door no longer accepts agent {spec.agent}'s token")
                return

    async def _relay(self, target: Endpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.last = self._loop.time()
        try:
            if target.path:
                dial = asyncio.open_unix_connection(target.path)
            else:
                dial = asyncio.open_connection(target.host, target.port)
            up_reader, up_writer = await asyncio.wait_for(dial, DIAL_TIMEOUT_S)
        except (OSError, TimeoutError):
            writer.close()
            return
        link = _Link((writer, up_writer))
        self._writers.update(link.writers)
        try:
            await asyncio.gather(self._pump(reader, up_writer, 0, link), self._pump(up_reader, writer, 1, link))
        finally:
            link.turn(self, None)
            for w in link.writers:
                w.close()
                self._writers.discard(w)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: int, link: _Link
    ) -> None:
        try:
            while data := await reader.read(READ_SIZE):
                self.last = self._loop.time()
                self.bytes[direction] += len(data)
                link.turn(self, direction)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            for w in link.writers:  # one side broke: end the other direction too
                w.close()


class _Link:
    """One relayed connection: its two writers, and whether its last bytes went out (awaiting an answer)."""

    def __init__(self, writers: tuple[asyncio.StreamWriter, asyncio.StreamWriter]) -> None:
        self.writers = writers
        self.awaiting = False

    def turn(self, supervisor: Supervisor, direction: int | None) -> None:
        awaiting = direction == 0
        if awaiting != self.awaiting:
            self.awaiting = awaiting
            supervisor.awaiting += 1 if awaiting else -1
