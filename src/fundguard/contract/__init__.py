"""The data contract: input table specs (one source of truth) and all-or-nothing loading."""

from fundguard.contract.load import ContractError, Issue, LoadReport, TableReport, load_dataset
from fundguard.contract.tables import TABLES, TABLES_BY_NAME, Column, ColumnType, Table

__all__ = [
    "TABLES",
    "TABLES_BY_NAME",
    "Column",
    "ColumnType",
    "ContractError",
    "Issue",
    "LoadReport",
    "Table",
    "TableReport",
    "load_dataset",
]
