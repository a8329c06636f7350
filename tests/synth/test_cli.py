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


def test_synth_refuses_a_folder_that_holds_files(tmp_path):
    (tmp_path / "psn.csv").write_text("psn_no\nP1\n", encoding="utf-8")
    result = runner.invoke(app, ["synth", "--out", str(tmp_path), "--persons", "10", "--months", "1"])
    assert result.exit_code == 2
    assert "不是空目录" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["psn.csv"]
    a_file = tmp_path / "psn.csv"
    result = runner.invoke(app, ["synth", "--out", str(a_file), "--persons", "10", "--months", "1"])
    assert result.exit_code == 2 and "不是目录" in result.output
