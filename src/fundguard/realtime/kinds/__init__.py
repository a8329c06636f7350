"""Python implementations of the engine's rule kinds for the real-time evaluator, keyed by kind name.

Each module mirrors `fundguard/engine/kinds/<kind>.py`: `NAME`, and
`evaluate(rule, config, params, frame, kb) -> list[dict]` returning the rows the kind's batch SQL
returns (the granularity key, `vola_amt`, `ev_*` evidence and message columns), computed over the
frame's in-memory rows. Optional private columns: `_involved` (fee lines merely involved) and
`_line_amts` (amount per offending line, for the response's detail lines).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

_MODULES: dict[str, ModuleType] | None = None


def realtime_kinds() -> dict[str, ModuleType]:
    global _MODULES
    if _MODULES is None:
        found = {}
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{__name__}.{info.name}")
            found[module.NAME] = module
        _MODULES = found
    return _MODULES
