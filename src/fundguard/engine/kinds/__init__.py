"""Rule kinds: the shapes of check most rules are instances of, each implemented once per backend.

A kind is a module here that defines:

- `NAME`: the kind's name (`kind:` in a rule file);
- `Config`: a pydantic model of the kind's structural settings (`with:` in a rule file);
- `batch_sql(rule, config) -> str`: portable SQL (engine macros, `$param` placeholders) returning the
  offending rows (the granularity key, `vola_amt`, `ev_*` evidence columns) for DuckDB and Spark;
- optionally `unjudged_sql(rule, config) -> (sql, what) | None`: portable SQL counting the lines the rule
  could not judge for want of a value (a doctor missing from `practitioner`), and what was missing in
  Chinese: a run reports the count, so "no flag" is not read as "checked and compliant".

A kind's real-time twin (the same check in Python over one request's rows) is the module of the same
name in `fundguard.realtime.kinds`; a rule of kind `sql` has its twin in `fundguard.realtime.custom`.

The kind `sql` runs a rule's own `.sql` file, for rules no kind fits.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Kind:
    name: str
    module: ModuleType
    digest: str  # hash of the kind's implementation: part of every instance's rule_version

    def parse_config(self, raw: dict[str, Any]) -> BaseModel:
        return self.module.Config.model_validate(raw)

    def batch_sql(self, rule: Any) -> str:
        return self.module.batch_sql(rule, self.parse_config(rule.config))

    def unjudged_sql(self, rule: Any) -> tuple[str, str] | None:
        make = getattr(self.module, "unjudged_sql", None)
        return make(rule, self.parse_config(rule.config)) if make else None


_KINDS: dict[str, Kind] | None = None


def kinds() -> dict[str, Kind]:
    global _KINDS
    if _KINDS is None:
        found: dict[str, Kind] = {}
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{__name__}.{info.name}")
            digest = hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()[:16]
            found[module.NAME] = Kind(module.NAME, module, digest)
        _KINDS = found
    return _KINDS


def get_kind(name: str) -> Kind:
    return kinds()[name]


def quote_literal(value: str) -> str:
    """A structural code from a rule file (e.g. `'21'`) as an SQL literal; codes only, never user input."""
    if not all(ch.isalnum() or ch in "_-.*" for ch in value):
        raise ValueError(f"不是合法的代码值: {value!r}")
    return "'" + value + "'"


def literal_list(values: list[str]) -> str:
    return "(" + ", ".join(quote_literal(str(v)) for v in values) + ")"
