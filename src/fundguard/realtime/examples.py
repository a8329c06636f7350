"""Run a rule's examples through the real-time evaluator (the parity tests and `rules test` twins).

The example's `given` is completed by the contract factories and typed as the loader types it; its
`kb_*` rows become the in-memory knowledge (every other kb table empty); `fsi_order_dtos` rows are the
request's orders. Every encounter is in focus, as in a batch run.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

from fundguard.contract.factories import build_tables, to_arrow
from fundguard.contract.tables import TABLES
from fundguard.engine.examples import EXAMPLE_KB_HASH, ExampleOutcome
from fundguard.engine.rule import Rule
from fundguard.realtime.evaluator import Evaluator
from fundguard.realtime.frame import Frame
from fundguard.realtime.knowledge import Knowledge

ORDER_TABLE = "fsi_order_dtos"


def example_frame(given: dict, kb: Knowledge) -> Frame:
    contract = {k: v for k, v in given.items() if not k.startswith("kb_") and k != ORDER_TABLE}
    built = build_tables(contract)
    typed = {t.name: to_arrow(t.name, built[t.name]).to_pylist() for t in TABLES}
    return Frame.build(typed, kb, orders=[dict(o) for o in given.get(ORDER_TABLE) or ()])


def run_realtime_example(rule: Rule, index: int, *, kb_manifest: dict | None = None, sql_only: bool = False) -> ExampleOutcome:
    """`sql_only`: a `sql` rule judged by its SQL in real time (realtime/sqlrun.py), not its Python twin."""
    example = rule.examples[index]
    expected = {(e.key(), Decimal(e.vola_amt).quantize(Decimal("0.01"))) for e in example.expect_flags}
    outcome = ExampleOutcome(rule.id, index, example.title, expected, set(), known_gap=example.known_gap)
    manifest = {m: True for m in rule.requires_kb_manifest}
    manifest.update(kb_manifest or {})
    manifest.update(example.kb_manifest)
    kb = Knowledge.from_rows({k: v for k, v in example.given.items() if k.startswith("kb_")},
                             manifest=manifest, content_hash=EXAMPLE_KB_HASH)
    evaluator = Evaluator([rule], kb, sql_only=sql_only, strict_messages=True)
    frame = example_frame(example.given, kb)
    try:
        flags = evaluator.evaluate(frame, [rule], {rule.id: rule.bind_params(example.params)})
    except (RuntimeError, duckdb.Error) as exc:  # a twin's or the rule SQL's failure (RuleRuntimeError is one)
        outcome.error = str(exc)
        return outcome
    finally:
        evaluator.close()
    outcome.actual = {(f.flag_key, f.vola_amt) for f in flags}
    outcome.messages = [f.message for f in sorted(flags, key=lambda f: f.flag_key)]
    outcome.details = {
        f.flag_key: (tuple(sorted(f.evidence)), tuple(sorted({*f.feedetl_sns, *f.involved})), tuple(sorted(f.mdtrt_ids)))
        for f in flags
    }
    return outcome
