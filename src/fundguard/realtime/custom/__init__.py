"""Python twins of the rules that bring their own SQL (kind `sql`) and run in real time (scenes pre/in).

One module per rule, named by the rule id (`A05.py`), with `evaluate(rule, params, frame, kb) -> list[dict]`
returning the rows the rule's `.sql` returns. The parity tests hold each to its rule's examples.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

_MODULES: dict[str, ModuleType] | None = None


def custom_rules() -> dict[str, ModuleType]:
    global _MODULES
    if _MODULES is None:
        found = {}
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                found[info.name] = importlib.import_module(f"{__name__}.{info.name}")
        _MODULES = found
    return _MODULES
