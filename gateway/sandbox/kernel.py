"""The syscalls that build a sandbox: namespaces, loopback, credentials, descriptor passing.

Everything here runs in the forked child, between fork() and execve().
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import signal
import socket
import struct

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 0x40000
# Directories of daemons' Unix sockets (resolvers, D-Bus, databases): empty inside the sandbox.
HIDDEN_RUN_DIRS = ("/run", "/var/run")
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def unshare(flags: int) -> None:
    # os.unshare arrives with Python 3.12.
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def new_namespaces(as_root: bool) -> None:
    """Enter a network namespace that has only a (down) loopback interface, and mount and IPC ones.

    Without root, a user namespace comes first (it grants the capabilities the others need),
    mapping only the caller's own uid and gid: the command keeps its identity and loses those
    capabilities again at execve.
    """
    flags = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC  # IPC: the host's System V objects stay out of reach
    if as_root:
        unshare(flags)
        return
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER | flags)
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    def c(value: str | None) -> bytes | None:
        return value.encode() if value is not None else None

    result = _libc.mount(c(source), c(target), c(fstype), ctypes.c_ulong(flags), c(data))
    _check(result, f"mount {target}")


def hide_run_dirs() -> None:
    """An empty tmpfs over /run: Unix sockets of host daemons are not network, so the network
    namespace alone does not hide them (a resolver there would answer DNS queries)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)  # nothing we mount propagates to the host
    for path in HIDDEN_RUN_DIRS:
        if os.path.isdir(path) and not os.path.islink(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=64k")


def loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def listen_loopback() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def drop_privileges(uid: int, gid: int) -> None:
    """Root only: no supplementary groups, then gid, then uid (real, effective and saved)."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def no_new_privs() -> None:
    """setuid binaries and file capabilities grant nothing from here on (inherited by children)."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def die_with_parent(parent: int) -> None:
    """SIGKILL when the supervisor dies; set after the uid change, which clears it."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:
        os._exit(125)


def reset_signals() -> None:
    """Python ignores SIGPIPE and may have handlers; the command starts with the defaults."""
    for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGTTOU, signal.SIGTTIN):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def exec_status(e: OSError) -> int:
    """The shell's convention for a command that cannot run: 127 not found, 126 otherwise."""
    return 127 if e.errno in (errno.ENOENT, errno.ENOTDIR) else 126
