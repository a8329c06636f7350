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


def test_quantities_in_messages_have_no_trailing_zeros():
    # B02's first example bills a once-a-day item 3 times: the later lines are 1 unit over each
    rule = REGISTRY.rules["B02"]
    outcome = run_example(rule, 0)
    assert outcome.messages, "B02 example 0 should flag"
    for message in outcome.messages:
        assert "本明细超出 1 单位" in message, message
        assert ".0000" not in message, message
