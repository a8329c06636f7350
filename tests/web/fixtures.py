"""A small audited workspace for the web tests: a dataset built with the contract factories, audited by
the real engine (`run_audit`) with the default knowledge edition. Three institutions in two regions,
violations of a sex-restricted item (女性 only, billed to men) and of a price ceiling, over several months.
"""

from __future__ import annotations

from pathlib import Path

from fundguard.contract.factories import build_tables, write_dataset

FEMALE_ONLY = "002101030300000"  # 子宫造影 (kb_item_gender: 女)
REGISTRATION = "001101000010000"  # 挂号费, ceiling 1.00
INSTITUTIONS = [
    ("H0001", "第一人民医院", "110101", "1"),
    ("H0002", "第二人民医院", "110102", "2"),
    ("H0003", "浦东社区卫生服务中心", "310101", "3"),
]


def dataset_rows(persons: int = 60) -> dict[str, list[dict]]:
    given: dict[str, list[dict]] = {"fixmedins": [], "psn": [], "mdtrt": [], "feedetl": [], "diag": []}
    for code, name, admdvs, lv in INSTITUTIONS:
        given["fixmedins"].append({"fixmedins_code": code, "fixmedins_name": name, "admdvs": admdvs, "medins_lv": lv})
    sn = 0
    for i in range(persons):
        psn = f"P{i:010d}"
        given["psn"].append({"psn_no": psn, "gend": "1" if i % 2 == 0 else "2", "brdy": "1980-05-01"})
        org = INSTITUTIONS[i % 3][0]
        month = 1 + i % 6
        mdtrt = f"M{i:06d}"
        when = f"2025-{month:02d}-{1 + i % 27:02d} 09:{i % 60:02d}:00"
        given["mdtrt"].append({"mdtrt_id": mdtrt, "psn_no": psn, "fixmedins_code": org, "med_type": "11",
                               "begntime": when, "endtime": when, "dept_code": f"D{i % 4}", "atddr_no": f"DR{i % 5}"})
        given["diag"].append({"mdtrt_id": mdtrt, "diag_srt_no": 1, "maindiag_flag": True, "diag_code": "J06.900",
                              "diag_name": "急性上呼吸道感染"})
        sn += 1
        given["feedetl"].append({"feedetl_sn": f"F{sn:07d}", "mdtrt_id": mdtrt, "psn_no": psn, "fixmedins_code": org,
                                 "fee_ocur_time": when, "hilist_code": FEMALE_ONLY, "med_chrgitm_type": "03",
                                 "cnt": 1, "pric": 100 + i, "bilg_dept_codg": f"D{i % 4}", "bilg_dr_codg": f"DR{i % 5}"})
        sn += 1
        given["feedetl"].append({"feedetl_sn": f"F{sn:07d}", "mdtrt_id": mdtrt, "psn_no": psn, "fixmedins_code": org,
                                 "fee_ocur_time": when, "hilist_code": REGISTRATION, "med_chrgitm_type": "13",
                                 "cnt": 1, "pric": 1 if i % 3 else 6, "bilg_dept_codg": f"D{i % 4}",
                                 "bilg_dr_codg": f"DR{i % 5}"})
    return build_tables(given)


def make_workspace(root: Path, persons: int = 60) -> Path:
    """`root/dataset` (the contract tables) and `root/ws/audit` (flags.parquet, run.json); returns `root/ws`."""
    from fundguard.engine import run_audit

    dataset = write_dataset(dataset_rows(persons), root / "dataset")
    ws = root / "ws"
    run_audit(dataset, ws / "audit")
    return ws
