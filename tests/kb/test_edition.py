"""Editions: manifest, stable content hash, DuckDB registration, overlays where later layers win."""

from __future__ import annotations

import json
import multiprocessing

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fundguard.kb import KB_TABLES, Edition, KbError, build_edition, default_edition_path


def test_manifest(edition):
    manifest = edition.manifest
    assert manifest["name"] == "default"
    assert manifest["hilist_complete"] is False
    assert [layer["name"] for layer in manifest["layers"]] == ["nhsa", "sample"]
    assert "nhsa:batch7_item_duplicate.csv" in manifest["sources"]
    assert set(manifest["row_counts"]) == set(KB_TABLES)
    assert len(manifest["content_hash"]) == 64
    assert manifest["built_at"]


def test_hash_identical_on_two_builds(edition, tmp_path):
    second = build_edition(tmp_path / "again" / "edition")
    assert second.content_hash == edition.content_hash
    reopened = Edition.open(tmp_path / "again" / "edition")
    assert reopened.content_hash == edition.content_hash


def test_register_uses_contract_types(kb_con):
    types = dict(kb_con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'kb_hilist'").fetchall())
    assert types["pric_uplmt_amt"] == "DECIMAL(16,2)"
    assert types["covered"] == "BOOLEAN"
    for table, columns in KB_TABLES.items():
        got = [r[0] for r in kb_con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table]).fetchall()]
        assert got == [c for c, _ in columns], table


def _write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_overlays_later_layer_wins(tmp_path):
    first, second = tmp_path / "bureau", tmp_path / "city"
    _write(first, "kb_item_gender.csv",
           "hilist_code,gend,item_name\n002101030280000,2,试验改性别\nXG02B*,2,宫内节育器类\n")
    _write(first, "kb_hilist.csv",
           "hilist_code,hilist_name,list_type,med_chrgitm_type,chrgitm_lv,pric_uplmt_amt,covered\n"
           "001109000010000,普通病房床位费,201,01,01,45.5,true\n")
    _write(first, "overlay.yaml", "name: 某省医保局\nhilist_complete: true\n")
    _write(second, "kb_item_gender.csv", "hilist_code,gend,item_name,source\n002101030280000,1,阴茎海绵体造影,city\n")
    manifest = build_edition(tmp_path / "ed", name="bureau", overlays=[first, second])
    assert manifest.hilist_complete is True
    assert [layer["name"] for layer in manifest.layers] == ["nhsa", "sample", "某省医保局", "city"]
    con = duckdb.connect()
    Edition.open(tmp_path / "ed").register(con)
    assert con.execute("SELECT gend, source FROM kb_item_gender WHERE hilist_code = '002101030280000'").fetchall() == [
        ("1", "city")]
    assert con.execute("SELECT gend, source FROM kb_item_gender WHERE hilist_code = 'XG02B*'").fetchall() == [
        ("2", "overlay:某省医保局")]
    price = con.execute("SELECT pric_uplmt_amt::VARCHAR FROM kb_hilist WHERE hilist_code = '001109000010000'")
    assert price.fetchall() == [("45.50",)]


def test_overlay_errors_name_file_and_row(tmp_path):
    bad = tmp_path / "bad"
    _write(bad, "kb_item_gendr.csv", "hilist_code,gend\nX,1\n")
    with pytest.raises(KbError, match="kb_item_gendr.csv"):
        build_edition(tmp_path / "ed", overlays=[bad])
    worse = tmp_path / "worse"
    _write(worse, "kb_item_age.csv", "hilist_code,min_age,max_age\nX,abc,3\n")
    with pytest.raises(KbError, match="第 1 行"):
        build_edition(tmp_path / "ed", overlays=[worse])
    assert not (tmp_path / "ed").exists()


