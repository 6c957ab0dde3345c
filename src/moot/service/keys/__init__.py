"""API keys of the service: each maps to one tenant, and only a hash of it is stored.

`KeyStore` (`base.py`) is the concept, its key format and why the hash is plain SHA-256;
`SqliteKeyStore` (`sqlite.py`) and `PostgresKeyStore` (`postgres.py`) are its backends;
`key_store(url)` (`factory.py`) picks one.
"""

from moot.service.keys.base import ApiKeyInfo, ApiKeyNotFound, KeyStore, hash_secret
from moot.service.keys.factory import database_url, key_store
from moot.service.keys.postgres import PostgresKeyStore
from moot.service.keys.sqlite import SqliteKeyStore

__all__ = [
    "ApiKeyInfo",
    "ApiKeyNotFound",
    "KeyStore",
    "PostgresKeyStore",
    "SqliteKeyStore",
    "database_url",
    "hash_secret",
    "key_store",
]
