"""`tollgate …`: serve, check-config, token create, secrets, pii scan, db migrate, audit query, sandbox."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config import Config

from gateway import sandbox, secrets_cmd


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
    create.add_argument(
        "--config",
        metavar="FILE",
        help="check the agent exists in this config and record the creation in its audit sink",
    )

    db = sub.add_parser("db", help="the audit database")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    migrate = db_sub.add_parser(
        "migrate", help="create or upgrade the audit schema (idempotent) and mirror the tenancy"
    )
    migrate.add_argument("--config", required=True, metavar="FILE")

    aud = sub.add_parser("audit", help="the audit trail")
    aud_sub = aud.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    query = aud_sub.add_parser("query", help="one org's events, newest first")
    query.add_argument("--config", required=True, metavar="FILE", help="where the trail is (audit.sink)")
    query.add_argument("--org", required=True, metavar="ID")
    query.add_argument("--agent", metavar="ID")
    query.add_argument("--with-subagents", action="store_true", help="include the agent's subagents' events")
    query.add_argument("--since", metavar="TIME", help="ISO 8601 (2026-12-02T14:00:00Z) or an age (15m, 2h, 7d)")
    query.add_argument("--until", metavar="TIME", help="same forms as --since; exclusive")
    query.add_argument("--surface", metavar="NAME", help="llm, egress, admin, auth, budget or config")
    query.add_argument("--result", metavar="NAME", help="allowed, denied or error")
    query.add_argument("--request-id", metavar="ID")
    query.add_argument("--limit", default="100", metavar="N", help="rows per page (default 100, at most 10000)")
    query.add_argument("--cursor", metavar="CURSOR", help="the next page: the cursor the previous page printed")
    query.add_argument("--format", default="table", choices=["table", "json", "csv"])

    secrets_cmd.add_parser(sub)

    pii = sub.add_parser("pii", help="PII tools")
    pii_sub = pii.add_subparsers(dest="pii_command", required=True, metavar="ACTION")
    scan = pii_sub.add_parser(
        "scan", help='detect PII in JSON lines {"id", "text"} on stdin; write {"id", "spans"} lines'
    )
    scan.add_argument("--ner", action="store_true", help="also run the NER tier (PERSON, ORGANIZATION, LOCATION)")
    scan.add_argument("--config", metavar="FILE", help="take the types and actions of --policy from this file")
    scan.add_argument("--policy", metavar="AGENT_ID", help="the agent whose effective PII policy to apply")
    sandbox.add_parser(sub)

    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args.config, args.workers, args.log_level)
    if args.command == "check-config":
        return _check_config(args.file)
    if args.command == "pii":
        return _pii_scan(args.ner, args.config, args.policy)
    if args.command == "secrets":
        return secrets_cmd.run(args)
    if args.command == "db":
        return _db_migrate(args.config)
    if args.command == "audit":
        return _audit_query(args)
    if args.command == "sandbox":
        return sandbox.main(args)
    return _token_create(args.agent, args.config)


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
    counts = (len(cfg.providers), "provider"), (models, "model"), (len(cfg.orgs), "org"), (agents, "agent")
    print(f"{path}: OK ({', '.join(f'{n} {noun}' + ('' if n == 1 else 's') for n, noun in counts)})")
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


def _load(path: str, command: str) -> Config | None:
    """The config for a one-shot command, or None after printing why it cannot be used."""
    from config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as e:
        for line in e.errors:
            print(f"{e.source}: {line}", file=sys.stderr)
        print(f"tollgate {command}: the config is invalid", file=sys.stderr)
        return None


def _db_migrate(config_path: str) -> int:
    import asyncio

    import audit

    cfg = _load(config_path, "db migrate")
    if cfg is None:
        return 2
    if cfg.audit.sink != "postgres":
        print(
            f"tollgate db migrate: {config_path}: audit.sink is {cfg.audit.sink!r}; nothing to migrate", file=sys.stderr
        )
        return 2
    try:
        applied = asyncio.run(audit.migrate_database(cfg))
    except Exception as e:
        print(f"tollgate db migrate: {e.__class__.__name__}: {e}", file=sys.stderr)
        return 1
    done = f"applied migrations {', '.join(map(str, applied))}" if applied else "already up to date"
    print(f"audit schema: {done}; partitions made ahead; tenancy mirrored ({len(cfg.orgs)} orgs)")
    return 0


def _audit_query(args: argparse.Namespace) -> int:
    import asyncio

    import audit

    cfg = _load(args.config, "audit query")
    if cfg is None:
        return 2
    params = {
        "org": args.org, "agent": args.agent, "with_subagents": "true" if args.with_subagents else None,
        "since": args.since, "until": args.until, "surface": args.surface, "result": args.result,
        "request_id": args.request_id, "limit": args.limit, "cursor": args.cursor,
    }  # fmt: skip
    try:
        query = audit.build_query(params)
    except audit.QueryError as e:
        name, _, why = str(e).partition(":")
        print(f"tollgate audit query: --{name.replace('_', '-')}:{why}", file=sys.stderr)
        return 2

    async def run() -> audit.Page:
        reader = audit.Reader(cfg.audit)
        try:
            return await reader.page(query)
        finally:
            await reader.close()

    try:
        page = asyncio.run(run())
    except audit.ReadError as e:
        print(f"tollgate audit query: {e}", file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    if args.format == "json":
        out.write(audit.render_lines(page.rows))
    else:
        out.write(audit.render(page, args.format))
    out.flush()
    if page.next_cursor:
        print(f"more rows: --cursor {page.next_cursor}", file=sys.stderr)
    elif not page.rows and query.org_id != audit.SYSTEM_ORG:
        # A removed org or agent keeps its rows, so this is no error; an empty answer for a typo says why.
        orgs = [o for o in cfg.orgs if o.id == query.org_id]
        if not orgs:
            print(f"tollgate audit query: no events; the config has no org {query.org_id!r}", file=sys.stderr)
        elif query.agent_id is not None and all(a.id != query.agent_id for t in orgs[0].teams for a in t.agents):
            print(
                f"tollgate audit query: no events; org {query.org_id!r} has no agent {query.agent_id!r}",
                file=sys.stderr,
            )
    return 0


def _token_create(agent: str, config_path: str | None) -> int:
    import re

    from config import generate_token, hash_token
    from config.schema import ID_RE

    if not re.fullmatch(ID_RE, agent):
        print(f"tollgate token create: --agent: {agent!r} is not an agent id (a letter or digit, then letters, "
              "digits, '.', '_' or '-'; at most 64)", file=sys.stderr)  # fmt: skip
        return 2
    cfg, owner = None, None
    if config_path is not None:
        cfg = _load(config_path, "token create")
        if cfg is None:
            return 2
        owner = next(((o, t) for o in cfg.orgs for t in o.teams if any(a.id == agent for a in t.agents)), None)
        if owner is None:
            print(f"tollgate token create: no agent {agent!r} in {config_path}", file=sys.stderr)
            return 2
    token = generate_token()
    if cfg is not None and owner is not None:
        import asyncio

        import audit

        org, team = owner
        # The token's hash prefix identifies it in the trail without being usable; the token itself never is recorded.
        event = audit.AuditEvent(
            "admin", "token.create", "allowed", org_id=org.id, team_id=team.id, actor_type="operator",
            resource=agent, detail={"agent": agent, "token_sha256_prefix": hash_token(token)[7:19]},
        )  # fmt: skip
        try:
            asyncio.run(audit.write_now(cfg, [event]))
        except Exception as e:
            print(f"tollgate token create: the audit sink refused the event ({e.__class__.__name__}); no token issued",
                  file=sys.stderr)  # fmt: skip
            return 1
    print(f"token for agent {agent} (shown once; store it in the agent's sandbox):")
    print(f"  {token}")
    print("add this line to the agent's `tokens:` list in the config:")
    print(f"  - {hash_token(token)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
