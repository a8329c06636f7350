"""Synthetic claims with labelled injected violations: `generate(out_dir, persons=…, seed=…)`.

The base data is clean (no rule of the catalog fires on it); `inject` adds isolated cases, one per
violation, on fresh persons, and `labels.parquet` lists what each case should be flagged for.
"""

from fundguard.synth.generate import FEE_LINES_PER_PERSON, SynthReport, generate, persons_for_fee_lines

__all__ = ["FEE_LINES_PER_PERSON", "SynthReport", "generate", "persons_for_fee_lines"]
