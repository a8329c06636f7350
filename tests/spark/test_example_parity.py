"""Every example of every batch rule, on DuckDB and on Spark (local mode): identical flags.

Identical means every column of flags.parquet but run_id: flag_id, rule_version, keys, vola_amt,
message and evidence. A rule that cannot reach parity fails here; it is never skipped. Examples run
on two threads, each with its own Spark session (temp views are per session) over one SparkContext.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from fundguard.engine import load_registry
from fundguard.engine.rule import Scene

from .parity import Parity, prepare, run_both

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

REGISTRY = load_registry()
RULES = [r for r in REGISTRY if Scene.POST in r.scenes and r.examples]
THREADS = 2


class _Runner:
    """Runs each rule's examples in one task (views built once per rule) on a pool of sessions."""

    def __init__(self, spark, rules):
        self.spark = spark
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(THREADS, thread_name_prefix="spark-parity")
        # queued in test order: the first rules are ready first
        self.futures: dict[str, Future] = {r.id: self.pool.submit(self._rule, r) for r in rules}

    def _session(self):
        if getattr(self.local, "session", None) is None:
            self.local.session = self.spark.newSession()
        return self.local.session

    def _rule(self, rule) -> list[Parity]:
        session = self._session()
        try:
            prepare(session, rule)
        except Exception as exc:
            return [Parity(rule.id, -1, "视图", [], [], error=f"{type(exc).__name__}: {exc}")]
        out = []
        for index in range(len(rule.examples)):
            try:
                out.append(run_both(session, rule, index))
            except Exception as exc:  # reported by the rule's test
                out.append(Parity(rule.id, index, rule.examples[index].title, [], [], error=f"{type(exc).__name__}: {exc}"))
        return out


@pytest.fixture(scope="module")
def runner(spark, request):
    selected = {item.callspec.params["rule"].id for item in request.session.items if hasattr(item, "callspec")
                and item.originalname == "test_rule_examples_same_flags_on_spark"}
    r = _Runner(spark, [rule for rule in RULES if rule.id in selected])
    yield r
    r.pool.shutdown(wait=True, cancel_futures=True)


def _describe(p: Parity) -> str:
    if p.error:
        return f"示例 {p.index} «{p.title}»: {p.error[:2000]}"
    def frozen(rows):
        return {tuple(tuple(v) if isinstance(v, list) else v for v in r) for r in rows}

    duck, spark = frozen(p.duckdb), frozen(p.spark)
    return f"示例 {p.index} «{p.title}»:\n  仅 DuckDB: {sorted(duck - spark)}\n  仅 Spark:  {sorted(spark - duck)}"


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_examples_same_flags_on_spark(runner, rule):
    results = runner.futures[rule.id].result()
    bad = [p for p in results if not p.same]
    assert not bad, f"{rule.id}: Spark 与 DuckDB 疑点不一致\n" + "\n".join(_describe(p) for p in bad)
