"""A bureau's own rule library (`fundguard rules export`, edited) runs unchanged on Spark: the edited
SQL and parameter defaults give the same flags on both engines, and other flags than the built-in rule's."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
import pytest

from fundguard.contract.factories import build_tables, write_dataset
from fundguard.engine import load_registry, run_audit
from fundguard.engine.registry import rule_files, rules_root


def _ceiling_item() -> tuple[str, float]:
    from fundguard.kb import Edition, default_edition_path

    rows = Edition.open(default_edition_path()).tables["kb_hilist"].to_pylist()
    # a ceiling of 2000 yuan or more: 0.5% of it is above the library's tolerance of 5 yuan
    row = next(r for r in rows if r.get("pric_uplmt_amt") and float(r["pric_uplmt_amt"]) >= 2000
               and not r["hilist_code"].endswith("*") and r["hilist_code"].startswith("00"))
    return row["hilist_code"], float(row["pric_uplmt_amt"])


@pytest.fixture
def library(tmp_path):
    root = rules_root()
    lib = tmp_path / "lib"
    for path in rule_files(root, ".yaml", ".sql"):
        (lib / path.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, lib / path.relative_to(root))
    yaml_path, sql_path = next(lib.glob("*/B01_*.yaml")), next(lib.glob("*/B01_*.sql"))
    text = yaml_path.read_text(encoding="utf-8")
    assert "default: 0.005" in text
    yaml_path.write_text(text.replace("default: 0.005", "default: 5", 1), encoding="utf-8")
    sql = sql_path.read_text(encoding="utf-8")
    assert "> $tolerance" in sql
    # a bureau's local reading: the price must be above the ceiling by more than the tolerance AND by 1%
    sql_path.write_text(sql.replace("> $tolerance", "> $tolerance AND l.pric > h.pric_uplmt_amt * 1.01", 1),
                        encoding="utf-8")
    return lib


def test_bureau_library_same_flags_on_both_engines(library, tmp_path):
    code, ceiling = _ceiling_item()
    # F1 over 1% and the tolerance; F2 under the tolerance; F3 over the tolerance, under 1%
    over = {"F1": ceiling * 0.02, "F2": 3.0, "F3": ceiling * 0.005}
    given = {
        "psn": [{"psn_no": "P1", "gend": "1"}],
        "mdtrt": [{"mdtrt_id": "M1", "psn_no": "P1"}],
        "feedetl": [{"feedetl_sn": sn, "mdtrt_id": "M1", "hilist_code": code, "cnt": 1, "pric": round(ceiling + d, 4)}
                    for sn, d in over.items()],
    }
    data = tmp_path / "data"
    write_dataset(build_tables(given), data)
    registry = load_registry(library)
    duck = run_audit(data, tmp_path / "duckdb", rules=["B01"], registry=registry)
    spark_run = run_audit(data, tmp_path / "spark", rules=["B01"], registry=registry, engine="spark")
    builtin = run_audit(data, tmp_path / "builtin", rules=["B01"])

    def lines(out):
        table = pq.read_table(out / "flags.parquet")
        return sorted(sn for sns in table.column("feedetl_sn").to_pylist() for sn in sns)

    assert lines(tmp_path / "duckdb") == ["F1"]
    assert lines(tmp_path / "builtin") == ["F1", "F2", "F3"]
    assert spark_run["run_id"] == duck["run_id"] != builtin["run_id"]
    d, s = pq.read_table(tmp_path / "duckdb" / "flags.parquet"), pq.read_table(tmp_path / "spark" / "flags.parquet")
    assert d.to_pylist() == s.to_pylist()
