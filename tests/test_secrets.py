"""The encrypted secret store: sealing, key handling, file and PostgreSQL stores, the CLI, and
secrets used by a running gateway (provider key, egress injection, reload) without a plaintext
trace anywhere."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pty
import select
import signal
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import openai
import pytest
import yaml

from config import ConfigError, Keyring, MasterKey, SecretError, parse_config, resolve_secrets, seal, unseal
from config.secret_store import FileStore, PostgresStore
from config.secrets import parse_master_key, reseal
from tests.conftest import ALICE, ROOT, Gateway, base_config
from tests.conftest import run_tollgate as tollgate
from tests.https_upstream import Origin, make_test_pki
from tests.upstream import Upstream, free_port, wait_until

VALUE = "s3cr3t-Value-0f-the-test-9f8e7d6c5b4a"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def keyring() -> Keyring:
    return Keyring.of(MasterKey.generate())


# --- sealing (pure) -------------------------------------------------------------------------


def test_round_trip_with_a_fresh_nonce_each_time():
    ring = keyring()
    a, b = seal(ring.current, "gh", VALUE), seal(ring.current, "gh", VALUE)
    assert a.nonce != b.nonce and a.ciphertext != b.ciphertext and len(a.nonce) == 12
    assert VALUE.encode() not in a.ciphertext
    assert unseal(ring, a) == unseal(ring, b) == VALUE
    assert a.key_id == ring.current.key_id


def test_tampered_ciphertext_is_an_error_naming_the_secret_not_its_value():
    ring = keyring()
    sealed = seal(ring.current, "gh", VALUE)
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(SecretError) as e:
        unseal(ring, dataclasses.replace(sealed, ciphertext=flipped))
    assert "'gh'" in str(e.value) and VALUE not in str(e.value) and "\n" not in str(e.value)


def test_wrong_key_and_relabelled_key_id_fail():
    ring, other = keyring(), keyring()
    sealed = seal(ring.current, "gh", VALUE)
    with pytest.raises(SecretError, match=r"sealed with master key k[0-9a-f]{8}, but the key given is"):
        unseal(other, sealed)
    # Claiming the other key's id does not help: the id is bound as associated data.
    with pytest.raises(SecretError, match="cannot be decrypted"):
        unseal(other, dataclasses.replace(sealed, key_id=other.current.key_id))


def test_a_ciphertext_moved_to_another_name_fails():
    ring = keyring()
    sealed = seal(ring.current, "github", VALUE)
    with pytest.raises(SecretError, match=r"'aws'.*cannot be decrypted"):
        unseal(ring, dataclasses.replace(sealed, name="aws"))


def test_rotation_reseals_under_the_new_key_and_keeps_the_creation_time():
    old = MasterKey.generate()
    sealed = seal(old, "gh", VALUE)
    new_ring = Keyring.of(MasterKey.generate(), old)
    rotated = reseal(new_ring, sealed)
    assert rotated.key_id == new_ring.current.key_id and rotated.created == sealed.created
    assert unseal(Keyring.of(new_ring.current), rotated) == VALUE
    assert reseal(new_ring, rotated) is rotated  # already current: untouched


def test_master_key_from_base64_or_a_file_and_never_in_repr(tmp_path: Path):
    key = MasterKey.generate()
    assert parse_master_key(key.encoded()).key_id == key.key_id
    path = tmp_path / "master.key"
    path.write_text(key.encoded() + "\n")
    assert parse_master_key(str(path)).key_id == key.key_id
    assert key.encoded() not in repr(key) and key.encoded() not in repr(Keyring.of(key))
    for bad in ("c2hvcnQ=", str(tmp_path / "missing.key"), "not a key"):
        with pytest.raises(SecretError, match="TOLLGATE_MASTER_KEY") as e:
            parse_master_key(bad)
        assert bad not in str(e.value) or bad.endswith(".key")
    with pytest.raises(SecretError, match="is not set"):
        Keyring.from_env({})


# --- stores ---------------------------------------------------------------------------------


def test_file_store_is_0600_atomic_and_holds_no_plaintext(tmp_path: Path):
    ring = keyring()
    store = FileStore(tmp_path / "var" / "secrets.json")
    store.put(seal(ring.current, "gh", VALUE))
    first = store.load()["gh"]
    store.put(seal(ring.current, "gh", VALUE + "-2"))
    again = store.load()["gh"]
    assert again.created == first.created and unseal(ring, again) == VALUE + "-2"
    assert (store.path.stat().st_mode & 0o777) == 0o600
    assert {p.name for p in store.path.parent.iterdir()} == {"secrets.json", "secrets.json.lock"}  # no temp files
    assert VALUE.encode() not in store.path.read_bytes()
    assert store.delete("gh") and not store.delete("gh") and store.load() == {}


def test_file_store_concurrent_writers_lose_nothing(tmp_path: Path):
    ring = keyring()
    store = FileStore(tmp_path / "secrets.json")
    threads = [
        threading.Thread(target=lambda i=i: FileStore(store.path).put(seal(ring.current, f"s{i}", f"v{i}")))
        for i in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(store.load()) == sorted(f"s{i}" for i in range(12))


def test_a_damaged_store_file_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "secrets.json"
    path.write_text("{not json")
    with pytest.raises(SecretError, match="not a tollgate secret file"):
        FileStore(path).load()


@pytest.fixture
def pg_schema() -> Iterator[str]:
    schema = "secrets_" + uuid.uuid4().hex[:12]

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f"CREATE SCHEMA {schema}"))
    yield schema
    asyncio.run(run(f"DROP SCHEMA {schema} CASCADE"))


def test_postgres_store_round_trip_and_rotation(pg_schema: str):
    old = MasterKey.generate()
    store = PostgresStore(PG_DSN, f"{pg_schema}.tollgate_secrets")
    assert store.load() == {}  # no table yet: empty, not an error
    store.put(seal(old, "gh", VALUE))
    store.put(seal(old, "k8s", "token-2"))
    store.put(seal(old, "gh", VALUE + "-b"))
    records = store.load()
    assert sorted(records) == ["gh", "k8s"] and unseal(Keyring.of(old), records["gh"]) == VALUE + "-b"
    ring = Keyring.of(MasterKey.generate(), old)
    assert store.rewrite(lambda rs: [reseal(ring, r) for r in rs]) == 2
    assert {r.key_id for r in store.load().values()} == {ring.current.key_id}
    assert store.delete("k8s") and not store.delete("k8s")
    assert unseal(Keyring.of(ring.current), store.load()["gh"]) == VALUE + "-b"


def test_postgres_store_down_is_a_clear_error_without_the_password():
    store = PostgresStore(f"postgresql://tg:pw-{VALUE}@127.0.0.1:{free_port()}/x", "tollgate_secrets")
    with pytest.raises(SecretError, match="cannot connect") as e:
        store.load()
    assert VALUE not in str(e.value)


# --- resolving a config ---------------------------------------------------------------------


def config_with_refs(store_path: Path) -> dict:
    config = base_config("http://127.0.0.1:9/v1", free_port(), free_port())
    config["providers"][0]["api_key"] = "{secret:provider}"
    config["orgs"][0]["egress"] = {"rules": [
        {"hosts": ["api.test"], "mode": "intercept", "inject": {"Authorization": "Bearer {secret:github}"}},
    ]}  # fmt: skip
    config["secret_store"] = {"path": str(store_path)}
    return config


def test_resolve_fills_references_from_the_store_and_inline_names_from_the_config(tmp_path: Path):
    ring = keyring()
    store = FileStore(tmp_path / "s.json")
    store.put(seal(ring.current, "provider", "sk-from-store"))
    raw = config_with_refs(store.path)
    raw["secrets"] = {"github": "inline-value"}
    env = {"TOLLGATE_MASTER_KEY": ring.current.encoded()}
    cfg = resolve_secrets(parse_config(yaml.safe_dump(raw)), "t.yaml", env)
    assert cfg.providers[0].api_key == "sk-from-store"
    assert cfg.secrets == {"provider": "sk-from-store", "github": "inline-value"}


def test_resolve_errors_name_the_path_and_the_secret(tmp_path: Path):
    ring = keyring()
    store = FileStore(tmp_path / "s.json")
    store.put(seal(ring.current, "provider", VALUE))
    cfg = parse_config(yaml.safe_dump(config_with_refs(store.path)))
    with pytest.raises(ConfigError) as e:
        resolve_secrets(cfg, "t.yaml", {"TOLLGATE_MASTER_KEY": MasterKey.generate().encoded()})
    assert e.value.errors[0].startswith("providers[0].api_key: secret 'provider': sealed with master key")
    assert e.value.errors[1].startswith("orgs[0].egress.rules[0].inject.Authorization: secret 'github' is not in")
    assert VALUE not in str(e.value)
    store.put(seal(ring.current, "github", "line\nbreak"))
    with pytest.raises(ConfigError, match="'github' has a control character"):
        resolve_secrets(cfg, "t.yaml", {"TOLLGATE_MASTER_KEY": ring.current.encoded()})


# --- CLI and a running gateway ---------------------------------------------------------------


def test_cli_set_list_delete_rotate(tmp_path: Path):
    key = MasterKey.generate()
    env = {"TOLLGATE_MASTER_KEY": key.encoded()}
    out = tollgate(tmp_path, "secrets", "set", "github", stdin=VALUE + "\n", env=env)
    assert out.returncode == 0 and VALUE not in out.stdout + out.stderr, out.stderr
    store = FileStore(tmp_path / "var" / "secrets.json")
    assert unseal(Keyring.of(key), store.load()["github"]) == VALUE  # echo's newline is not part of it
    listed = tollgate(tmp_path, "secrets", "list", env=env)
    assert listed.stdout.startswith(f"github\tkey={key.key_id}\tcreated=") and VALUE not in listed.stdout
    # A wrong key: one line, naming the secret.
    wrong = {"TOLLGATE_MASTER_KEY": MasterKey.generate().encoded()}
    bad = tollgate(tmp_path, "secrets", "rotate", env=wrong)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "'github'" in bad.stderr
    assert unseal(Keyring.of(key), store.load()["github"]) == VALUE  # nothing was written
    new = MasterKey.generate()
    both = {"TOLLGATE_MASTER_KEY": new.encoded(), "TOLLGATE_OLD_MASTER_KEY": key.encoded()}
    rotated = tollgate(tmp_path, "secrets", "rotate", env=both)
    assert rotated.returncode == 0 and "1 of 1 secrets re-encrypted" in rotated.stdout
    assert unseal(Keyring.of(new), store.load()["github"]) == VALUE
    assert tollgate(tmp_path, "secrets", "delete", "github").returncode == 0
    missing = tollgate(tmp_path, "secrets", "delete", "github")
    assert missing.returncode == 1 and "secret 'github': not in" in missing.stderr
    no_key = tollgate(tmp_path, "secrets", "set", "x", stdin="v", env={"TOLLGATE_MASTER_KEY": ""})
    assert no_key.returncode == 1 and "TOLLGATE_MASTER_KEY is not set" in no_key.stderr


def test_cli_set_from_a_terminal_does_not_echo_the_value(tmp_path: Path):
    """Typed at a terminal, the value must not appear on it (scrollback, screen sharing, recordings)."""
    key = MasterKey.generate()
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "secrets", "set", "typed"], cwd=tmp_path, stdin=secondary,
        stdout=subprocess.PIPE, stderr=secondary, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                       "TOLLGATE_MASTER_KEY": key.encoded()},
    )  # fmt: skip
    os.close(secondary)
    screen = b""
    while b"Ctrl-D" not in screen:  # the prompt: from here on the terminal is the user's
        assert select.select([primary], [], [], 20)[0], screen
        screen += os.read(primary, 4096)
    os.write(primary, VALUE.encode() + b"\n")
    os.write(primary, b"\x04")  # Ctrl-D at the start of a line: end of input
    stdout, _ = proc.communicate(timeout=30)
    while select.select([primary], [], [], 0.5)[0]:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        screen += chunk
    os.close(primary)
    assert proc.returncode == 0, screen
    assert VALUE.encode() not in screen + stdout
    assert unseal(Keyring.of(key), FileStore(tmp_path / "var" / "secrets.json").load()["typed"]) == VALUE


def test_cli_uses_the_configs_store_even_while_the_config_refers_to_unset_secrets(tmp_path: Path):
    key = MasterKey.generate()
    config = config_with_refs(tmp_path / "store" / "s.json")
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(config))
    env = {"TOLLGATE_MASTER_KEY": key.encoded()}
    check = tollgate(tmp_path, "check-config", "t.yaml", env=env)
    assert check.returncode == 2 and "secret 'provider' is not in the secret store" in check.stderr
    for name in ("provider", "github"):
        assert tollgate(tmp_path, "secrets", "set", name, "--config", "t.yaml", stdin=VALUE, env=env).returncode == 0
    assert tollgate(tmp_path, "check-config", "t.yaml", env=env).returncode == 0
    wrong = tollgate(tmp_path, "check-config", "t.yaml", env={"TOLLGATE_MASTER_KEY": MasterKey.generate().encoded()})
    assert wrong.returncode == 2 and "providers[0].api_key: secret 'provider': sealed with" in wrong.stderr


def test_gateway_uses_stored_secrets_reloads_them_and_leaves_no_plaintext_anywhere(tmp_path: Path):
    ca_bundle, origin_ctx = make_test_pki(tmp_path, ["api.test"])
    origin = Origin(origin_ctx).start()
    upstream = Upstream().start()
    key = MasterKey.generate()
    env = {"TOLLGATE_MASTER_KEY": key.encoded()}
    provider_key, github_token = "sk-stored-provider-" + uuid.uuid4().hex, "ghp_stored_" + uuid.uuid4().hex
    github_token_2 = "ghp_rotated_" + uuid.uuid4().hex
    try:
        config = config_with_refs(tmp_path / "var" / "secrets.json")
        config["providers"][0]["base_url"] = upstream.base_url
        config["orgs"][0]["egress"]["rules"][0].update(ports=[origin.port], allow_private=True)
        config["egress"] = {"upstream_ca_bundle": str(ca_bundle), "ca_cert_path": str(tmp_path / "ca.pem"),
                            "resolve": {"api.test": ["127.0.0.1"]}}  # fmt: skip
        gw = Gateway(tmp_path, config, env=env)
        tollgate(tmp_path, "secrets", "set", "provider", stdin=provider_key, env=env)
        tollgate(tmp_path, "secrets", "set", "github", stdin=github_token, env=env)
        gw.start()
        client = openai.OpenAI(base_url=gw.base_url, api_key=ALICE, max_retries=0)
        client.chat.completions.create(model="up-gpt", messages=[{"role": "user", "content": "hi"}])
        assert upstream.recorder.last().headers["authorization"] == f"Bearer {provider_key}"

        def through_proxy() -> str:
            verify = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
            proxy = f"http://alice:{ALICE}@127.0.0.1:{gw.egress_port}"
            with httpx.Client(proxy=proxy, verify=verify) as c:
                assert c.get(f"https://api.test:{origin.port}/repos/x").status_code == 200
            return origin.seen[-1].headers["authorization"]

        assert through_proxy() == f"Bearer {github_token}"
        # A changed secret takes effect on reload.
        tollgate(tmp_path, "secrets", "set", "github", stdin=github_token_2, env=env)
        gw.signal(signal.SIGHUP)
        assert wait_until(lambda: "config reloaded" in gw.log())
        assert through_proxy() == f"Bearer {github_token_2}"
        # A secret the gateway cannot read makes a reload fail; the old config stays in force.
        tollgate(tmp_path, "secrets", "delete", "github", env=env)
        gw.signal(signal.SIGHUP)
        assert wait_until(lambda: "config reload rejected" in gw.log())
        assert "secret 'github' is not in the secret store" in gw.log()
        assert through_proxy() == f"Bearer {github_token_2}"
        assert gw.stop() == 0
        # No plaintext anywhere: log, audit rows, store, config, CA file, anything in the workdir.
        for path in tmp_path.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for value in (provider_key, github_token, github_token_2, key.encoded()):
                    assert value.encode() not in data, f"{value[:6]}… found in {path.name}"
        # Serving refuses to start on a secret it cannot decrypt.
        wrong = {"TOLLGATE_MASTER_KEY": MasterKey.generate().encoded()}
        refused = tollgate(tmp_path, "serve", "--config", str(gw.config_path), env=wrong)
        assert refused.returncode == 2 and "secret 'provider': sealed with master key" in refused.stderr
    finally:
        origin.stop()
        upstream.stop()


def test_a_key_file_is_reread_so_a_rotated_key_takes_effect_on_the_next_load(tmp_path: Path):
    old, new = MasterKey.generate(), MasterKey.generate()
    key_file = tmp_path / "master.key"
    key_file.write_text(old.encoded())
    store = FileStore(tmp_path / "s.json")
    for name in ("provider", "github"):
        store.put(seal(old, name, VALUE))
    cfg = parse_config(yaml.safe_dump(config_with_refs(store.path)))
    env = {"TOLLGATE_MASTER_KEY": str(key_file)}
    assert resolve_secrets(cfg, "t.yaml", env).secrets["github"] == VALUE
    store.rewrite(lambda rs: [reseal(Keyring.of(new, old), r) for r in rs])
    with pytest.raises(ConfigError, match="sealed with master key"):
        resolve_secrets(cfg, "t.yaml", env)
    key_file.write_text(new.encoded() + "\n")
    assert resolve_secrets(cfg, "t.yaml", env).providers[0].api_key == VALUE
