"""`fundguard synth`: writes the dataset, prints a summary, refuses bad sizes."""

from __future__ import annotations

from typer.testing import CliRunner

from fundguard.cli import app

runner = CliRunner()


def test_synth_writes_dataset(tmp_path):
    result = runner.invoke(app, ["synth", "--out", str(tmp_path), "--persons", "200", "--months", "2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "合成数据" in result.output
    for name in ("psn", "mdtrt", "feedetl", "labels"):
        assert (tmp_path / f"{name}.parquet").exists()


def test_synth_rejects_bad_sizes(tmp_path):
    result = runner.invoke(app, ["synth", "--out", str(tmp_path), "--persons", "0"])
    assert result.exit_code == 2


def test_synth_help_is_bilingual():
    result = runner.invoke(app, ["synth", "--help"])
    assert result.exit_code == 0
    assert "--violation-rate" in result.output and "合成" in result.output
