"""Run a rule's examples: the documentation that is also the test.

Each example's `given` is completed by the contract factories, written as Parquet, loaded through the
real contract loader into an in-memory DuckDB, its `kb_*` rows registered as the knowledge edition
(every other kb table empty), and the one rule is run. The set of (flag_key, vola_amt) must equal
`expect_flags` exactly: an extra flag fails as surely as a missing one.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from fundguard.engine.backends.duckdb import RuleRuntimeError
from fundguard.engine.rule import Example, Rule, Scene
from fundguard.engine.run import Auditor, confine
from fundguard.kb.tables import KB_TABLES, arrow_schema

EXAMPLE_KB_HASH = "example"


@dataclass
class ExampleOutcome:
    rule_id: str
    index: int
    title: str
    expected: set[tuple[str, Decimal]]
    actual: set[tuple[str, Decimal]]
    skipped: str | None = None
    known_gap: str | None = None
    messages: list[str] | None = None
    #: flag key → (evidence field names, fee lines, encounters) the flag rests on, each sorted
    details: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] | None = None
    #: the rule failed on the example (its SQL, or more than one row for one flag key): no flags to compare
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.skipped is not None or (self.error is None and self.expected == self.actual)


def batch_skip_reason(rule: Rule) -> str | None:
    if Scene.POST not in rule.scenes:
        return "规则不在事后批量场景运行 (scenes 无 post); 其示例由实时审核引擎执行"
    return None


def register_kb_rows(con: duckdb.DuckDBPyConnection, given: dict[str, list[dict]]) -> None:
    """Create every kb_* table; fill the ones `given` names with its rows (missing columns NULL)."""
    for table, cols in KB_TABLES.items():
        rows = given.get(table) or []
        if not rows:
            ddl = ", ".join(f"{name} {sql_type}" for name, sql_type in cols)
            con.execute(f"CREATE OR REPLACE TABLE {table} ({ddl})")
            continue
        schema = arrow_schema(table)
        data = {
            name: [r.get(name, "example" if name == "source" else None) for r in rows] for name, _ in cols
        }
        arrow = pa.table(
            {name: pa.array([_coerce(v, schema.field(name).type) for v in data[name]], type=schema.field(name).type) for name, _ in cols}
        )
        con.register("_kb_src", arrow)
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _kb_src")  # noqa: S608
        con.unregister("_kb_src")


def _coerce(value, typ: pa.DataType):
    if value is None:
        return None
    if pa.types.is_decimal(typ):
        return Decimal(str(value))
    if pa.types.is_string(typ):
        return str(value)
    if pa.types.is_integer(typ):
        return int(value)
    return value


def build_example_connection(example: Example, work_dir: Path, *, files_in: Path | None = None) -> duckdb.DuckDBPyConnection:
    """The example's contract and knowledge tables in an in-memory DuckDB, confined: the rule's SQL reads
    no file (`files_in`: a folder the caller still writes to, e.g. its flags)."""
    from fundguard.contract import load_dataset
    from fundguard.contract.factories import build_tables, write_dataset

    contract_given = {k: v for k, v in example.given.items() if not k.startswith("kb_")}
    tables = build_tables(contract_given)
    write_dataset(tables, work_dir)
    con = duckdb.connect()
    load_dataset(work_dir, con)  # an example gives only the rows it is about (no table need have rows)
    register_kb_rows(con, {k: v for k, v in example.given.items() if k.startswith("kb_")})
    confine(con, *([files_in] if files_in else []))
    return con


def run_example(rule: Rule, index: int, *, kb_manifest: dict | None = None) -> ExampleOutcome:
    example = rule.examples[index]
    expected = {(e.key(), Decimal(e.vola_amt).quantize(Decimal("0.01"))) for e in example.expect_flags}
    outcome = ExampleOutcome(rule.id, index, example.title, expected, set(), known_gap=example.known_gap)
    reason = batch_skip_reason(rule)
    if reason:
        outcome.skipped = reason
        return outcome
    manifest = {m: True for m in rule.requires_kb_manifest}
    manifest.update(kb_manifest or {})
    manifest.update(example.kb_manifest)
    with tempfile.TemporaryDirectory(prefix=f"fg-{rule.id}-") as tmp:
        con = build_example_connection(example, Path(tmp))
        try:
            auditor = Auditor(con, kb_hash=EXAMPLE_KB_HASH, kb_manifest=manifest)
            auditor.prepare([rule])
            params = {rule.id: rule.bind_params(example.params)}
            auditor.run([rule], params, run_id="example")
            rows = con.execute(
                "SELECT flag_key, vola_amt, message, evidence, feedetl_sn, mdtrt_ids FROM _flags ORDER BY flag_key"
            ).fetchall()
        except (RuleRuntimeError, duckdb.Error) as exc:
            outcome.error = str(exc)
            return outcome
        finally:
            con.close()
    outcome.actual = {(k, Decimal(v)) for k, v, *_ in rows}
    outcome.messages = [r[2] for r in rows]
    outcome.details = {
        k: (tuple(sorted(json.loads(ev)["values"])), tuple(sorted(lines)), tuple(sorted(encs)))
        for k, _, _, ev, lines, encs in rows
    }
    return outcome


def run_examples(rule: Rule) -> list[ExampleOutcome]:
    return [run_example(rule, i) for i in range(len(rule.examples))]


def dry_run_problems(rules: list[Rule]) -> dict[str, str]:
    """Each batch rule run once over empty contract and knowledge tables with its default parameters:
    what only the database can tell (a column that does not exist, a type mismatch, a message field the
    SQL does not return) is then known when a library is read, not after a long dataset has loaded.
    The rule id → DuckDB's error, for the rules that failed (~0.7 s for the whole library)."""
    problems: dict[str, str] = {}
    batch = [r for r in rules if batch_skip_reason(r) is None]
    if not batch:
        return problems
    with tempfile.TemporaryDirectory(prefix="fg-check-") as tmp:
        con = build_example_connection(Example(title="dry run", given={}, expect_flags=[]), Path(tmp))
        try:
            manifest = {m: True for r in batch for m in r.requires_kb_manifest}
            auditor = Auditor(con, kb_hash=EXAMPLE_KB_HASH, kb_manifest=manifest)
            auditor.prepare(batch)
            for rule in batch:
                try:
                    auditor.run([rule], {rule.id: rule.bind_params({})}, run_id="check")
                except (RuleRuntimeError, duckdb.Error) as exc:
                    text = str(exc)
                    prefix = f"规则 {rule.id}{rule.source} 的 "  # the caller names the file
                    problems[rule.id] = text[len(prefix):] if text.startswith(prefix) else text
        finally:
            con.close()
    return problems
