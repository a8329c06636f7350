"""The knowledge base: kb tables built from the national 两库 batches into versioned, hashed editions.

Bottom layer: imports only the standard library and third-party packages, never other FundGuard layers.
"""

from fundguard.kb.edition import (
    Edition,
    KbError,
    Manifest,
    build_edition,
    content_hash,
    default_edition_path,
    read_layer,
)
from fundguard.kb.matching import CodeMatcher, resolved_sql
from fundguard.kb.tables import KB_CODE_COLUMN, KB_KEYS, KB_TABLES

__all__ = [
    "KB_CODE_COLUMN",
    "KB_KEYS",
    "KB_TABLES",
    "CodeMatcher",
    "Edition",
    "KbError",
    "Manifest",
    "build_edition",
    "content_hash",
    "default_edition_path",
    "read_layer",
    "resolved_sql",
]
