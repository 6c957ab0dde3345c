"""LangGraph stores for semantic and procedural memory, with moot's embedder as their index.

`make_store(kind)` (`factory.py`) opens one of three kinds behind LangGraph's `BaseStore`:
`memory` (`SnapshotStore`, `snapshot.py`), `sqlite` or `postgres`, the last two wrapped in
`ScanIndexStore` (`scan.py`) when the database has no vector index. `embeddings.py` is the
index every kind shares.
"""

from moot.memory.stores.embeddings import DEFAULT_FIELDS, EmbedderEmbeddings, index_config
from moot.memory.stores.factory import INSTALL_POSTGRES, StoreKind, make_store, memory_store
from moot.memory.stores.scan import ScanIndexStore
from moot.memory.stores.snapshot import SNAPSHOT_FORMAT, SnapshotStore

__all__ = [
    "DEFAULT_FIELDS",
    "INSTALL_POSTGRES",
    "SNAPSHOT_FORMAT",
    "EmbedderEmbeddings",
    "ScanIndexStore",
    "SnapshotStore",
    "StoreKind",
    "index_config",
    "make_store",
    "memory_store",
]
