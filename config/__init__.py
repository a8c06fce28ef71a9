"""Configuration: schema, loading with path-named errors, encrypted secrets, token hashing."""

from config.loader import ConfigError, load_config, parse_config
from config.resolve import open_store, resolve_secrets
from config.schema import Agent, Config, Model, Org, Provider, Team
from config.secrets import SECRET_REF, Keyring, MasterKey, SecretError, seal, unseal
from config.tokens import generate_token, hash_token

__all__ = [
    "SECRET_REF",
    "Agent",
    "Config",
    "ConfigError",
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
