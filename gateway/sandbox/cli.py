"""`tollgate sandbox run|rules`: arguments, resolution against the config, one-line errors."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from gateway.sandbox.plan import (
    Endpoint,
    PlanError,
    command_args,
    dial_host,
    extra_env,
    nft_difference,
    nft_script,
    nft_table,
    parse_duration,
    parse_proxy,
)
from gateway.sandbox.run import SETUP_FAILED, SandboxError, Spec, read_token, readable_by, resolve_user, start

NFT_PATHS = ("/usr/sbin/nft", "/sbin/nft")


def add_parser(sub: argparse._SubParsersAction) -> None:
    sandbox = sub.add_parser("sandbox", help="run an agent where the egress door is the only way out")
    actions = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")

    run = actions.add_parser(
        "run",
        help="run CMD in its own network namespace, as an unprivileged user, reaching out only through tollgate",
        description="Exit status: the command's; 125 when the sandbox could not start, 126/127 when the command "
        "could not be executed / was not found. The agent's token comes from TOLLGATE_AGENT_TOKEN or --token-file.",
    )
    run.add_argument("--agent", required=True, metavar="ID")
    where = run.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", metavar="FILE", help="the appliance's config: doors, agent, audit sink")
    where.add_argument("--proxy", metavar="URL", help="the egress door: http://HOST:PORT or unix:/PATH")
    run.add_argument("--llm", metavar="URL", help="with --proxy: the LLM door, http://HOST:PORT")
    run.add_argument("--token-file", metavar="FILE", help="read the agent's token from FILE")
    run.add_argument("--workdir", metavar="DIR", help="the command's directory (default: a scratch one)")
    run.add_argument("--user", metavar="NAME|UID", help="run as this user (root only; default nobody)")
    run.add_argument("--idle-timeout", default="30m", metavar="DURATION", help="end after this long without traffic")
    run.add_argument("--check-interval", default="5s", metavar="DURATION", help="how often to check for revocation")
    run.add_argument(
        "--env", action="append", default=[], metavar="NAME[=VALUE]",
        help="add a variable; NAME alone passes on this environment's value (repeatable)",
    )  # fmt: skip
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")

    rules = actions.add_parser("rules", help="nftables rules that let a uid reach only the proxy on loopback")
    rules.add_argument("--uid", type=_uid, required=True)
    rules.add_argument("--proxy-port", type=_port, default=3128, metavar="P")
    rules.add_argument(
        "--llm-port", type=_port, action="append", default=[], metavar="P", help="allow the LLM door too"
    )
    rules.add_argument("--check", action="store_true", help="verify the rules loaded in the kernel instead")


def main(args: argparse.Namespace) -> int:
    if args.sandbox_command == "rules":
        ports = [args.proxy_port, *args.llm_port]
        if args.check:
            return _check_rules(args.uid, ports)
        sys.stdout.write(nft_script(args.uid, ports))
        return 0
    try:
        spec = _spec(args)
        return start(spec)
    except (PlanError, SandboxError) as e:
        print(f"tollgate sandbox: {e}", file=sys.stderr)
        return SETUP_FAILED


def _spec(args: argparse.Namespace) -> Spec:
    argv = command_args(args.cmd)
    as_root = os.geteuid() == 0
    user = resolve_user(args.user, as_root)
    token = read_token(args.token_file)
    common = {
        "agent": args.agent,
        "token": token,
        "argv": argv,
        "user": user,
        "as_root": as_root,
        "workdir": os.path.abspath(args.workdir) if args.workdir else None,
        "idle_timeout_s": parse_duration(args.idle_timeout),
        "check_interval_s": parse_duration(args.check_interval) or 5.0,
        "extra_env": extra_env(args.env, os.environ),
    }
    if args.proxy is not None:
        llm = parse_proxy(args.llm) if args.llm else None
        if llm is not None and llm.path:
            raise PlanError("--llm: expected http://HOST:PORT")
        return Spec(egress=parse_proxy(args.proxy), llm=llm, **common)
    if args.llm:
        raise PlanError("--llm goes with --proxy; with --config the LLM door comes from the config")

    from config import ConfigError, hash_token, load_config
    from config.secrets import MASTER_KEY_ENV
    from gateway.auth import Directory

    try:
        config = load_config(args.config)
    except ConfigError as e:
        raise SandboxError(f"{e.source}: {e.errors[0]}") from None
    found = [(o, t, a) for o in config.orgs for t in o.teams for a in t.agents if a.id == args.agent]
    if not found:
        raise SandboxError(f"unknown agent {args.agent!r}: no such agent in {args.config}")
    org, team, agent = found[0]
    if hash_token(token) not in agent.tokens:
        raise SandboxError(f"the token is not one of agent {args.agent}'s tokens in {args.config}")
    # The config names the agent tokens' hashes and the master key file unlocks every secret.
    key_file = os.environ.get(MASTER_KEY_ENV, "")
    for path in (args.config, *([key_file] if os.path.isfile(key_file) else [])):
        if as_root and readable_by(path, user):
            print(f"tollgate sandbox: warning: {path} is readable by uid {user.uid}; chmod 600 it", file=sys.stderr)
    listeners = config.listeners
    if listeners.egress_unix:
        egress = Endpoint(path=listeners.egress_unix)
    else:
        egress = Endpoint(host=dial_host(listeners.egress.host), port=listeners.egress.port)
    principal = Directory(config).authenticate(token)
    llm = None
    if principal is not None and (principal.models is None or principal.models):
        llm = Endpoint(host=dial_host(listeners.llm.host), port=listeners.llm.port)
    return Spec(egress=egress, llm=llm, org_id=org.id, team_id=team.id, config=config, **common)


def _check_rules(uid: int, ports: list[int]) -> int:
    nft = shutil.which("nft") or next((p for p in NFT_PATHS if os.access(p, os.X_OK)), None)
    if nft is None:
        print("tollgate sandbox rules: no nft binary: install nftables (apt-get install nftables)", file=sys.stderr)
        return 2
    table = nft_table(uid)
    proc = subprocess.run([nft, "list", "table", "inet", table], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        error = (proc.stderr.strip().splitlines() or ["?"])[0]
        if "No such file" in proc.stderr:
            error = f"no table inet {table} is loaded (apply: tollgate sandbox rules --uid {uid} ... | nft -f -)"
        elif "Operation not permitted" in proc.stderr:
            error = "nft may not read the ruleset: run as root (CAP_NET_ADMIN)"
        print(f"tollgate sandbox rules: {error}", file=sys.stderr)
        return 1
    difference = nft_difference(proc.stdout, uid, ports)
    if difference is not None:
        print(f"tollgate sandbox rules: table inet {table} is not the expected one: {difference}", file=sys.stderr)
        return 1
    print(f"OK: table inet {table} lets uid {uid} reach only tcp port(s) {', '.join(map(str, sorted(set(ports))))}")
    return 0


def _uid(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 2**32 - 1:
        raise argparse.ArgumentTypeError(f"a uid between 1 and 4294967294, got {value!r}")
    return int(value)


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"a port between 1 and 65535, got {value!r}")
    return int(value)
