"""The process core: listeners, workers, signals, reload and graceful shutdown.

One worker runs in the serving process itself. With `--workers N` the parent forks N workers;
each binds its own SO_REUSEPORT socket so the kernel spreads connections over them, and the
parent only supervises: it forwards signals, validates a config before asking workers to
reload it, and restarts a worker that dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import signal
import socket
import stat
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from aiohttp import web

import audit
from budget import BudgetGuard, agent_budgets, resp
from config import Config, ConfigError, load_config, resolve_secrets
from egress import CAChain, EgressProxy, EgressRuntime, PolicyError, policies_from_config
from gateway import metrics
from gateway.admin import admin_app
from gateway.auth import Directory
from gateway.ca_trust import Trust, redis_target, write_atomically
from gateway.llm import LLMDoor, Runtime, new_request_id
from gateway.tokenizer import encoding_for_model

log = logging.getLogger("tollgate")

# A worker that crashes more often than this is not restarted in a tight loop.
RESTART_BACKOFF_S = 1.0


def listen_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.setblocking(False)
    return sock


class ListenError(Exception):
    pass


def listen_unix(path: str) -> socket.socket:
    """A Unix listening socket at `path`, replacing a stale one but never a live listener's.

    Mode 0666: the same reach as the TCP listener on loopback; restrict it with the directory.
    """
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        pass
    else:
        raise ListenError(f"cannot listen on unix:{path}: another process is listening there")
    finally:
        probe.close()
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o666)
        sock.listen(1024)
    except OSError as e:
        sock.close()
        raise ListenError(f"cannot listen on unix:{path}: {e.strerror}") from None
    sock.setblocking(False)
    return sock


def load_checked(path: str) -> Config:
    """Load a config, decrypt the secrets it references, and check what only the other packages
    can judge (egress rules)."""
    config = resolve_secrets(load_config(path), path)
    try:
        policies_from_config(config)
    except PolicyError as e:
        raise ConfigError(path, [f"{where}: {msg}" if where else msg for where, msg in e.problems]) from None
    return config


def egress_runtime(config: Config, directory: Directory) -> EgressRuntime:
    return EgressRuntime(
        directory.authenticate, directory.__contains__, policies_from_config(config), dict(config.secrets),
        config.egress,
    )  # fmt: skip


def config_hash(path: str) -> str:
    """What the audit trail records of a config version: its file's SHA-256 (never its content)."""
    try:
        return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


