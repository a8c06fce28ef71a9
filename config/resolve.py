"""Filling `{secret:NAME}` references of a loaded config from the encrypted store.

A name listed in the config's own `secrets:` map (plain, or `${ENV}`) is taken from there; every
other referenced name must be in the store and decrypt with the master key. Anything that does
not is a config error naming where the reference is and which secret, never a value, so `serve`,
`check-config` and reload refuse the config as a whole. Decrypted values live only in the
returned Config object, in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

from config.loader import ConfigError, format_path
from config.schema import Config, SecretStoreSettings
from config.secret_store import FileStore, PostgresStore, SecretStore
from config.secrets import SECRET_REF, Keyring, SecretError, unseal

Loc = tuple[str | int, ...]


def open_store(settings: SecretStoreSettings) -> SecretStore:
    if settings.kind == "postgres":
        assert settings.dsn is not None  # the schema requires it
        return PostgresStore(settings.dsn, settings.table)
    return FileStore(settings.path)


def secret_references(config: Config) -> Iterator[tuple[Loc, str]]:
    """(where in the file, secret name) for every reference in the config."""
    for pi, p in enumerate(config.providers):
        for name in SECRET_REF.findall(p.api_key or ""):
            yield ("providers", pi, "api_key"), name
    for oi, org in enumerate(config.orgs):
        scopes: list[tuple[Loc, object]] = [(("orgs", oi), org)]
        for ti, team in enumerate(org.teams):
            scopes.append((("orgs", oi, "teams", ti), team))
            scopes += [(("orgs", oi, "teams", ti, "agents", ai), a) for ai, a in enumerate(team.agents)]
        for loc, scope in scopes:
            egress = getattr(scope, "egress", None)
            for ri, rule in enumerate(egress.rules if egress else ()):
                for header, template in rule.inject.items():
                    for name in SECRET_REF.findall(template):
                        yield (*loc, "egress", "rules", ri, "inject", header), name
                credential = rule.credential
                for field in ("token_secret", "access_key_secret", "secret_key_secret"):
                    name = getattr(credential, field, None)
                    if name is not None:
                        yield (*loc, "egress", "rules", ri, "credential", field), name


def resolve_secrets(config: Config, source: str, environ: Mapping[str, str] | None = None) -> Config:
    """The config with provider api_key templates filled and `secrets` holding every referenced
    value; ConfigError naming each reference that cannot be resolved."""
    refs = list(secret_references(config))
    wanted = {name for _, name in refs if name not in config.secrets}
    values: dict[str, str] = {}
    errors: list[str] = []
    if wanted:
        store = open_store(config.secret_store)
        keyring: Keyring | None = None
        try:
            sealed = store.load()
        except SecretError as e:
            raise ConfigError(source, [f"secret_store: {e}"]) from None
        failed: dict[str, str] = {}
        for name in sorted(wanted):
            if name not in sealed:
                failed[name] = (
                    f"secret {name!r} is not in the secret store {store.location} (`tollgate secrets set {name}`)"
                )
                continue
            try:
                keyring = keyring or Keyring.from_env(os.environ if environ is None else environ)
                values[name] = unseal(keyring, sealed[name])
            except SecretError as e:
                failed[name] = str(e) if e.name else f"secret {name!r}: {e}"
        errors += [f"{format_path(loc)}: {failed[name]}" for loc, name in refs if name in failed]
    merged = {**values, **config.secrets}
    errors += [
        f"{format_path(loc)}: secret {name!r} has a control character (CR, LF, NUL…); it cannot go in a header"
        for loc, name in refs
        if name in merged and any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in merged[name])
    ]
    if errors:
        raise ConfigError(source, list(dict.fromkeys(errors)))
    providers = [
        p.model_copy(update={"api_key": SECRET_REF.sub(lambda m: merged[m.group(1)], p.api_key)})
        if p.api_key and SECRET_REF.search(p.api_key)
        else p
        for p in config.providers
    ]
    return config.model_copy(update={"providers": providers, "secrets": merged})
