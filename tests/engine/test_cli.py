"""The doors over the engine: `fundguard audit`, `rules list/show/test`, `flags summary` (exit codes, output)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from fundguard.cli import app
from fundguard.engine import load_registry

runner = CliRunner()


def test_rules_list_json_has_examples():
    result = runner.invoke(app, ["rules", "list", "--json"])
    assert result.exit_code == 0, result.output
    rules = json.loads(result.stdout)
    ids = {r["id"] for r in rules}
    assert {"A01", "B11"} <= ids
    assert all(len(r["examples"]) >= 2 for r in rules)


def test_rules_show_prints_examples_and_sql():
    result = runner.invoke(app, ["rules", "show", "a01"])
    assert result.exit_code == 0, result.output
    assert "限性别项目" in result.stdout and "示例" in result.stdout and "SELECT" in result.stdout


def test_rules_show_unknown_id_is_usage_error():
    result = runner.invoke(app, ["rules", "show", "Z99"])
    assert result.exit_code == 2


def test_rules_test_one_rule():
    result = runner.invoke(app, ["rules", "test", "A03"])
    assert result.exit_code == 0, result.output
    assert "0 失败" in result.stdout


def test_audit_and_summary(dataset, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["audit", str(dataset), "--out", str(out), "--rules", "B06,A03"])
    assert result.exit_code == 0, result.output
    assert (out / "flags.parquet").exists() and (out / "run.json").exists()
    lines = json.loads((out / "run.json").read_text(encoding="utf-8"))["dataset"]["tables"]["feedetl"]["rows"]
    assert f", {lines:,} 条费用明细, 用时 " in result.stdout and " 条/秒)" in result.stdout
    summary = runner.invoke(app, ["flags", "summary", str(out), "--json"])
    assert summary.exit_code == 0, summary.output
    data = json.loads(summary.stdout)
    assert data["total"]["flags"] == 2
    names = {r.id: r.name for r in load_registry()}
    assert {r["key"]: r["name"] for r in data["rule"]} == {"A03": names["A03"], "B06": names["B06"]}
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    b06 = next(r for r in run["rules"] if r["id"] == "B06")
    assert b06["name"] == names["B06"] and "条例" in b06["legal_basis"]["regulation"] and b06["severity"] in (1, 2, 3)
    table = runner.invoke(app, ["flags", "summary", str(out)])
    assert "按规则" in table.stdout and "按严重程度" in table.stdout and names["A03"] in table.stdout
    # a summed amount says it is a sum of per-rule amounts, not what is refused
    assert "不等于应拒付或追回的金额" in table.stdout and "不等于应拒付或追回的金额" in result.output


def test_summary_json_lists_every_group_and_the_table_the_top_ones(tmp_path):
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 25
    pq.write_table(pa.table({
        "rule_id": [f"Z{i:02d}" for i in range(n)], "fixmedins_code": ["H1"] * n, "sev_deg": pa.array([2] * n, pa.int32()),
        "vola_amt": pa.array([Decimal(i) for i in range(n)], pa.decimal128(16, 2)),
    }), tmp_path / "flags.parquet")
    data = json.loads(runner.invoke(app, ["flags", "summary", str(tmp_path), "--json"]).stdout)
    assert len(data["rule"]) == n and data["groups"]["rule"] == n
    assert sum(Decimal(r["vola_amt"]) for r in data["rule"]) == Decimal(data["total"]["vola_amt"])
    assert data["severity"] == [{"key": "2", "name": "高度可疑", "flags": n, "vola_amt": data["total"]["vola_amt"]}]
    top = json.loads(runner.invoke(app, ["flags", "summary", str(tmp_path), "--json", "--top", "3"]).stdout)
    assert [r["key"] for r in top["rule"]] == ["Z24", "Z23", "Z22"] and top["groups"]["rule"] == n
    table = runner.invoke(app, ["flags", "summary", str(tmp_path)])
    assert "共 25 项, 列出金额最高的 20 项" in table.stdout


def test_audit_errors_exit_codes(dataset, tmp_path):
    out = tmp_path / "out"
    assert runner.invoke(app, ["audit", str(dataset), "--out", str(out), "--rules", "Z99"]).exit_code == 2
    assert runner.invoke(app, ["audit", str(dataset), "--out", str(out), "--engine", "nope"]).exit_code == 2
    bad = tmp_path / "bad"
    bad.mkdir()
    assert runner.invoke(app, ["audit", str(bad), "--out", str(out)]).exit_code == 1
    assert not out.exists()


def test_rules_test_rejects_sql_outside_the_portable_subset(bad_rules_root, monkeypatch):
    # a rule author's edit that DuckDB accepts but Spark computes differently fails `rules test`
    sql_path = bad_rules_root / "a_restrictions" / "A05_item_outside_indication.sql"
    sql = sql_path.read_text(encoding="utf-8")
    where = "WHERE l.hifp_pay > 0 AND NOT l.hosp_appr_flag"
    assert where in sql
    # true on every example (DuckDB: days since birth), but an INTERVAL on Spark
    sql_path.write_text(sql.replace(where, where + " AND l.fee_date - l.brdy > 0"), encoding="utf-8")
    monkeypatch.setattr("fundguard.engine.registry.rules_root", lambda: bad_rules_root)
    result = runner.invoke(app, ["rules", "test", "A05"])
    assert result.exit_code == 1, result.output
    assert "规则 A05" in result.output and "days_between" in result.output
    assert "不在可移植子集内" in result.stdout


def test_audit_empty_rule_selection_is_usage_error(dataset, tmp_path):
    out = tmp_path / "out"
    for value in (",", "", " , "):
        result = runner.invoke(app, ["audit", str(dataset), "--out", str(out), "--rules", value])
        assert result.exit_code == 2, (value, result.output)
        assert "--rules 为空" in result.output
    assert not out.exists()


def test_audit_unusable_kb_is_bad_input(dataset, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["audit", str(dataset), "--out", str(out), "--kb", str(tmp_path / "nokb")])
    assert result.exit_code == 1, result.output
    assert "nokb" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_flags_summary_of_a_corrupt_or_foreign_file(dataset, tmp_path):
    import shutil

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "flags.parquet").write_bytes(b"PAR1 not really")
    result = runner.invoke(app, ["flags", "summary", str(corrupt)])
    assert result.exit_code == 1 and "文件损坏" in result.output, result.output
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    shutil.copy(dataset / "psn.parquet", foreign / "flags.parquet")
    result = runner.invoke(app, ["flags", "summary", str(foreign)])
    assert result.exit_code == 1 and "缺少列" in result.output, result.output
    folder = tmp_path / "partitioned"
    (folder / "flags.parquet").mkdir(parents=True)  # e.g. a Spark-style folder of part files
    result = runner.invoke(app, ["flags", "summary", str(folder)])
    assert result.exit_code == 1 and "是目录" in result.output, result.output


def test_a_bureau_copy_of_the_library_runs_with_rules_dir(dataset, tmp_path):
    import pyarrow.parquet as pq

    library = tmp_path / "library"
    result = runner.invoke(app, ["rules", "export", str(library)])
    assert result.exit_code == 0, result.output
    builtin = json.loads(runner.invoke(app, ["rules", "list", "--json"]).stdout)
    copied = json.loads(runner.invoke(app, ["rules", "list", "--json", "--rules-dir", str(library)]).stdout)
    assert copied == builtin
    # the bureau edits one rule: B06 becomes severity 2 with its own wording
    (b06,) = library.glob("*/B06_*.yaml")
    text = b06.read_text(encoding="utf-8")
    assert "\nseverity: 1\n" in text and "message: \"住院 " in text
    b06.write_text(text.replace("\nseverity: 1\n", "\nseverity: 2\n").replace('message: "住院 ', 'message: "本局口径: 住院 '), encoding="utf-8")
    runs = {}
    for name, extra in (("builtin", []), ("bureau", ["--rules-dir", str(library)])):
        out = tmp_path / name
        result = runner.invoke(app, ["audit", str(dataset), "--out", str(out), "--rules", "B06", *extra])
        assert result.exit_code == 0, result.output
        runs[name] = (pq.read_table(out / "flags.parquet").to_pylist(), json.loads((out / "run.json").read_text()))
    (builtin_flag,), builtin_run = runs["builtin"]
    (bureau_flag,), bureau_run = runs["bureau"]
    assert (builtin_flag["sev_deg"], bureau_flag["sev_deg"]) == (1, 2)
    assert bureau_flag["message"] == "本局口径: " + builtin_flag["message"]
    assert bureau_flag["rule_version"] != builtin_flag["rule_version"] and bureau_run["run_id"] != builtin_run["run_id"]
    assert bureau_run["rule_library"] == str(library.resolve())
    # the environment variable does the same as the option
    result = runner.invoke(app, ["rules", "show", "B06"], env={"FUNDGUARD_RULES_DIR": str(library)})
    assert result.exit_code == 0 and "本局口径" in result.stdout


def test_rules_test_with_rules_dir_fails_on_an_edited_example(tmp_path):
    library = tmp_path / "library"
    assert runner.invoke(app, ["rules", "export", str(library)]).exit_code == 0
    (b06,) = library.glob("*/B06_*.yaml")
    assert runner.invoke(app, ["rules", "test", "B06", "--rules-dir", str(library)]).exit_code == 0
    # a flat folder (no category subfolders) works too; a broken example fails the test command
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in library.glob("*/*"):
        (flat / path.name).write_bytes(path.read_bytes())
    text = (flat / b06.name).read_text(encoding="utf-8")
    assert "vola_amt: 100.00" in text
    (flat / b06.name).write_text(text.replace("vola_amt: 100.00", "vola_amt: 99.00", 1), encoding="utf-8")
    result = runner.invoke(app, ["rules", "test", "B06", "--rules-dir", str(flat)])
    assert result.exit_code == 1 and "1 失败" in result.stdout, result.output


def test_rules_test_runs_real_time_examples_too(tmp_path):
    # B08 (收费无医嘱) runs only in real time: its examples are checked by the real-time evaluator
    library = tmp_path / "library"
    assert runner.invoke(app, ["rules", "export", str(library)]).exit_code == 0
    result = runner.invoke(app, ["rules", "test", "B08", "--rules-dir", str(library)])
    n = len(next(library.glob("*/B08_*.yaml")).read_text(encoding="utf-8").split("- title:")) - 1
    assert result.exit_code == 0, result.output
    assert f"实时示例 (事前/事中规则): {n} 通过, 0 失败" in result.stdout and f"{n} 跳过 (非批量场景)" in result.stdout
    (b08,) = library.glob("*/B08_*.yaml")
    text = b08.read_text(encoding="utf-8")
    assert "vola_amt: 8.00" in text
    b08.write_text(text.replace("vola_amt: 8.00", "vola_amt: 7.00", 1), encoding="utf-8")
    result = runner.invoke(app, ["rules", "test", "B08", "--rules-dir", str(library)])
    assert result.exit_code == 1 and "(实时)" in result.output and "1 失败" in result.stdout, result.output


def test_rules_dir_that_is_missing_or_empty_or_bad_is_named(dataset, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "A01_x.yaml").write_text("id: A01\n", encoding="utf-8")
    for folder, words in ((tmp_path / "nope", "规则库目录不存在"), (empty, "没有规则文件"), (bad, "A01_x.yaml")):
        for args in (["rules", "list"], ["audit", str(dataset), "--out", str(tmp_path / "out")]):
            result = runner.invoke(app, [*args, "--rules-dir", str(folder)])
            assert result.exit_code == 1, (args, result.output)
            assert words in result.output and str(folder) in result.output, result.output
    assert not (tmp_path / "out").exists()
    assert runner.invoke(app, ["rules", "export", str(bad)]).exit_code == 2  # not empty: never overwritten


def _library_with_d04_sql(tmp_path, sql: str):
    library = tmp_path / "library"
    assert runner.invoke(app, ["rules", "export", str(library)]).exit_code == 0
    (d04,) = library.glob("*/D04_*.sql")
    d04.write_text(sql, encoding="utf-8")
    return library, d04


def test_a_library_rule_that_reads_a_file_is_refused_when_read(dataset, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("salt=do-not-leak", encoding="utf-8")
    library, d04 = _library_with_d04_sql(
        tmp_path,
        f"SELECT m.mdtrt_id, 0 AS vola_amt, t.content AS ev_death_date, '' AS ev_begn_date, 0 AS ev_days_after_death,\n"
        f"       '' AS ev_med_type, '' AS ev_med_type_label, 0 AS ev_hifp_pay FROM mdtrt_ctx m, read_text('{secret}') t",
    )
    out = tmp_path / "out"
    for args in (["rules", "list"], ["audit", str(dataset), "--out", str(out)]):
        result = runner.invoke(app, [*args, "--rules-dir", str(library)])
        assert result.exit_code == 1, result.output
        assert str(d04.with_suffix(".sql")) in result.output and "不得调用表函数或读取文件" in result.output, result.output
        assert "do-not-leak" not in result.output
    assert not out.exists()


def test_the_engine_confines_rule_sql_to_the_dataset_and_the_output_folder(dataset, tmp_path):
    # the registry's lint aside (a rule loaded on its own is not linted), the audit's DuckDB connection
    # itself refuses to read a file outside the dataset
    from fundguard.engine import run_audit
    from fundguard.engine.backends.duckdb import RuleRuntimeError
    from fundguard.engine.registry import Registry, load_rule_file

    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("salt=do-not-leak", encoding="utf-8")
    library, d04 = _library_with_d04_sql(
        tmp_path,
        f"SELECT m.mdtrt_id, 0 AS vola_amt, t.content AS ev_death_date FROM mdtrt_ctx m, read_text('{secret}') t",
    )
    rule = load_rule_file(d04.with_suffix(".yaml"))
    out = tmp_path / "o" / "out"
    with pytest.raises(RuleRuntimeError) as info:
        run_audit(dataset, out, rules=["D04"], registry=Registry(library, {"D04": rule}))
    assert "D04" in str(info.value) and "disabled by configuration" in str(info.value)
    assert f"({d04})" in str(info.value)  # the file to fix is named
    assert "do-not-leak" not in str(info.value)
    assert not out.exists()
    # the same SQL reading a file inside the dataset folder works (the fee lines are read in place there)
    inside = dataset / "feedetl.parquet"
    d04.write_text(
        "SELECT m.mdtrt_id, 0 AS vola_amt, '' AS ev_death_date, '' AS ev_begn_date, 0 AS ev_days_after_death, "
        "'' AS ev_med_type, '' AS ev_med_type_label, 0 AS ev_hifp_pay "
        f"FROM mdtrt_ctx m WHERE EXISTS (SELECT 1 FROM read_parquet('{inside}'))",
        encoding="utf-8",
    )
    rule = load_rule_file(d04.with_suffix(".yaml"))
    run = run_audit(dataset, out, rules=["D04"], registry=Registry(library, {"D04": rule}))
    assert run["totals"]["flags"] == 2  # both encounters of the dataset


def test_rules_export_that_fails_midway_leaves_nothing(tmp_path, monkeypatch):
    """A full disk stops the copy after some files: no half library (it would fail --rules-dir and block a
    second export), no staging folder; the next export into the same path works."""
    import shutil

    real_copy = shutil.copyfile
    calls = {"n": 0}

    def copy_until_full(src, dst, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:
            raise OSError(28, "No space left on device")
        return real_copy(src, dst, *args, **kwargs)

    target = tmp_path / "library"
    monkeypatch.setattr(shutil, "copyfile", copy_until_full)
    result = runner.invoke(app, ["rules", "export", str(target)])
    assert result.exit_code == 1 and "No space left" in result.output and "未复制任何规则" in result.output
    assert calls["n"] > 5 and list(tmp_path.iterdir()) == []
    monkeypatch.setattr(shutil, "copyfile", real_copy)
    assert runner.invoke(app, ["rules", "export", str(target)]).exit_code == 0
    assert len(list(target.glob("*/*.yaml"))) == 42


def test_a_failed_rule_in_rules_test_is_a_failure_not_a_traceback(tmp_path):
    library = tmp_path / "library"
    assert runner.invoke(app, ["rules", "export", str(library)]).exit_code == 0
    (b01,) = library.glob("*/B01_*.sql")
    # every flagged line twice: only data shows it (a run over empty tables, when the library is read, cannot)
    b01.write_text(b01.read_text(encoding="utf-8").replace(
        "JOIN kb_hilist h", "JOIN (SELECT * FROM kb_hilist UNION ALL SELECT * FROM kb_hilist) h", 1), encoding="utf-8")
    result = runner.invoke(app, ["rules", "test", "B01", "--rules-dir", str(library)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "规则运行出错" in result.output and "(实时)" in result.output


def test_bad_duckdb_settings_from_the_environment_are_named(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("FUNDGUARD_THREADS", "abc")
    result = runner.invoke(app, ["audit", str(dataset), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "FUNDGUARD_THREADS=abc" in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_audit_rules_option_may_be_repeated(dataset, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["audit", str(dataset), "--out", str(out), "--rules", "A01", "--rules", "b06,B07"])
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in json.loads((out / "run.json").read_text(encoding="utf-8"))["rules"]] == ["A01", "B06", "B07"]


def test_spark_master_without_the_spark_engine_is_a_usage_error(dataset, tmp_path):
    # it would otherwise audit silently on this machine with DuckDB
    result = runner.invoke(app, ["audit", str(dataset), "--out", str(tmp_path / "out"), "--spark-master", "yarn"])
    assert result.exit_code == 2 and "--engine spark" in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_ctrl_c_while_the_command_line_loads_ends_quietly():
    """Ctrl-C in the second or so the command's modules take to import: exit 130, no traceback. The
    signal is sent once `typer` has been imported (`-X importtime` reports each finished import), i.e.
    while `fundguard.cli` is still loading its commands."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "fundguard", "rules", "list"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, encoding="utf-8",
    )
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.rstrip().endswith("|   typer"):
            proc.send_signal(signal.SIGINT)
            break
    err = "".join(seen) + proc.stderr.read()
    assert proc.wait(timeout=60) == 130, err[-2000:]
    assert "已中断" in err and "Traceback" not in err, err[-2000:]


