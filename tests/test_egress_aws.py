"""AWS credentials: boto3 in a sandbox with dummy keys reaches S3 (moto, signatures enforced)
through tollgate, which assumes a role per agent and re-signs every request."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import boto3
import httpx
import pytest
import yaml
from aiohttp import ClientSession, web
from botocore.config import Config as BotoConfig
from yarl import URL

from config import MasterKey, parse_config
from egress.aws import CredentialCache, Temporary, session_name, session_tags, signing_plan
from egress.credentials import AwsSpec, CredentialError, OutgoingRequest
from tests.conftest import ALICE, ROOT, Gateway, base_config
from tests.https_upstream import make_test_pki
from tests.upstream import LoopbackServer, free_port, wait_until

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/agent-role"
BUCKET = "agent-bucket"
SANDBOX_KEY, SANDBOX_SECRET, SANDBOX_TOKEN = "AKIASANDBOXDUMMY0000", "sandbox-dummy-secret", "sandbox-dummy-token"
# moto checks signatures and IAM policies after this many requests: the test's own setup.
SETUP_ACTIONS = 7


class Front(LoopbackServer):
    """TLS in front of moto (plain HTTP), forwarding every request as it is, Host included (it
    is signed) and the target byte for byte (yarl would requote `%2F` in a query, which breaks
    the signature), and keeping (path, headers, body) of each."""

    def __init__(self, ssl_context, moto_port: int) -> None:
        super().__init__()
        self.ssl_context = ssl_context
        self.moto = f"http://127.0.0.1:{moto_port}"
        self.seen: list[tuple[str, dict[str, str], bytes]] = []

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        return app

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.seen.append((request.path_qs, headers, body))
        framing = {"transfer-encoding", "content-length"}
        send = {k: v for k, v in request.headers.items() if k.lower() not in framing}
        async with (
            ClientSession(auto_decompress=False, skip_auto_headers=("User-Agent", "Content-Type")) as session,
            session.request(
                request.method, URL(self.moto + request.raw_path, encoded=True), headers=send, data=body
            ) as r,
        ):
            drop = {"transfer-encoding", "content-length", "connection", "content-encoding"}
            out = {k: v for k, v in r.headers.items() if k.lower() not in drop}
            if request.method == "HEAD":  # no body, but the size of the one a GET would get
                return web.Response(status=r.status, headers={**out, "Content-Length": r.headers["Content-Length"]})
            return web.Response(status=r.status, headers=out, body=await r.read())


@pytest.fixture(scope="module")
def moto_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log,
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_ACTIONS),
             "S3_IGNORE_SUBDOMAIN_BUCKETNAME": "true"},  # s3.test is a host, not a bucket "s3"
    )  # fmt: skip

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/moto-api/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_until(up, 20), "moto did not start"
    yield port
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def tollgate_key(moto_port: int) -> tuple[str, str]:
    """An IAM user for tollgate itself, a role agents get, a bucket: moto's whole setup."""
    direct = {"endpoint_url": f"http://127.0.0.1:{moto_port}", "region_name": "us-east-1",
              "aws_access_key_id": "AKIASETUP00000000000", "aws_secret_access_key": "setup"}  # fmt: skip
    iam = boto3.client("iam", **direct)
    iam.create_user(UserName="tollgate")
    key = iam.create_access_key(UserName="tollgate")["AccessKey"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
             "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/tollgate"}}]}  # fmt: skip
    iam.create_role(RoleName="agent-role", AssumeRolePolicyDocument=json.dumps(trust))
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": "*"}]}
    iam.put_role_policy(RoleName="agent-role", PolicyName="s3", PolicyDocument=json.dumps(allow))
    assume = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
              "Resource": ROLE_ARN}]}  # fmt: skip
    iam.put_user_policy(UserName="tollgate", PolicyName="assume", PolicyDocument=json.dumps(assume))
    boto3.client("s3", **direct).create_bucket(Bucket=BUCKET)
    # The next call is number SETUP_ACTIONS + 1 and must already be refused without a valid key.
    iam.list_users()
    with pytest.raises(Exception, match="InvalidClientTokenId"):
        iam.list_users()
    return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture(scope="module")
