"""Configuration: schema, loading with path-named errors, token hashing."""

from config.loader import ConfigError, load_config, parse_config
from config.schema import Agent, Config, Model, Org, Provider, Team
from config.tokens import generate_token, hash_token

__all__ = [
    "Agent",
    "Config",
    "ConfigError",
    "Model",
    "Org",
    "Provider",
    "Team",
    "generate_token",
    "hash_token",
    "load_config",
    "parse_config",
]
