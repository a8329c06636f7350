"""The audit engine: runs any rule of the library on a backend; knows no rule by name.

Public API: `load_registry()`, `run_audit(dataset, out, ...)`, `Auditor` (rules over a prepared
connection), `run_example(rule, i)`; errors `RuleFileError`, `UnknownRuleError`, `ParamError`.
"""

from fundguard.engine.registry import Registry, RuleFileError, UnknownRuleError, load_registry
from fundguard.engine.rule import ParamError, Rule
from fundguard.engine.run import AuditError, Auditor, run_audit

__all__ = [
    "AuditError",
    "Auditor",
    "ParamError",
    "Registry",
    "Rule",
    "RuleFileError",
    "UnknownRuleError",
    "load_registry",
    "run_audit",
]