def front(moto_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Front, Path]]:
    ca, ctx = make_test_pki(tmp_path_factory.mktemp("aws-pki"), ["s3.test", "sts.test", "127.0.0.1"])
    f = Front(ctx, moto_port).start()
    yield f, ca
    f.stop()


@pytest.fixture(scope="module")
def gw(upstream, front, tollgate_key, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    server, ca = front
    workdir = tmp_path_factory.mktemp("aws")
    config = base_config(upstream.base_url, free_port(), free_port())
    config["egress"] = {"upstream_ca_bundle": str(ca), "ca_cert_path": str(workdir / "tollgate-ca.pem"),
                        "resolve": {"s3.test": ["127.0.0.1"], "sts.test": ["127.0.0.1"]}}  # fmt: skip
    config["orgs"][0]["egress"] = {"rules": [{
        "name": "aws", "hosts": ["s3.test", "sts.test"], "ports": [server.port], "mode": "intercept",
        "allow_private": True,
        "credential": {"kind": "aws", "role_arn": ROLE_ARN, "sts_endpoint": f"https://127.0.0.1:{server.port}",
                       "sts_ca_bundle": str(ca), "access_key_secret": "aws-key-id",
                       "secret_key_secret": "aws-secret-key"},
    }]}  # fmt: skip
    g = Gateway(workdir, config, env={"TOLLGATE_MASTER_KEY": MasterKey.generate().encoded()})
    for name, value in zip(("aws-key-id", "aws-secret-key"), tollgate_key, strict=True):
        g.set_secret(name, value)
    g.start()
    yield g
    g.stop()


@pytest.fixture(autouse=True)
def _clear(front) -> None:
    front[0].seen.clear()


# What every sandboxed script starts with: an S3 client for the test endpoint, path-style.
_PREAMBLE = """
import json, boto3, botocore.exceptions
from botocore.config import Config

def s3_client(port, **config):
    path_style = Config(s3={"addressing_style": "path"}, **config)
    return boto3.client("s3", endpoint_url=f"https://s3.test:{port}", config=path_style)
"""


def sandbox(gw: Gateway, script: str) -> dict:
    """Run `script` the way an agent would: a clean environment with the proxy, tollgate's CA and
    dummy AWS keys of its own; it prints one JSON line."""
    env = {
        "PATH": os.environ["PATH"], "HOME": str(gw.workdir), "PYTHONPATH": str(ROOT),
        "HTTPS_PROXY": f"http://alice:{ALICE}@127.0.0.1:{gw.egress_port}",
        "AWS_CA_BUNDLE": str(gw.workdir / "tollgate-ca.pem"),
        "AWS_ACCESS_KEY_ID": SANDBOX_KEY, "AWS_SECRET_ACCESS_KEY": SANDBOX_SECRET, "AWS_SESSION_TOKEN": SANDBOX_TOKEN,
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
    }  # fmt: skip
    code = _PREAMBLE + textwrap.dedent(script)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_boto3_with_dummy_keys_reaches_s3_as_the_agents_assumed_role(gw: Gateway, front):
    server, _ = front
    result = sandbox(
        gw,
        f"""
        s3 = s3_client({server.port})
        s3.put_object(Bucket="{BUCKET}", Key="notes/a.txt", Body=b"written by the agent")
        body = s3.get_object(Bucket="{BUCKET}", Key="notes/a.txt")["Body"].read().decode()
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="{BUCKET}")["Contents"]]
        sts = boto3.client("sts", endpoint_url="https://sts.test:{server.port}")
        print(json.dumps({{"body": body, "keys": keys, "arn": sts.get_caller_identity()["Arn"]}}))
    """,
    )
    assert result["body"] == "written by the agent" and result["keys"] == ["notes/a.txt"]
    # moto checked every signature against the assumed role's own secret key (and its policy).
    assert result["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/agent-role/tollgate-alice"
    assume = [parse_qs(body.decode()) for path, _, body in server.seen if b"Action=AssumeRole" in body]
    assert len(assume) == 1  # cached for every later request
    form = assume[0]
    assert form["RoleArn"] == [ROLE_ARN] and form["RoleSessionName"] == ["tollgate-alice"]
    tags = {form[f"Tags.member.{i}.Key"][0]: form[f"Tags.member.{i}.Value"][0] for i in (1, 2, 3)}
    assert tags == {"agent": "alice", "team": "research", "org": "acme"}
    calls = [(p, h) for p, h, b in server.seen if b"Action=AssumeRole" not in b]
    assert len(calls) == 4
    for _, headers in calls:
        assert "AWS4-HMAC-SHA256 Credential=" in headers["authorization"]
        assert SANDBOX_KEY not in headers["authorization"] and headers["x-amz-security-token"] != SANDBOX_TOKEN
    event = gw.audit_where(lambda e: e["surface"] == "egress" and e["action"] == "PUT")[-1]
    assert event["result"] == "allowed" and event["detail"]["injected"] == ["aws-key-id", "aws-secret-key"]
    everything = (gw.workdir / "var" / "audit.jsonl").read_text() + gw.log()
    for _, headers in calls:
        assert headers["x-amz-security-token"] not in everything


def test_s3_keys_that_normalization_would_change_are_refused_not_redirected(gw: Gateway, front):
    """S3 keys are literal: `dir/./x/../y//z` normalized is `dir/y/z`, another object."""
    server, _ = front
    result = sandbox(
        gw,
        f"""
        s3 = s3_client({server.port}, retries={{"max_attempts": 1}})
        out = {{}}
        for key in ("dir/./x/../y//z", "/leading-slash", "dir/..", "ok/a b+c~d.txt"):
            try:
                s3.put_object(Bucket="{BUCKET}", Key=key, Body=b"y")
                out[key] = "stored"
            except botocore.exceptions.ClientError as e:
                out[key] = e.response["ResponseMetadata"]["HTTPHeaders"].get("x-tollgate-reason")
        print(json.dumps(out))
    """,
    )
    refused = {k: v for k, v in result.items() if k != "ok/a b+c~d.txt"}
    assert set(refused.values()) == {"aws_path_not_literal"}, result
    assert result["ok/a b+c~d.txt"] == "stored"
    assert [p for p, _, _ in server.seen if "AssumeRole" not in p and p != "/"] == [f"/{BUCKET}/ok/a%20b%2Bc~d.txt"]


def raw_request(gw: Gateway, port: int, method: str, target: str, headers: dict[str, str]) -> httpx.Response:
    ctx = ssl.create_default_context(cafile=str(gw.workdir / "tollgate-ca.pem"))
    with httpx.Client(proxy=f"http://alice:{ALICE}@127.0.0.1:{gw.egress_port}", verify=ctx, timeout=10) as c:
        return c.request(method, f"https://s3.test:{port}{target}", headers=headers, content=b"x" * 10)


@pytest.mark.parametrize(
    ("target", "headers", "reason"),
    [
        (f"/{BUCKET}/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F&X-Amz-Signature=ab", {}, "presigned_url"),
        (f"/{BUCKET}/k?AWSAccessKeyId=AKIA&Signature=ab&Expires=1", {}, "presigned_url"),
        (f"/{BUCKET}/k", {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                          "authorization": "AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/s3/aws4_request"},
         "streaming_signed_payload"),
        (f"/{BUCKET}/k", {"authorization": "AWS4-ECDSA-P256-SHA256 Credential=A/20260101/s3/aws4_request",
                          "x-amz-region-set": "*"}, "sigv4a_not_supported"),
        (f"/{BUCKET}/k", {}, "aws_scope_unknown"),
    ],
)  # fmt: skip
def test_requests_that_cannot_be_resigned_are_refused_with_a_reason(gw, front, target, headers, reason):
    server, _ = front
    r = raw_request(gw, server.port, "PUT", target, headers)
    assert r.status_code == 403 and r.headers["x-tollgate-reason"] == reason, r.text
    assert server.seen == []
    assert wait_until(
        lambda: any(e["result"] == "denied" and e["detail"].get("reason") == reason for e in gw.audit_events())
    )


def test_a_presigned_url_made_by_boto3_is_refused(gw: Gateway, front):
    server, _ = front
    s3 = boto3.client("s3", endpoint_url=f"https://s3.test:{server.port}", region_name="us-east-1",
                      aws_access_key_id=SANDBOX_KEY, aws_secret_access_key=SANDBOX_SECRET,
                      config=BotoConfig(s3={"addressing_style": "path"}))  # fmt: skip
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "notes/a.txt"})
    ctx = ssl.create_default_context(cafile=str(gw.workdir / "tollgate-ca.pem"))
    with httpx.Client(proxy=f"http://alice:{ALICE}@127.0.0.1:{gw.egress_port}", verify=ctx, timeout=10) as c:
        r = c.get(url)
    assert r.status_code == 403 and r.headers["x-tollgate-reason"] == "presigned_url"
    assert "presigned URLs cannot be re-signed" in r.text and server.seen == []


