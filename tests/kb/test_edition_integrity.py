"""Opening an edition checks it against its manifest: missing, truncated, altered or unreadable knowledge is
refused with a KbError naming the folder and the file, table or column, never run under the recorded hash."""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import shutil

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fundguard.kb import KB_TABLES, Edition, KbError, content_hash
from fundguard.kb.tables import to_arrow


def row_wise_hash(tables: dict[str, pa.Table]) -> str:
    """The content hash's definition as first written (row-wise JSON): the reference the fast one must match."""
    digest = hashlib.sha256()
    for name in sorted(tables):
        columns = KB_TABLES[name]
        digest.update(json.dumps([name, columns], ensure_ascii=False).encode())
        rows = [json.dumps([row[c] for c, _ in columns], default=str, ensure_ascii=False)
                for row in tables[name].to_pylist()]
        for line in sorted(rows):
            digest.update(line.encode())
            digest.update(b"\n")
    return digest.hexdigest()


@pytest.fixture
def copy(edition_dir, tmp_path):
    target = tmp_path / "edition"
    shutil.copytree(edition_dir, target)
    return target


def _manifest(folder) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _write_manifest(folder, manifest: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def test_untouched_copy_opens_with_its_recorded_hash(edition, copy):
    opened = Edition.open(copy)
    assert opened.content_hash == _manifest(copy)["content_hash"] == edition.content_hash
    assert {name: t.num_rows for name, t in opened.tables.items()} == _manifest(copy)["row_counts"]


def test_fast_hash_is_the_row_wise_hash_of_the_edition(edition):
    assert content_hash(edition.tables) == row_wise_hash(edition.tables) == edition.content_hash


def test_fast_hash_is_the_row_wise_hash_of_awkward_values():
    texts = ['引号"里', "反斜杠\\n", "换行\n制表\t回车\r", "\x00\x1f\x7f", "😀 U+2028\u2028", "", None, "[\"a\", ", "Zz"]
    points = [{"point_id": f"P{i}", "hilist_code": text, "constraint_text": text, "is_superseded": i % 3 == 0 or None,
               "published_at": datetime.date(2024, 1, 1) + datetime.timedelta(days=i) if i % 2 else None}
              for i, text in enumerate(texts)]
    drgs = [{"drg_code": "A1", "weight": decimal.Decimal("-0.5"), "avg_cost": decimal.Decimal("0"), "is_low_risk": True},
            {"drg_code": "A2", "weight": decimal.Decimal("12.3456"), "avg_cost": None, "avg_los": decimal.Decimal("7")}]
    ages = [{"hilist_code": "X", "min_age": -3, "max_age": 2_000_000_000}, {"hilist_code": "X", "min_age": None}]
    tables = {"kb_knowledge_point": to_arrow("kb_knowledge_point", points), "kb_drg": to_arrow("kb_drg", drgs),
              "kb_item_age": to_arrow("kb_item_age", ages), "kb_item_title": to_arrow("kb_item_title", [])}
    assert content_hash(tables) == row_wise_hash(tables)
    only_control = {"kb_item_title": to_arrow("kb_item_title", [{"hilist_code": "a\nb"}, {"hilist_code": "a"}])}
    assert content_hash(only_control) == row_wise_hash(only_control)


def test_missing_table_file_is_refused(copy):
    (copy / "kb_item_gender.parquet").unlink()
    with pytest.raises(KbError, match=r"缺少表文件 kb_item_gender\.parquet.*6\d{3} 行"):
        Edition.open(copy)


def test_truncated_table_is_refused(copy):
    file = copy / "kb_item_gender.parquet"
    pq.write_table(pq.read_table(file).slice(0, 10), file)
    with pytest.raises(KbError, match=r"kb_item_gender\.parquet 有 10 行，manifest\.json 记录 \d+ 行"):
        Edition.open(copy)


def test_altered_rows_with_the_same_count_fail_the_hash(copy):
    file = copy / "kb_item_gender.parquet"
    table = pq.read_table(file)
    flipped = pc.if_else(pc.equal(table["gend"], "1"), "2", "1")
    pq.write_table(table.set_column(table.schema.get_field_index("gend"), "gend", flipped), file)
    with pytest.raises(KbError, match="的内容与 manifest.json 记录的 content_hash 不符") as info:
        Edition.open(copy)
    # the manifest's per-table hashes name the altered table, and only it
    assert "被改动的表：kb_item_gender.parquet；" in str(info.value)


def test_table_hashes_recorded_at_build_are_each_tables_own_hash(edition):
    hashes = edition.manifest["table_hashes"]
    assert set(hashes) == set(edition.manifest["row_counts"])
    assert hashes["kb_item_gender"] == row_wise_hash({"kb_item_gender": edition.tables["kb_item_gender"]})
    assert hashes["kb_item_gender"] != hashes["kb_item_age"]


def test_table_the_manifest_records_as_empty_or_absent_opens_empty(edition, copy):
    (copy / "kb_drg.parquet").unlink()
    (copy / "kb_drug_product.parquet").unlink()
    manifest = _manifest(copy)
    manifest["row_counts"]["kb_drg"] = 0
    del manifest["row_counts"]["kb_drug_product"]  # an edition built before the table existed
    kept = {name: table for name, table in edition.tables.items() if name != "kb_drug_product"}
    kept["kb_drg"] = to_arrow("kb_drg", [])
    manifest["content_hash"] = row_wise_hash(kept)
    _write_manifest(copy, manifest)
    opened = Edition.open(copy)
    assert opened.content_hash == manifest["content_hash"]
    con = duckdb.connect()
    opened.register(con)
    assert con.execute("SELECT count(*) FROM kb_drg").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM kb_drug_product").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM kb_item_gender").fetchone()[0] == edition.tables["kb_item_gender"].num_rows