@pytest.mark.parametrize(("file", "text", "message"), [
    ("kb_item_gender.csv", "hilist_code,gend\nX1,1\nX2,3\n", "第 2 行 gend 值 '3' 无效：取值应为 1、2"),
    ("kb_item_gender.csv", "hilist_code,gend\nX1,男\n", "第 1 行 gend 值 '男' 无效"),
    ("kb_item_gender.csv", "hilist_code,gend\nX1,\n", "第 1 行 gend 不能为空"),
    ("kb_item_age.csv", "hilist_code,min_age,max_age\nX,abc,3\n", "第 1 行 min_age 值 'abc' 不是整数"),
    ("kb_item_age.csv", "hilist_code,min_age,max_age\nX,18,6\n", "min_age 18 大于 max_age 6"),
    ("kb_item_age.csv", "hilist_code,min_age,max_age\nX,,\n", "min_age 与 max_age 不能都为空"),
    ("kb_item_limit.csv", "hilist_code,max_cnt,per\nX,2,week\n", "per 值 'week' 无效：取值应为 hour、day、mdtrt"),
    ("kb_item_limit.csv", "hilist_code,max_cnt,per\nX,0,day\n", "max_cnt 值 0 无效：应为不小于 1 的数"),
    ("kb_hilist.csv", "hilist_code,pric_uplmt_amt\nX,12.345\n", "pric_uplmt_amt 值 '12.345' 不是数值"),
    ("kb_hilist.csv", "hilist_code,covered\nX,maybe\n", "covered 值 'maybe' 不是是/否"),
    ("kb_drug_product.csv", "trac_prefix,hilist_code\n81234,X\n", "trac_prefix 值 '81234' 无效：应为 7 位数字"),
    ("kb_exclusive.csv", "hilist_code_a,hilist_code_b,scope\nA*1,B,day\n", "hilist_code_a 值 'A\\*1' 无效"),
])
def test_overlay_values_are_checked_per_column(tmp_path, file, text, message):
    _write(tmp_path / "bad", file, text)
    with pytest.raises(KbError, match=f"{file}: {message}" if message.startswith("第") else message):
        build_edition(tmp_path / "ed", overlays=[tmp_path / "bad"])
    assert not (tmp_path / "ed").exists()


def test_two_different_rows_with_one_key_in_a_layer_are_refused(tmp_path):
    # the rules would count every fee line once per row (a window sum doubled, a per-encounter limit
    # checked twice): one key, one entry
    bad = tmp_path / "bad"
    _write(bad, "kb_item_cycle.csv", "hilist_code,max_cnt,cycle_days\n003402000390000,1,14\nX1,2,7\n003402000390000,4,60\n")
    with pytest.raises(KbError, match=r"kb_item_cycle.csv: 第 3 行与第 1 行的键相同 \(hilist_code=003402000390000\) 而内容不同"):
        build_edition(tmp_path / "ed", overlays=[bad])
    across = tmp_path / "across"
    _write(across, "kb_item_limit.csv", "hilist_code,max_cnt,per\nX1,2,mdtrt\n")
    pq.write_table(pa.table({"hilist_code": ["X1"], "max_cnt": [5], "per": ["mdtrt"]}), across / "kb_item_limit.parquet")
    with pytest.raises(KbError, match=r"kb_item_limit.parquet: 第 1 行与.*kb_item_limit.csv 第 1 行的键相同 \(hilist_code=X1, per=mdtrt\)"):
        build_edition(tmp_path / "ed", overlays=[across])
    assert not (tmp_path / "ed").exists()


def test_rows_repeated_alike_and_several_rows_where_a_key_has_several_are_accepted(tmp_path):
    ok = tmp_path / "ok"
    _write(ok, "kb_item_limit.csv", "hilist_code,max_cnt,per\nX1,2,mdtrt\nX1,2,mdtrt\nX1,1,day\n")
    _write(ok, "kb_item_indication.csv", "hilist_code,diag_prefix\nX2,I10\nX2,I11\n")
    build_edition(tmp_path / "ed", overlays=[ok])
    con = duckdb.connect()
    Edition.open(tmp_path / "ed").register(con)
    assert con.execute("SELECT per, max_cnt FROM kb_item_limit WHERE hilist_code = 'X1' ORDER BY per").fetchall() == [
        ("day", 1), ("mdtrt", 2)]
    assert con.execute("SELECT count(*) FROM kb_item_indication WHERE hilist_code = 'X2'").fetchone() == (2,)


def test_national_and_sample_rows_pass_the_value_checks():
    from fundguard.kb.edition import SAMPLE_DIR, national_layer, read_layer
    from fundguard.kb.tables import coerce_row, row_problems

    national, _ = national_layer()
    sample = read_layer(SAMPLE_DIR, kind="sample", name="sample")
    bad = [(layer.name, table, row, problems)
           for layer in (national, sample) for table, rows in layer.tables.items() for row in rows
           if (problems := row_problems(table, coerce_row(table, row)))]
    assert sum(len(rows) for rows in national.tables.values()) > 10000
    assert bad == []