class Worker:
    def __init__(
        self,
        config_path: str,
        config: Config,
        chain: CAChain,
        supervised: bool,
        egress_unix: socket.socket | None = None,
    ) -> None:
        self.config_path = config_path
        self.config = config
        self.chain = chain
        self.supervised = supervised
        self.egress_unix = egress_unix  # made by the parent before forking; every worker accepts on it
        self.ready = False
        self.started = time.time()
        self._stop = asyncio.Event()
        self.door: LLMDoor | None = None
        self._ner_start: asyncio.Task[None] | None = None
        self.guard: BudgetGuard
        self._session: aiohttp.ClientSession | None = None
        self.audit_reader: audit.Reader

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        llm_sock = listen_socket(cfg.listeners.llm.host, cfg.listeners.llm.port, self.supervised)
        admin_sock = listen_socket(cfg.listeners.admin.host, cfg.listeners.admin.port, self.supervised)
        egress_sock = listen_socket(cfg.listeners.egress.host, cfg.listeners.egress.port, self.supervised)
        audit.install(audit.pipeline_for(cfg))
        await audit.replay_spool()
        self.audit_reader = audit.Reader(cfg.audit)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=cfg.limits.upstream_pool_size, ttl_dns_cache=60, keepalive_timeout=30),
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )
        self.guard = BudgetGuard.from_settings(cfg.budget)
        self.door = LLMDoor(Runtime(cfg, self._session), self.guard)
        own = [(lst.host, lst.port) for lst in (cfg.listeners.llm, cfg.listeners.egress, cfg.listeners.admin)]
        target = redis_target(cfg.budget)
        self.trust = Trust(self.chain, resp.connect(target) if target else None, cfg.budget.key_prefix)
        self.egress = EgressProxy(
            egress_runtime(cfg, self.door.runtime.directory), self.chain, own, new_request_id,
            bundle=self.trust.bundle_pem,
        )  # fmt: skip
        ca_keeper = loop.create_task(self.trust.keep(cfg.egress.ca_cert_path))
        egress_servers = [await asyncio.start_server(self.egress.handle, sock=egress_sock, backlog=1024)]
        if self.egress_unix is not None:
            egress_servers.append(await asyncio.start_unix_server(self.egress.handle, sock=self.egress_unix))
        grace = cfg.limits.shutdown_grace_s
        runners = [
            web.AppRunner(self.door.app(), access_log=None, handler_cancellation=True, shutdown_timeout=grace),
            web.AppRunner(admin_app(self), access_log=None, shutdown_timeout=1.0),
        ]
        for runner, sock in zip(runners, (llm_sock, admin_sock), strict=True):
            await runner.setup()
            await web.SockSite(runner, sock, backlog=1024).start()
        loop.add_signal_handler(signal.SIGTERM, self._stop.set)
        loop.add_signal_handler(signal.SIGINT, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        if any(p.ner for p in self.door.runtime.pii.values()):
            # Load the model now, in the background, rather than on the first request that needs it.
            self._ner_start = loop.create_task(self._warm_ner())
        lag_watch = loop.create_task(metrics.watch_loop_lag())
        self.ready = True
        audit.emit(
            audit.AuditEvent(
                "config", "load", "allowed", actor_type="operator", resource=self.config_path,
                detail={"config_sha256": config_hash(self.config_path)},
            )
        )  # fmt: skip
        log.info(
            "worker %d ready: LLM door http://%s:%d, egress proxy http://%s:%d, admin http://%s:%d",
            os.getpid(),
            *llm_sock.getsockname()[:2],
            *egress_sock.getsockname()[:2],
            *admin_sock.getsockname()[:2],
        )
        await self._stop.wait()
        self.ready = False
        lag_watch.cancel()
        ca_keeper.cancel()
        log.info("worker %d shutting down (grace %.0fs)", os.getpid(), grace)
        for server in egress_servers:
            server.close()
        for runner in runners:
            await runner.cleanup()  # stops accepting, then waits for in-flight requests up to the grace
        self.egress.close()
        self.door.close()
        await self.guard.close()  # settles still in flight reach the store before exit
        await self._session.close()
        await self.audit_reader.close()
        await self.trust.close()
        await audit.uninstall()

    async def _warm_ner(self) -> None:
        assert self.door is not None
        try:
            await self.door.ner().start()
        except Exception as e:
            log.error("the NER tier did not start (%s); requests whose policy needs it are refused", e)

    def reload(self) -> bool:
        """Swap in the config file's current content; keep the old one if it is invalid."""
        try:
            new = load_checked(self.config_path)
        except ConfigError as e:
            metrics.CONFIG_RELOADS.labels("rejected").inc()
            for line in e.errors:
                log.error("config reload rejected, old config stays in force: %s: %s", e.source, line)
            audit.emit(
                audit.AuditEvent(
                    "config",
                    "reload",
                    "denied",
                    actor_type="operator",
                    resource=e.source,
                    detail={"errors": len(e.errors), "config_sha256": config_hash(self.config_path)},
                )
            )
            return False
        if new.listeners != self.config.listeners or new.budget != self.config.budget or new.audit != self.config.audit:
            log.warning("config reload: listener, budget store and audit changes take effect only after a restart")
        assert self.door is not None and self._session is not None
        self.config = new
        cut = self.door.swap(Runtime(new, self._session))
        cut += self.egress.swap(egress_runtime(new, self.door.runtime.directory))
        audit.reconfigure(new)
        metrics.CONFIG_RELOADS.labels("applied").inc()
        log.info("config reloaded from %s (%d streams and tunnels of revoked access closed)", self.config_path, cut)
        audit.emit(
            audit.AuditEvent(
                "config",
                "reload",
                "allowed",
                actor_type="operator",
                resource=self.config_path,
                detail={"streams_cut": cut, "config_sha256": config_hash(self.config_path)},
            )
        )
        return True

    def request_reload(self) -> bool:
        """The admin API's reload: in a multi-worker appliance the parent validates and fans out."""
        if self.supervised:
            try:
                load_checked(self.config_path)
            except ConfigError:
                return self.reload()  # reports the errors and returns False
            os.kill(os.getppid(), signal.SIGHUP)
            return True
        return self.reload()


def preload(config: Config) -> None:
    """Load tokenizer ranks before forking so workers share them copy-on-write."""
    for p in config.providers:
        for m in p.models:
            encoding_for_model(m.upstream_name or m.name)


def run_worker(
    config_path: str, config: Config, chain: CAChain, supervised: bool, egress_unix: socket.socket | None
) -> int:
    try:
        uvloop.run(Worker(config_path, config, chain, supervised, egress_unix).run())
    except ListenError as e:
        log.error("%s", e)
        return 1
    return 0


def serve(config_path: str, workers: int) -> int:
    try:
        config = load_checked(config_path)
    except ConfigError as e:
        for line in e.errors:
            print(f"{e.source}: {line}", file=sys.stderr)
        return 2
    limited = any(b.limited for b in agent_budgets(config).values())
    if workers > 1 and config.budget.store == "memory" and limited:
        print(
            f"{config_path}: budget.store: 'memory' keeps budgets inside one process; with --workers {workers} "
            "each worker would enforce the limits on its own. Use `store: redis` or --workers 1",
            file=sys.stderr,
        )
        return 2
    preload(config)
    # One CA for every worker, made here before forking; its key lives in memory only.
    # One CA schedule for every worker, seeded here before forking: each worker derives the same
    # CAs from it (egress/rotation.py); the seed and keys live in memory only.
    chain = CAChain(timedelta(seconds=config.egress.ca_validity_s))
    if config.egress.ca_cert_path:  # before the listeners open: a sandbox started next finds it
        write_atomically(config.egress.ca_cert_path, chain.bundle_pem())
    unix_path = config.listeners.egress_unix
    try:
        egress_unix = listen_unix(unix_path) if unix_path else None
    except ListenError as e:
        log.error("%s", e)
        return 1
    pid = os.getpid()
    try:
        if workers <= 1:
            return run_worker(config_path, config, chain, False, egress_unix)
        return Supervisor(config_path, config, chain, workers, egress_unix).run()
    finally:
        if egress_unix is not None and unix_path and os.getpid() == pid:
            egress_unix.close()
            with contextlib.suppress(OSError):
                os.unlink(unix_path)


class Supervisor:
    def __init__(
        self,
        config_path: str,
        config: Config,
        chain: CAChain,
        workers: int,
        egress_unix: socket.socket | None,
    ) -> None:
        self.config_path = config_path
        self.config = config
        self.chain = chain
        self.n = workers
        self.egress_unix = egress_unix
        self.children: dict[int, float] = {}
        self.stopping = False

    def run(self) -> int:
        # Fail fast, in the parent, when a port is taken (binding without listen() joins no group).
        for lst in (self.config.listeners.llm, self.config.listeners.egress, self.config.listeners.admin):
            try:
                listen_socket(lst.host, lst.port, reuse_port=True).close()
            except ListenError as e:
                log.error("%s", e)
                return 1
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)
        for _ in range(self.n):
            self._spawn()
        log.info("supervisor %d started %d workers", os.getpid(), self.n)
        status = 0
        while self.children:
            try:
                pid, code = os.wait()
            except ChildProcessError:
                break
            started = self.children.pop(pid, None)
            metrics.mark_process_dead(pid)
            if self.stopping or started is None:
                continue
            log.error("worker %d exited unexpectedly (status %d); restarting", pid, code)
            status = 1
            if time.monotonic() - started < RESTART_BACKOFF_S:
                time.sleep(RESTART_BACKOFF_S)
            if not self.stopping:
                self._spawn()
        return 0 if self.stopping else status

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            code = 1
            try:
                code = run_worker(self.config_path, self.config, self.chain, True, self.egress_unix)
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = time.monotonic()

    def _forward(self, sig: int) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def _on_stop(self, signum: int, _frame: Any) -> None:
        self.stopping = True
        self._forward(signal.SIGTERM)

    def _on_hup(self, _signum: int, _frame: Any) -> None:
        # Each worker validates, applies or rejects, and audits the reload itself. The parent
        # keeps its copy current too, for workers it restarts later.
        with contextlib.suppress(ConfigError):
            self.config = load_checked(self.config_path)
        self._forward(signal.SIGHUP)
