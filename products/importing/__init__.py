"""Catalogue import from CSV: `parser` reads and checks every row, `writer` upserts them."""

from products.importing.parser import (
    ImportFileError,
    ImportRow,
    ParsedFile,
    RowError,
    parse_products_csv,
)
from products.importing.writer import (
    IMPORT_BATCH_SIZE,
    ImportRulesRefused,
    ImportSummary,
    products_import,
)

__all__ = [
    "IMPORT_BATCH_SIZE",
    "ImportFileError",
    "ImportRow",
    "ImportRulesRefused",
    "ImportSummary",
    "ParsedFile",
    "RowError",
    "parse_products_csv",
    "products_import",
]
