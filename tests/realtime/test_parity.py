"""Every example of every pre/in rule through the real-time evaluator: exactly the expected flags
(the batch engine is held to the same expectations by tests/rules/test_examples.py)."""

from __future__ import annotations

import pytest

from fundguard.engine import load_registry
from fundguard.engine.examples import run_example
from fundguard.engine.rule import Scene
from fundguard.realtime.evaluator import Evaluator
from fundguard.realtime.examples import run_realtime_example
from fundguard.realtime.knowledge import Knowledge

REGISTRY = load_registry()
REALTIME_RULES = [r for r in REGISTRY if Scene.PRE in r.scenes or Scene.IN in r.scenes]
CASES = [
    pytest.param(rule, i, id=f"{rule.id}-{i}", marks=[pytest.mark.xfail(reason=ex.known_gap, strict=True)] if ex.known_gap else [])
    for rule in REALTIME_RULES
    for i, ex in enumerate(rule.examples)
]
_EVALUATOR = Evaluator(REGISTRY, Knowledge({}))


@pytest.mark.parametrize(("rule", "index"), CASES)
def test_realtime_example(rule, index):
    if _EVALUATOR.implementation(rule) is None:
        pytest.xfail(f"{rule.id} 的场景含 pre/in, 但尚无实时实现 (kind {rule.kind}); 见 docs/realtime.md")
    outcome = run_realtime_example(rule, index)
    missing = sorted(outcome.expected - outcome.actual)
    extra = sorted(outcome.actual - outcome.expected)
    assert not missing and not extra, (
        f"{rule.id} 示例 {index} «{outcome.title}»: 缺少 {missing}, 多出 {extra}; 消息: {outcome.messages}"
    )


@pytest.mark.parametrize(
    ("rule", "index"),
    [pytest.param(r, i, id=f"{r.id}-{i}") for r in REALTIME_RULES if Scene.POST in r.scenes
     for i, ex in enumerate(r.examples) if ex.expect_flags],
)
def test_same_messages_evidence_and_lines_as_batch(rule, index):
    """The real-time flags carry the batch engine's messages, evidence fields, fee lines and encounters:
    a flag explains itself the same way whichever scene raised it."""
    if _EVALUATOR.implementation(rule) is None:
        pytest.xfail(f"{rule.id} 尚无实时实现")
    batch = run_example(rule, index)
    realtime = run_realtime_example(rule, index)
    assert realtime.actual == batch.actual
    assert sorted(realtime.messages) == sorted(batch.messages)
    for key, (fields, lines, encs) in batch.details.items():
        rt_fields, rt_lines, rt_encs = realtime.details[key]
        assert rt_fields == fields, f"{rule.id} {key}: 证据字段 批量 {fields} / 实时 {rt_fields}"
        assert rt_lines == lines, f"{rule.id} {key}: 明细 批量 {lines} / 实时 {rt_lines}"
        assert rt_encs == encs, f"{rule.id} {key}: 就诊 批量 {encs} / 实时 {rt_encs}"


SQL_CASES = [
    pytest.param(rule, i, id=f"{rule.id}-{i}", marks=[pytest.mark.xfail(reason=ex.known_gap, strict=True)] if ex.known_gap else [])
    for rule in REALTIME_RULES if rule.kind == "sql"
    for i, ex in enumerate(rule.examples)
]


@pytest.mark.parametrize(("rule", "index"), SQL_CASES)
def test_realtime_example_by_the_rules_sql(rule, index):
    """The path a bureau's edited `sql` rule takes in real time (its SQL over the request in DuckDB), held
    to every example of every built-in sql rule, and to the twin's messages."""
    outcome = run_realtime_example(rule, index, sql_only=True)
    missing = sorted(outcome.expected - outcome.actual)
    extra = sorted(outcome.actual - outcome.expected)
    assert not missing and not extra, (
        f"{rule.id} 示例 {index} «{outcome.title}» (SQL): 缺少 {missing}, 多出 {extra}; 消息: {outcome.messages}"
    )
    twin = run_realtime_example(rule, index)
    assert sorted(outcome.messages) == sorted(twin.messages)