def test_refuses_to_overwrite_a_foreign_folder(tmp_path):
    _write(tmp_path / "mine", "notes.txt", "keep me")
    with pytest.raises(KbError):
        build_edition(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text(encoding="utf-8") == "keep me"


def _default_path(home):
    import os

    os.environ["FUNDGUARD_HOME"] = home
    return str(default_edition_path())


def test_default_edition_path_builds_once_even_in_parallel(tmp_path, monkeypatch):
    home = str(tmp_path / "home")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        paths = pool.map(_default_path, [home, home])
    assert paths[0] == paths[1]
    monkeypatch.setenv("FUNDGUARD_HOME", home)
    path = default_edition_path()
    assert str(path) == paths[0] and path.name.startswith("default-")
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["row_counts"]["kb_bundle"] >= 900
    leftovers = [p.name for p in (tmp_path / "home" / "kb").iterdir() if p.name.startswith(".")]
    assert leftovers == []


# ---- overlay input: overlay.yaml, file names, CSV shape and encoding ----------------------------------


def _refused(tmp_path, folder, pattern):
    """Building with `folder` as overlay fails with a KbError matching `pattern` and leaves no edition."""
    with pytest.raises(KbError, match=pattern) as raised:
        build_edition(tmp_path / "ed", overlays=[folder])
    assert not (tmp_path / "ed").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ed.")]
    return str(raised.value)


GENDER = "hilist_code,gend\nXTEST00001,1\n"


@pytest.mark.parametrize(("yaml_text", "pattern"), [
    # a quoted "false" is text: bool("false") made the catalog complete
    ('hilist_complete: "false"\n', r"overlay.yaml: 字段 hilist_complete: 应为 true/false, 得到 'false'"),
    ("hilist_compelte: true\n", r"overlay.yaml: 字段 hilist_compelte: 未知字段.*可用的键：name、hilist_complete"),
    ("name: 2026\n", r"overlay.yaml: 字段 name: 应为文本"),
    ("name: [某省\n", r"overlay.yaml: YAML 无法解析：第 2 行第 1 列"),
    ("- name\n- hilist_complete\n", r"overlay.yaml: 顶层应为映射"),
    ("hilist_complete: true\nhilist_complete: false\n", r"overlay.yaml: YAML 无法解析：.*重复的键 'hilist_complete'"),
])
def test_overlay_yaml_is_checked_strictly(tmp_path, yaml_text, pattern):
    bad = tmp_path / "bad"
    _write(bad, "kb_item_gender.csv", GENDER)
    _write(bad, "overlay.yaml", yaml_text)
    _refused(tmp_path, bad, pattern)


def test_overlay_yaml_false_and_absent(tmp_path):
    off, bare = tmp_path / "off", tmp_path / "bare"
    _write(off, "overlay.yaml", "name: 关\nhilist_complete: false\n")
    _write(bare, "overlay.yaml", "")
    assert build_edition(tmp_path / "ed", overlays=[off]).hilist_complete is False
    manifest = build_edition(tmp_path / "ed2", overlays=[bare])
    assert manifest.hilist_complete is False and manifest.layers[-1]["name"] == "bare"


def test_overlay_table_files_match_in_any_case(tmp_path):
    upper = tmp_path / "upper"
    _write(upper, "KB_ITEM_GENDER.CSV", "hilist_code,gend\nXTEST00001,1\n")
    _write(upper, "kb_item_age.CSV", "hilist_code,min_age,max_age\nXTEST00002,18,\n")
    _write(upper, "Overlay.YAML", "name: 大写\n")
    _write(upper, "README.md", "说明")
    manifest = build_edition(tmp_path / "ed", overlays=[upper])
    assert manifest.layers[-1] == {"name": "大写", "kind": "overlay",
                                   "row_counts": {"kb_item_age": 1, "kb_item_gender": 1}}
    assert "overlay:大写/KB_ITEM_GENDER.CSV" in manifest.sources
    con = duckdb.connect()
    Edition.open(tmp_path / "ed").register(con)
    assert con.execute("SELECT gend FROM kb_item_gender WHERE hilist_code = 'XTEST00001'").fetchall() == [("1",)]


@pytest.mark.parametrize("stranger", ["kb_item_gender.txt", "kb_hilist.xlsx", "notes"])
def test_overlay_files_that_are_not_tables_are_refused(tmp_path, stranger):
    bad = tmp_path / "bad"
    _write(bad, "kb_item_gender.csv", GENDER)
    _write(bad, stranger, "hilist_code,gend\nXTEST00002,2\n")
    message = _refused(tmp_path, bad, f"叠加层目录中有无法识别的文件：{stranger}")
    assert "kb_item_gender, " in message and "overlay.yaml" in message


def test_overlay_subfolders_are_refused(tmp_path):
    bad = tmp_path / "bad"
    _write(bad / "2026", "kb_item_gender.csv", GENDER)
    _refused(tmp_path, bad, "无法识别的文件：2026/")


@pytest.mark.parametrize(("text", "pattern"), [
    ("hilist_code,gend\nXTEST00001,1,EXTRA\n",
     r"kb_item_gender.csv: 第 1 行有 3 个字段，表头有 2 列：第 3 个字段 'EXTRA' 没有对应的列"),
    ("hilist_code,gend,item_name\nXTEST00001,1,甲\nXTEST00002,2\n",
     r"kb_item_gender.csv: 第 2 行有 2 个字段，表头有 3 列：缺少 item_name 的值（文件第 3 行）"),
    ("hilist_code,gend,gend\nXTEST00001,1,2\n", r"kb_item_gender.csv: 表头中列 gend 出现了不止一次"),
])
def test_overlay_csv_rows_must_have_the_header_s_fields(tmp_path, text, pattern):
    _write(tmp_path / "bad", "kb_item_gender.csv", text)
    _refused(tmp_path, tmp_path / "bad", pattern)


@pytest.mark.parametrize(("text", "pattern"), [
    # never closed: Python's csv read the rest of the file into one value
    ('hilist_code,gend,item_name\nXTEST00001,1,甲\nXTEST00002,2,"abc\nXTEST00003,1,乙\nXTEST00004,2,丙\n',
     r"kb_item_gender.csv: 第 2 行 item_name（文件第 3 行起）引号未闭合"),
    # closed by a stray quote further down
    ('hilist_code,gend,item_name\nXTEST00001,1,"abc\nXTEST00002,2,"乙"\n',
     r"kb_item_gender.csv: 第 1 行 item_name（文件第 2 行起）引号后应紧跟逗号"),
    ('hilist_code,gend,note\nXTEST00001,1,"abc\nXTEST00002,2,x"\n',
     r"kb_item_gender.csv: 第 1 行 note 的值含换行（文件第 2–3 行）"),
])
def test_overlay_csv_unclosed_quotes_are_refused(tmp_path, text, pattern):
    _write(tmp_path / "bad", "kb_item_gender.csv", text)
    _refused(tmp_path, tmp_path / "bad", pattern)


def test_overlay_csv_must_be_utf8(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "kb_item_gender.csv").write_bytes(
        "hilist_code,gend,item_name\nXTEST00001,1,Pap\nXTEST00002,2,宫内节育器\n".encode("gbk"))
    _refused(tmp_path, bad, r"kb_item_gender.csv: 不是 UTF-8 编码：第 2 行 item_name（文件第 3 行）")


def test_overlay_csv_with_bom_crlf_and_quotes_is_read(tmp_path):
    ok = tmp_path / "ok"
    ok.mkdir()
    (ok / "kb_item_gender.csv").write_bytes(
        '\ufeffhilist_code,gend,item_name\r\nXTEST00001,1,"甲, ""乙"""\r\nXTEST00002,2,丙'.encode())
    build_edition(tmp_path / "ed", overlays=[ok])
    con = duckdb.connect()
    Edition.open(tmp_path / "ed").register(con)
    assert con.execute("SELECT hilist_code, item_name FROM kb_item_gender WHERE hilist_code LIKE 'XTEST%' "
                       "ORDER BY 1").fetchall() == [("XTEST00001", '甲, "乙"'), ("XTEST00002", "丙")]


def test_a_bad_overlay_leaves_an_existing_edition_alone(tmp_path):
    good = tmp_path / "good"
    _write(good, "kb_item_gender.csv", GENDER)
    before = build_edition(tmp_path / "ed", overlays=[good])
    bad = tmp_path / "bad"
    _write(bad, "kb_item_gender.csv", "hilist_code,gend\nXTEST00001,1,EXTRA\n")
    with pytest.raises(KbError, match="第 1 行"):
        build_edition(tmp_path / "ed", overlays=[good, bad])
    assert Edition.open(tmp_path / "ed").content_hash == before.content_hash
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "ed", "good"]
