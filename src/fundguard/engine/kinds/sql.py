"""Kind `sql`: the rule brings its own portable SQL (`<ID>_<slug>.sql` beside its YAML)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

NAME = "sql"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


def batch_sql(rule: Any, config: Config) -> str:
    if not rule.sql:
        raise ValueError(f"规则 {rule.id} 的 kind 为 sql, 但没有 .sql 文件")
    return rule.sql
