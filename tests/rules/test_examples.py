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


@pytest.mark.parametrize(
    ("rule_id", "title_part", "expected"),
    [
        ("A02", "限儿童(0–17岁)项目用于 40 岁成人", "限 0~17 岁使用"),
        ("A02", "限 60 岁以上项目用于 59 岁", "限 60 岁及以上使用"),
        ("A02", "只有上限的限儿童项目", "限 17 岁及以下使用"),
        ("A04", "新生儿黄疸(P59, 限0岁)诊断用于 30 岁成人", "限 0 岁，"),
        ("A04", "老年性白内障(H25, 限45岁以上)用于 44 岁", "限 45 岁及以上，"),
    ],
)
def test_age_ranges_in_messages_name_open_ends(rule_id, title_part, expected):
    """A knowledge range with one end empty reads "60 岁及以上" / "17 岁及以下", not "60~ 岁" / "~17 岁",
    in the batch message and in the real-time one alike."""
    from fundguard.realtime.examples import run_realtime_example

    rule = REGISTRY.rules[rule_id]
    index = next(i for i, ex in enumerate(rule.examples) if title_part in ex.title)
    batch = run_example(rule, index).messages
    assert batch and all(expected in m for m in batch), batch
    assert all("~ " not in m and " ~" not in m for m in batch), batch
    assert sorted(run_realtime_example(rule, index).messages) == sorted(batch)