@pytest.mark.skipif(shutil.which("aws") is None, reason="no AWS CLI on PATH (pip install awscli)")
def test_the_readmes_aws_cli_session_works_through_the_door(gw: Gateway, front, tmp_path: Path):
    """The README's sandbox commands, as written: upload, a prefix listing (query values with
    `%2F`), download (HEAD then GET), who am I, and a presigned URL refused."""
    server, _ = front
    env = {**os.environ, "HOME": str(tmp_path), "HTTPS_PROXY": f"http://alice:{ALICE}@127.0.0.1:{gw.egress_port}",
           "AWS_CA_BUNDLE": str(gw.workdir / "tollgate-ca.pem"), "AWS_ACCESS_KEY_ID": SANDBOX_KEY,
           "AWS_SECRET_ACCESS_KEY": SANDBOX_SECRET, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "NO_PROXY"):
        env.pop(name, None)
    s3, sts = f"--endpoint-url=https://s3.test:{server.port}", f"--endpoint-url=https://sts.test:{server.port}"
    (tmp_path / "notes.txt").write_text("notes of the agent\n" * 500)

    def aws(*args: str) -> str:
        done = subprocess.run(["aws", *args], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        return done.stdout

    aws("s3", "cp", "notes.txt", f"s3://{BUCKET}/cli/notes.txt", s3)
    assert "notes.txt" in aws("s3", "ls", f"s3://{BUCKET}/cli/", s3)
    aws("s3", "cp", f"s3://{BUCKET}/cli/notes.txt", "back.txt", s3)
    assert (tmp_path / "back.txt").read_text() == (tmp_path / "notes.txt").read_text()
    arn = json.loads(aws("sts", "get-caller-identity", sts))["Arn"]
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/agent-role/tollgate-alice"
    url = aws("s3", "presign", f"s3://{BUCKET}/cli/notes.txt", s3).strip()
    ctx = ssl.create_default_context(cafile=env["AWS_CA_BUNDLE"])
    with httpx.Client(proxy=env["HTTPS_PROXY"], verify=ctx, timeout=10) as c:
        assert c.get(url).headers["x-tollgate-reason"] == "presigned_url"
    assert server.seen and all(SANDBOX_KEY not in h["authorization"] for _, h, _ in server.seen)


# --- pure parts -----------------------------------------------------------------------------


class Who:
    agent_id, team_id, org_id = "bot.1", "research", "acme"


def test_session_name_and_tags_fit_sts_limits():
    assert session_name("bot.1") == "tollgate-bot.1"
    assert len(session_name("a" * 200)) == 64
    assert session_name("a b/c") == "tollgate-a-b-c"
    assert session_tags(Who()) == [
        {"Key": "agent", "Value": "bot.1"}, {"Key": "team", "Value": "research"}, {"Key": "org", "Value": "acme"},
    ]  # fmt: skip


SPEC = AwsSpec(ROLE_ARN, None, None, 3600, None, None, "us-east-1", None, None, None)


def plan(target: str, client: dict[str, str], spec: AwsSpec = SPEC):
    headers = [(k.encode(), v.encode()) for k, v in client.items()]
    kept = [(n, v) for n, v in headers if n.decode() not in AwsSpec.strips]
    return signing_plan(spec, OutgoingRequest("GET", target, "s3.test", 443, headers, kept, None))


@pytest.mark.parametrize("endpoint", ["http://sts.test", "HTTP://sts.test", "sts.test", "ftp://sts.test"])
def test_sts_endpoint_must_be_https(endpoint: str):
    """STS answers with the assumed role's secret key and session token: never over cleartext."""
    config = base_config("http://127.0.0.1:9/v1", 1, 2)
    credential = {"kind": "aws", "role_arn": ROLE_ARN, "sts_endpoint": endpoint}
    config["orgs"][0]["egress"] = {"rules": [{"hosts": ["s3.test"], "mode": "intercept", "credential": credential}]}
    with pytest.raises(Exception, match="sts_endpoint must be an https:// URL") as e:
        parse_config(yaml.safe_dump(config))
    assert "orgs[0].egress.rules[0].credential" in str(e.value)


def test_signing_plan_takes_the_clients_scope_and_signed_headers():
    auth = "AWS4-HMAC-SHA256 Credential=AKIA/20260101/eu-west-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date"
    region, service, names = plan(
        "/b/k?list-type=2", {"authorization": auth, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    )
    assert (region, service) == ("eu-west-1", "s3")
    assert names == {"host", "range", "x-amz-content-sha256"}  # x-amz-date is set fresh, not the client's
    fixed = AwsSpec(ROLE_ARN, "us-west-2", "execute-api", 3600, None, None, "us-east-1", None, None, None)
    assert plan("/", {}, fixed)[:2] == ("us-west-2", "execute-api")
    with pytest.raises(CredentialError, match="not a SHA-256"):
        plan("/", {"authorization": auth, "x-amz-content-sha256": "nope"})


async def test_credential_cache_single_flight_and_renewal_before_expiry():
    now = [1000.0]
    calls: list[float] = []

    async def fetch() -> Temporary:
        calls.append(now[0])
        await asyncio.sleep(0.05)  # an STS that answers late: everyone waits for the one call
        from botocore.credentials import Credentials

        return Temporary(Credentials(f"AK{len(calls)}", "s", "t"), now[0] + 900)

    cache = CredentialCache(refresh_before_s=300, clock=lambda: now[0])
    got = await asyncio.gather(*(cache.get(("k",), fetch) for _ in range(20)))
    assert len(calls) == 1 and {c.access_key for c in got} == {"AK1"}
    now[0] += 500  # 400 s left: still good
    assert (await cache.get(("k",), fetch)).access_key == "AK1" and len(calls) == 1
    now[0] += 150  # 250 s left: renewed
    assert (await cache.get(("k",), fetch)).access_key == "AK2" and len(calls) == 2

    async def failing() -> Temporary:
        raise CredentialError(502, "sts_unreachable", "down")

    with pytest.raises(CredentialError):
        await cache.get(("other",), failing)
    assert (await cache.get(("other",), fetch)).access_key == "AK3"  # a failure is not cached
    now[0] += 1000  # ("k",) has expired: storing another entry drops it
    await cache.get(("third",), fetch)
    assert set(cache._entries) == {("third",)}


def test_startup_time_is_unaffected_when_no_rule_uses_aws():
    out = subprocess.run([sys.executable, "-c", "import sys, gateway.server; print('botocore' in sys.modules)"],
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)  # fmt: skip
    assert out.stdout.strip() == "False"
