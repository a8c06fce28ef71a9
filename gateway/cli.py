"""`tollgate …`: serve, check-config, token create, secrets, pii scan."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile

from gateway import secrets_cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tollgate", description="LLM gateway and egress proxy for AI agents")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the appliance")
    serve.add_argument("--config", required=True, metavar="FILE")
    serve.add_argument("--workers", type=_workers, default=1, metavar="N", help="worker processes (default 1)")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    check = sub.add_parser("check-config", help="validate a config file and list every error")
    check.add_argument("file")

    token = sub.add_parser("token", help="agent tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="print a new token once, and the hash line for the config")
    create.add_argument("--agent", required=True, metavar="ID")

    secrets_cmd.add_parser(sub)

    pii = sub.add_parser("pii", help="PII tools")
    pii_sub = pii.add_subparsers(dest="pii_command", required=True, metavar="ACTION")
    scan = pii_sub.add_parser(
        "scan", help='detect PII in JSON lines {"id", "text"} on stdin; write {"id", "spans"} lines'
    )
    scan.add_argument("--ner", action="store_true", help="also run the NER tier (PERSON, ORGANIZATION, LOCATION)")
    scan.add_argument("--config", metavar="FILE", help="take the types and actions of --policy from this file")
    scan.add_argument("--policy", metavar="AGENT_ID", help="the agent whose effective PII policy to apply")

    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args.config, args.workers, args.log_level)
    if args.command == "check-config":
        return _check_config(args.file)
    if args.command == "pii":
        return _pii_scan(args.ner, args.config, args.policy)
    if args.command == "secrets":
        return secrets_cmd.run(args)
    return _token_create(args.agent)


def _workers(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"must be between 1 and 64, got {n}")
    return n


def _serve(config_path: str, workers: int, level: str) -> int:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Metrics are summed across workers from files in this directory; it must be set before
    # prometheus_client is first imported, hence the late import of the server.
    own_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_dir = tempfile.mkdtemp(prefix="tollgate-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_dir
    pid = os.getpid()
    try:
        from gateway.server import serve

        return serve(config_path, workers)
    finally:
        if own_dir and os.getpid() == pid:
            shutil.rmtree(own_dir, ignore_errors=True)


def _check_config(path: str) -> int:
    from config import ConfigError
    from gateway.server import load_checked

    try:
        cfg = load_checked(path)
    except ConfigError as e:
        for line in e.errors:
            print(f"{e.source}: {line}", file=sys.stderr)
        print(f"{e.source}: {len(e.errors)} error(s)", file=sys.stderr)
        return 2
    agents = sum(len(t.agents) for o in cfg.orgs for t in o.teams)
    models = sum(len(p.models) for p in cfg.providers)
    print(f"{path}: OK ({len(cfg.providers)} providers, {models} models, {len(cfg.orgs)} orgs, {agents} agents)")
    return 0


def _pii_scan(ner: bool, config_path: str | None, agent: str | None) -> int:
    """The exact detection the gateway runs, for operators trying a policy on their own data."""
    import asyncio

    import orjson

    from config import ConfigError, load_config
    from config.schema import PiiPolicy
    from pii import agent_pii_policies, detect, merge_spans, policy_from

    cfg_policy = PiiPolicy(ner=ner)
    if agent is not None:
        if config_path is None:
            print("tollgate pii scan: --policy needs --config FILE", file=sys.stderr)
            return 2
        try:
            cfg = load_config(config_path)
        except ConfigError as e:
            print(f"{e.source}: {e.errors[0]}", file=sys.stderr)
            return 2
        found = agent_pii_policies(cfg).get(agent)
        if found is None:
            print(f"tollgate pii scan: no agent {agent!r} in {config_path}", file=sys.stderr)
            return 2
        cfg_policy = found
        if ner:
            cfg_policy = cfg_policy.model_copy(update={"ner": True})
    policy = policy_from(cfg_policy)
    types = policy.detect_types if policy.enabled else frozenset()
    records: list[tuple[object, str]] = []
    bad = 0
    for n, line in enumerate(sys.stdin.buffer, 1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
            text = record["text"]
            if not isinstance(text, str):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            print(f"line {n}: expected a JSON object with a string 'text'", file=sys.stderr)
            bad += 1
            continue
        records.append((record.get("id"), text))
    ner_spans: list[list] = [[] for _ in records]
    if policy.ner and policy.enabled and records:
        from pii.ner import NerEngine

        async def run_ner() -> list[list]:
            engine = NerEngine(timeout_s=600)
            try:
                return await engine.detect([text for _, text in records], types)
            finally:
                engine.close()

        try:
            ner_spans = asyncio.run(run_ner())
        except Exception as e:
            print(f"tollgate pii scan: the NER tier failed: {e.__class__.__name__}: {e}", file=sys.stderr)
            return 2
    out = sys.stdout.buffer
    for (record_id, text), extra in zip(records, ner_spans, strict=True):
        spans = merge_spans(detect(text, types), [s for s in extra if s.type in types])
        out.write(
            orjson.dumps({"id": record_id, "spans": [{"start": s.start, "end": s.end, "type": s.type} for s in spans]})
        )
        out.write(b"\n")
    out.flush()
    return 1 if bad else 0


def _token_create(agent: str) -> int:
    from config import generate_token, hash_token

    token = generate_token()
    print(f"token for agent {agent} (shown once; store it in the agent's sandbox):")
    print(f"  {token}")
    print("add this line to the agent's `tokens:` list in the config:")
    print(f"  - {hash_token(token)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
