"""`tollgate secrets …`: set (value from stdin only), list, delete, rotate, keygen.

Values never come from argv (shell history, /proc/PID/cmdline) and are never printed; every
error is one line naming the secret.
"""

from __future__ import annotations

import argparse
import sys
import termios

DEFAULT_STORE_HELP = "the config file whose secret_store to use (default: the file store var/secrets.json)"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    secrets = sub.add_parser("secrets", help="the encrypted secret store (AES-256-GCM)")
    actions = secrets.add_subparsers(dest="secrets_command", required=True, metavar="ACTION")
    for name, help_text in (
        ("set", "store a secret; the value is read from stdin (one trailing newline dropped)"),
        ("list", "names, key ids and times; never values"),
        ("delete", "remove a secret"),
        ("rotate", "re-encrypt every secret under TOLLGATE_MASTER_KEY (TOLLGATE_OLD_MASTER_KEY opens the old ones)"),
        ("keygen", "print a new random master key (base64 of 32 bytes)"),
    ):
        p = actions.add_parser(name, help=help_text)
        if name in ("set", "delete"):
            p.add_argument("name", metavar="NAME")
        if name != "keygen":
            p.add_argument("--config", metavar="FILE", help=DEFAULT_STORE_HELP)


def _read_stdin(name: str) -> bytes:
    """All of stdin; typed at a terminal, without echo, so the value never shows on the screen
    (scrollback, screen sharing and session recordings keep what a terminal shows)."""
    if not sys.stdin.isatty():
        return sys.stdin.buffer.read()
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    quiet = list(saved)
    quiet[3] &= ~termios.ECHO  # lflag; ICANON stays on, so Ctrl-D still ends the input
    # Echo goes off before the prompt appears: nothing typed after it is ever shown.
    termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
    try:
        print(f"value for secret {name!r} (not shown; then Enter, Ctrl-D):", file=sys.stderr, flush=True)
        return sys.stdin.buffer.read()
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        print(file=sys.stderr)  # the user's Enter was not echoed either


def run(args: argparse.Namespace) -> int:
    from config import ConfigError, Keyring, MasterKey, SecretError, open_store, seal
    from config.loader import load_section
    from config.schema import SecretStoreSettings
    from config.secrets import SealedSecret, check_name, read_value, reseal

    command = args.secrets_command
    if command == "keygen":
        print(MasterKey.generate().encoded())
        return 0
    try:
        settings = (
            load_section(args.config, "secret_store", SecretStoreSettings) if args.config else SecretStoreSettings()
        )
    except ConfigError as e:
        print(f"{e.source}: {e.errors[0]}", file=sys.stderr)
        return 2
    store = open_store(settings)
    try:
        if command == "set":
            name = check_name(args.name)
            value = read_value(_read_stdin(name), name)
            sealed = seal(Keyring.from_env().current, name, value)
            store.put(sealed)
            print(f"secret {name!r} stored in {store.location} (key {sealed.key_id})")
        elif command == "list":
            records = store.load()
            if not records:
                print(f"no secrets in {store.location}")
            for r in sorted(records.values(), key=lambda r: r.name):
                print(f"{r.name}\tkey={r.key_id}\tcreated={r.created}\tupdated={r.updated}")
        elif command == "delete":
            name = check_name(args.name)
            if not store.delete(name):
                raise SecretError(name, f"not in {store.location}")
            print(f"secret {name!r} deleted from {store.location}")
        else:
            keyring = Keyring.from_env()
            moved = 0

            def rotate(records: list[SealedSecret]) -> list[SealedSecret]:
                # Everything is decrypted before anything is written: one secret the keys cannot
                # open leaves the store as it was.
                nonlocal moved
                resealed = [reseal(keyring, r) for r in records]
                moved = sum(1 for old, new in zip(records, resealed, strict=True) if old is not new)
                return resealed

            total = store.rewrite(rotate)
            print(f"{moved} of {total} secrets re-encrypted under key {keyring.current.key_id}")
    except SecretError as e:
        print(f"tollgate secrets {command}: {e}", file=sys.stderr)
        return 1
    return 0
