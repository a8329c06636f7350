"""Every (rule, example) of the library, run exactly: an extra flag fails as surely as a missing one."""

from __future__ import annotations

import pytest

from fundguard.engine import load_registry
from fundguard.engine.examples import batch_skip_reason, run_example

REGISTRY = load_registry()
CASES = [
    pytest.param(rule, i, id=f"{rule.id}-{i}", marks=[pytest.mark.xfail(reason=ex.known_gap, strict=True)] if ex.known_gap else [])
    for rule in REGISTRY
    for i, ex in enumerate(rule.examples)
]


@pytest.mark.parametrize(("rule", "index"), CASES)
def test_example(rule, index):
    reason = batch_skip_reason(rule)
    if reason:
        pytest.skip(reason)
    outcome = run_example(rule, index)
    missing = sorted(outcome.expected - outcome.actual)
    extra = sorted(outcome.actual - outcome.expected)
    assert not missing and not extra, (
        f"{rule.id} 示例 {index} «{outcome.title}»: 缺少 {missing}, 多出 {extra}; 消息: {outcome.messages}"
    )
