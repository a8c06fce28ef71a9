"""Configuration: schema, loading with path-named errors, encrypted secrets, token hashing, and
the `Decision` shape every check of the appliance answers with."""

from config.decision import ALLOWED, Decision
from config.loader import ConfigError, load_config, parse_config
from config.resolve import open_store, resolve_secrets
from config.schema import Agent, Config, Model, Org, Provider, Team
from config.secrets import SECRET_REF, Keyring, MasterKey, SecretError, seal, unseal
from config.tokens import generate_token, hash_token

__all__ = [
    "ALLOWED",
    "SECRET_REF",
    "Agent",
    "Config",
    "ConfigError",
    "Decision",
    "Keyring",
    "MasterKey",
    "Model",
    "Org",
    "Provider",
    "SecretError",
    "Team",
    "generate_token",
    "hash_token",
    "load_config",
    "open_store",
    "parse_config",
    "resolve_secrets",
    "seal",
    "unseal",
]
