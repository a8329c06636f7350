"""`generate`: the whole dataset, streamed table by table to Parquet in chunks of persons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from fundguard.synth.arrow import TableWriters
from fundguard.synth.base import BaseGenerator, Counters, Period
from fundguard.synth.catalog import Compiled, compile_profiles
from fundguard.synth.knowledge import Knowledge
from fundguard.synth.world import build_world

END_DATE = dt.date(2025, 12, 31)
CHUNK_PERSONS = 25_000
#: measured fee lines per base person for a 12-month dataset (see docs/synth.md); for sizing benchmarks
FEE_LINES_PER_PERSON = 21.0


def persons_for_fee_lines(fee_lines: int, months: int = 12) -> int:
    """About how many persons give `fee_lines` fee lines over `months` months."""
    return max(1, round(fee_lines / (FEE_LINES_PER_PERSON * months / 12)))


@dataclass
class SynthReport:
    out_dir: Path
    persons: int
    seed: int
    months: int
    period: tuple[str, str]
    rows: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    #: rules with no injected case because the knowledge edition lacks what the case needs
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "out_dir": str(self.out_dir),
            "persons": self.persons,
            "seed": self.seed,
            "months": self.months,
            "period": list(self.period),
            "rows": dict(self.rows),
            "labels": dict(self.labels),
            "skipped": dict(self.skipped),
        }


def period_for(months: int, end: dt.date = END_DATE) -> Period:
    year, month = end.year, end.month - months + 1
    while month <= 0:
        month += 12
        year -= 1
    start = dt.date(year, month, 1)
    epoch = dt.date(1970, 1, 1)
    return Period((start - epoch).days, (end - epoch).days)


def generate(
    out_dir: Path | str,
    *,
    persons: int = 20_000,
    seed: int = 0,
    months: int = 12,
    violation_rate: float = 0.01,
    progress: Callable[[int, int], None] | None = None,
    knowledge: Knowledge | None = None,
) -> SynthReport:
    """Write the dataset tables and `labels.parquet` into `out_dir`; same arguments → same bytes.

    `persons` base persons are generated in chunks of 25,000 (bounded memory); injected cases use
    fresh persons after them (`violation_rate` × persons cases, spread over the rules, at least one
    per rule). `progress(done, total)` is called after each chunk of persons.
    """
    from fundguard.synth.inject import Injector

    if months < 1 or months > 120:
        raise ValueError("months must be between 1 and 120")
    if persons < 1:
        raise ValueError("persons must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kn = knowledge or Knowledge.default()
    period = period_for(months)
    world = build_world(persons, seed)
    compiled = Compiled(compile_profiles(kn))
    base = BaseGenerator(world, compiled, period, kn.drg)
    writers = TableWriters(out)
    counters = Counters()
    epoch = dt.date(1970, 1, 1)
    report = SynthReport(
        out, persons, seed, months,
        ((epoch + dt.timedelta(period.start)).isoformat(), (epoch + dt.timedelta(period.end)).isoformat()),
    )
    try:
        writers.write("fixmedins", world.fixmedins_table())
        writers.write("practitioner", world.practitioner_table())
        n_chunks = (persons + CHUNK_PERSONS - 1) // CHUNK_PERSONS
        for chunk in range(n_chunks):
            n = min(CHUNK_PERSONS, persons - chunk * CHUNK_PERSONS)
            rng = np.random.Generator(np.random.PCG64([seed, chunk]))
            for name, table in base.chunk(n, counters, rng).items():
                writers.write(name, table)
            if progress is not None:
                progress(chunk * CHUNK_PERSONS + n, persons)
        injector = Injector(kn, world, period, counters, seed)
        n_cases = max(0, round(violation_rate * persons))
        tables, labels = injector.run(n_cases)
        for name, table in tables.items():
            writers.write(name, table)
        writers.write("labels", labels)
        report.labels = _count(labels)
        report.skipped = dict(injector.skipped)
    finally:
        writers.close()
    report.rows = {k: v for k, v in writers.rows.items() if k != "labels"}
    return report


def _count(labels: pa.Table) -> dict[str, int]:
    out: dict[str, int] = {}
    for rule in labels.column("rule_id").to_pylist():
        out[rule] = out.get(rule, 0) + 1
    return dict(sorted(out.items()))