def test_table_file_the_manifest_does_not_list_is_refused(copy):
    manifest = _manifest(copy)
    del manifest["row_counts"]["kb_drug_product"]
    _write_manifest(copy, manifest)
    with pytest.raises(KbError, match=r"kb_drug_product\.parquet.*没有记录表 kb_drug_product"):
        Edition.open(copy)


def test_missing_or_empty_folder_is_refused(tmp_path):
    with pytest.raises(KbError, match=r"知识库版本目录 .*nowhere 不存在"):
        Edition.open(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(KbError, match=r"empty: 没有 manifest\.json"):
        Edition.open(tmp_path / "empty")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(KbError, match="不是目录"):
        Edition.open(tmp_path / "file")


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: "{bad", r"manifest\.json: 不是有效的 JSON（第 1 行"),
    (lambda m: [m], r"manifest\.json: 应为 JSON 对象"),
    (lambda m: {**m, "content_hash": "abc"}, r"manifest\.json: content_hash 缺失"),
    (lambda m: {k: v for k, v in m.items() if k != "row_counts"}, r"manifest\.json: row_counts 缺失"),
    (lambda m: {**m, "row_counts": {**m["row_counts"], "kb_gender": 3}}, r"row_counts 中的表 kb_gender 不是"),
    (lambda m: {**m, "row_counts": {**m["row_counts"], "kb_drg": "31"}}, r"表 kb_drg 的行数 '31' 无效"),
    (lambda m: {**m, "hilist_complete": "yes"}, r"manifest\.json: hilist_complete 缺失或不是布尔值（true/false）"),
])
def test_malformed_manifest_is_refused(copy, change, message):
    changed = change(_manifest(copy))
    text = changed if isinstance(changed, str) else json.dumps(changed, ensure_ascii=False)
    (copy / "manifest.json").write_text(text, encoding="utf-8")
    with pytest.raises(KbError, match=message):
        Edition.open(copy)


def test_corrupt_table_file_is_refused(copy):
    file = copy / "kb_hilist.parquet"
    file.write_bytes(file.read_bytes()[:500])
    with pytest.raises(KbError, match=r"表文件 kb_hilist\.parquet 无法读取（文件损坏或不是 Parquet）"):
        Edition.open(copy)
    file.write_text("hilist_code,hilist_name\n001,床位费\n", encoding="utf-8")
    with pytest.raises(KbError, match=r"kb_hilist\.parquet 无法读取"):
        Edition.open(copy)


def test_table_with_wrong_columns_is_refused(copy):
    pq.write_table(pa.table({"psn_no": ["P1"], "gend": ["1"]}), copy / "kb_item_gender.parquet")
    with pytest.raises(KbError, match=r"kb_item_gender\.parquet 缺少列：hilist_code, item_name, note, source"):
        Edition.open(copy)


def test_column_of_uncastable_type_is_refused(copy):
    file = copy / "kb_item_age.parquet"
    table = pq.read_table(file)
    words = pa.array(["十八岁"] * table.num_rows, pa.string())
    pq.write_table(table.set_column(table.schema.get_field_index("min_age"), "min_age", words), file)
    with pytest.raises(KbError, match=r"kb_item_age\.parquet 的列 min_age 类型为 string，无法转换为 INTEGER"):
        Edition.open(copy)