def test_running_out_of_memory_is_named_not_a_traceback_nor_a_rule_error(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("FUNDGUARD_MEMORY_LIMIT", "4MB")  # too little even for the three-line dataset
    out = tmp_path / "out"
    result = runner.invoke(app, ["audit", str(dataset), "--out", str(out)])
    assert result.exit_code == 1 and "内存不足" in result.output and "FUNDGUARD_MEMORY_LIMIT=4MB" in result.output, result.output
    assert "SQL 执行失败" not in result.output and "文件损坏" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert not out.exists()


def test_a_parquet_column_named_file_row_number_is_named_not_corrupt(dataset, tmp_path):
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    fee = pq.read_table(data / "feedetl.parquet")
    pq.write_table(fee.append_column("file_row_number", pa.array(range(fee.num_rows))), data / "feedetl.parquet")
    result = runner.invoke(app, ["audit", str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "file_row_number 为保留名" in result.output, result.output
    assert "文件损坏" not in result.output


def test_an_interrupt_once_the_run_is_published_reports_the_published_run(dataset, tmp_path, monkeypatch):
    # Ctrl-C while closing up after OUT received the run: it said "nothing written" over a complete result
    import fundguard.engine as engine_pkg  # the command imports run_audit from here when it runs

    real_run_audit = engine_pkg.run_audit

    def published_then_interrupted(*args, **kwargs):
        real_run_audit(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(engine_pkg, "run_audit", published_then_interrupted)
    out = tmp_path / "out"
    result = runner.invoke(app, ["audit", str(dataset), "--out", str(out), "--rules", "B06"])
    assert result.exit_code == 0, result.output
    assert "审核完成" in result.stdout and "未写出结果" not in result.output

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine_pkg, "run_audit", interrupted)
    result = runner.invoke(app, ["audit", str(dataset), "--out", str(out), "--rules", "B06"])
    assert result.exit_code == 130 and "未写出结果" in result.output  # the run.json there is an earlier run's


def test_ctrl_c_is_held_off_while_a_run_is_published():
    import os
    import signal
    import time

    from fundguard.engine.run import interrupts_deferred

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a test worker may ignore SIGINT
    try:
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)  # delivered now: ignored, the publish goes on
            time.sleep(0.05)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGINT, previous)
