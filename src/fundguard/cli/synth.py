"""`fundguard synth --out DIR`: a synthetic dataset with labelled injected violations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fundguard.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_USAGE,
    err_console,
    out_console,
    progress_bar,
    staged_folder,
)


def synth(
    out: Annotated[Path, typer.Option("--out", help="输出目录 output folder (tables + labels.parquet)")],
    persons: Annotated[int, typer.Option("--persons", help="参保人数 number of insured persons")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="随机种子 seed: same seed, same bytes")] = 0,
    months: Annotated[int, typer.Option("--months", help="月数 months of claims, ending 2025-12-31")] = 12,
    violation_rate: Annotated[
        float, typer.Option("--violation-rate", help="注入违规案例数/参保人数 injected cases per person (≥1 per rule)")
    ] = 0.01,
    fee_lines: Annotated[
        int | None, typer.Option("--fee-lines", help="按费用明细行数定规模 size by about N fee lines (overrides --persons)")
    ] = None,
) -> None:
    """生成合成数据 Write a synthetic claims dataset that passes `validate`, with labels.parquet of injected violations."""
    from fundguard.synth import generate, persons_for_fee_lines

    if fee_lines is not None:
        persons = persons_for_fee_lines(fee_lines, months)
    if persons < 1 or not 1 <= months <= 120 or violation_rate < 0:
        err_console.print("参数超出范围: 参保人数 --persons ≥ 1, 月数 1 ≤ --months ≤ 120, --violation-rate ≥ 0", markup=False)
        raise typer.Exit(EXIT_USAGE)
    if out.exists() and not out.is_dir():
        err_console.print(f"输出目录 {out} 已存在且不是目录", markup=False)
        raise typer.Exit(EXIT_USAGE)
    if out.is_dir() and any(out.iterdir()):
        # writing into a folder that holds a dataset would mix synthetic tables with real ones
        err_console.print(f"输出目录 {out} 不是空目录: 合成数据只写入新目录或空目录", markup=False)
        raise typer.Exit(EXIT_USAGE)
    with progress_bar() as bar:
        task = bar.add_task("参保人", total=persons)

        def on_chunk(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            with staged_folder(out) as staging:  # a failed run (a full disk) leaves no partial dataset
                report = generate(staging, persons=persons, seed=seed, months=months, violation_rate=violation_rate,
                                  progress=on_chunk)
        except OSError as exc:
            err_console.print(f"{out}: 无法写入 ({exc.strerror or exc}), 未生成数据", markup=False)
            raise typer.Exit(EXIT_BAD_INPUT) from None
    rows = report.rows
    out_console.print(
        f"合成数据 {report.period[0]}–{report.period[1]}: 参保人 {rows['psn']:,}, 就诊 {rows['mdtrt']:,}, "
        f"费用明细 {rows['feedetl']:,}, 注入标签 {sum(report.labels.values()):,} ({len(report.labels)} 条规则) → {out}",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
