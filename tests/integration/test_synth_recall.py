"""The rule library against the synthetic generator: on 20k persons over a year, every injected label
is flagged by its rule with exactly the labelled amount (recall 1.0), and every flag carries a label.

A mismatch is either a generator bug (the catalog semantics say the flag is right: label it) or a
rule bug; the failure message lists both sides per rule so the fix is obvious.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from fundguard.engine import run_audit
from fundguard.synth import generate

PERSONS = 20_000
SEED = 20251


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth-recall")
    dataset = root / "data"
    generate(dataset, persons=PERSONS, seed=SEED, months=12)
    run = run_audit(dataset, root / "out")
    flags = pq.read_table(root / "out" / "flags.parquet").to_pylist()
    labels = pq.read_table(dataset / "labels.parquet").to_pylist()
    return run, flags, labels


def _keyed(rows):
    return {(r["rule_id"], r["flag_key"]): Decimal(r["vola_amt"]).quantize(Decimal("0.01")) for r in rows}


def test_every_label_is_flagged_with_its_amount_and_every_flag_is_labelled(audited):
    run, flags, labels = audited
    got, want = _keyed(flags), _keyed(labels)
    assert len(got) == len(flags), "flag keys must be unique per rule"
    skipped = {r["id"] for r in run["rules"] if r["status"] == "skipped"}
    # the generator writes every optional input, so no rule is skipped for lack of one (its labels would
    # silently drop out of the comparison below)
    assert not [r["id"] for r in run["rules"] if r["status"] == "skipped" and "可选输入" in r["reason"]]
    want = {k: v for k, v in want.items() if k[0] not in skipped}

    missing, wrong_amount, unlabelled = defaultdict(list), defaultdict(list), defaultdict(list)
    for key, amount in want.items():
        if key not in got:
            missing[key[0]].append((key[1], str(amount)))
        elif got[key] != amount:
            wrong_amount[key[0]].append((key[1], f"label {amount}", f"flag {got[key]}"))
    for key, amount in got.items():
        if key not in want:
            unlabelled[key[0]].append((key[1], str(amount)))

    def show(title, groups):
        return [f"{title} {rule}: {len(items)} e.g. {items[:3]}" for rule, items in sorted(groups.items())]

    problems = show("missing", missing) + show("wrong amount", wrong_amount) + show("unlabelled flag", unlabelled)
    assert not problems, "\n".join(problems)


def test_every_deterministic_rule_was_exercised(audited):
    run, flags, labels = audited
    labelled_rules = {r["rule_id"] for r in labels}
    ran = {r["id"] for r in run["rules"] if r["status"] == "ran"}
    assert ran - labelled_rules == set(), "rules that ran without any injected case"
