"""`fundguard kb build` then `fundguard kb summary --json`, as on a fresh clone."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from fundguard.cli import app

runner = CliRunner()


def test_build_then_summary_json(tmp_path):
    out = tmp_path / "edition"
    built = runner.invoke(app, ["kb", "build", "--out", str(out)])
    assert built.exit_code == 0, built.output
    assert "unparsed.csv" in built.output and "字节" in built.output
    summary = runner.invoke(app, ["kb", "summary", "--edition", str(out), "--json"])
    assert summary.exit_code == 0, summary.output
    data = json.loads(summary.output)
    counts = data["row_counts"]
    assert counts["kb_item_gender"] >= 6_800 and counts["kb_item_age"] >= 4_400
    assert counts["kb_bundle"] >= 900 and counts["kb_item_limit"] >= 69 and counts["kb_national_rule"] >= 79
    assert len(data["content_hash"]) == 64
    assert data["unparsed"]["count"] > 0 and data["unparsed"]["file_bytes"] > 0
    text = runner.invoke(app, ["kb", "summary", "--edition", str(out)])
    assert text.exit_code == 0 and data["content_hash"] in text.output


def test_exit_codes(tmp_path):
    assert runner.invoke(app, ["kb", "summary", "--edition", str(tmp_path)]).exit_code == 1
    assert runner.invoke(app, ["kb", "build"]).exit_code == 2
    (tmp_path / "overlay").mkdir()
    (tmp_path / "overlay" / "not_a_table.csv").write_text("a\n1\n", encoding="utf-8")
    bad = runner.invoke(app, ["kb", "build", "--out", str(tmp_path / "e"), "--overlay", str(tmp_path / "overlay")])
    assert bad.exit_code == 1


def test_summary_of_a_tampered_edition_names_the_file(tmp_path):
    out = tmp_path / "edition"
    assert runner.invoke(app, ["kb", "build", "--out", str(out)]).exit_code == 0
    (out / "kb_item_gender.parquet").unlink()
    result = runner.invoke(app, ["kb", "summary", "--edition", str(out)])
    assert result.exit_code == 1
    assert "无法打开知识库版本" in result.output and "kb_item_gender.parquet" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, KeyError)
