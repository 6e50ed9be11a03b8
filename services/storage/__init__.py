"""Store adapters: MongoDB (or FerretDB) and an in-memory one with the same behaviour."""

from services.storage.memory import InMemoryRateLimits, InMemoryStore
from services.storage.mongo import COLLECTIONS, MongoStore

__all__ = ["COLLECTIONS", "InMemoryRateLimits", "InMemoryStore", "MongoStore"]
