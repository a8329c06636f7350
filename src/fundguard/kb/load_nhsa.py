"""Loaders that turn the national 两库 batch files (`kb/nhsa/`) into kb table rows, with no row copied by hand.

Batches 1–8 are CSV sheets, batches 9–17 and the January 2026 revision of batches 1–6 are JSON knowledge
points. The revision supersedes the batch 1–6 point of the same rule class and generic drug name: its
code list and text replace the old ones. Whatever a loader cannot turn into numbers (free text, rows
that find no partner, conflicting values) goes to the unparsed report, never into a guessed row.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fundguard.kb import parse
from fundguard.kb.indications import map_indication

NHSA_DIR = Path(__file__).parent / "nhsa"

UPDATE_FILE = "json/updates_2026-01.json"
INDICATION_BATCHES = range(12, 18)
POINT_BATCHES = range(9, 18)


@dataclass(frozen=True)
class Unparsed:
    """One piece of national knowledge the loader could not turn into kb rows (or turned with a caveat)."""

    source: str
    row: str
    code: str
    item_name: str
    field: str
    text: str
    reason: str


REPORT_COLUMNS = [f for f in Unparsed.__dataclass_fields__]


@dataclass
class NationalKnowledge:
    """Rows per kb table loaded from the national files, the unparsed report and the files read."""

    tables: dict[str, list[dict]] = field(default_factory=dict)
    unparsed: list[Unparsed] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def add(self, table: str, row: dict) -> None:
        self.tables.setdefault(table, []).append(row)

    def report(self, *args: object, **kwargs: object) -> None:
        self.unparsed.append(Unparsed(*(str(a) for a in args), **{k: str(v) for k, v in kwargs.items()}))


def _read_csv(root: Path, name: str, out: NationalKnowledge) -> list[dict[str, str]]:
    out.sources.append(name)
    with open(root / name, encoding="utf-8-sig", newline="") as handle:
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(handle)]


def _read_json(root: Path, name: str, out: NationalKnowledge) -> object:
    out.sources.append(name)
    with open(root / name, encoding="utf-8") as handle:
        return json.load(handle)


def _src(name: str) -> str:
    return f"nhsa:{Path(name).name}"


# ---- batches 1, 3, 4, 5, 6: drug points (a generic drug with its limit) and their code lists --------


@dataclass
class DrugPoint:
    point_id: str
    rule_class: str
    gz_code: str | None
    item_name: str
    text: str
    values: dict | None  # kb columns parsed from the published limit, None when unparsed
    codes: list[str]
    batch: str
    source: str
    published_at: str | None = None
    supersedes: str | None = None
    superseded_by: str | None = None


@dataclass(frozen=True)
class DrugBatch:
    stem: str
    code_col: str
    value_col: str
    table: str
    batch: str
    rule_classes: tuple[str, ...]
    # (published value, description) → kb columns, or None when it cannot be parsed
    parse_batch: Callable[[str, str], dict | None]
    # (update rule class, update text, superseded point's values or None) → kb columns or None
    parse_update: Callable[[str, str, dict | None], dict | None]
    rule_class_of: Callable[[str], str]


GZ_BY_CLASS = {
    "药品区分性别使用": "GZ10000301004000",
    "药品儿童专用": "GZ10000301002000",
    "药品限儿童使用": "GZ10000101007000",
    "药品限工伤保险": "GZ10000101001000",
    "药品限生育保险": "GZ10000101002000",
    "药品限就医方式": None,
    "药品限医疗机构级别": "GZ10000101012000",
    "药品限支付疗程": "GZ10000101010000",
}
INSUTYPE_BY_CLASS = {"药品限工伤保险": "410", "药品限生育保险": "510"}
INSUTYPE_BY_VALUE = {"工伤": "410", "生育": "510"}


def _gender_batch(value: str, _text: str) -> dict | None:
    code = parse.SEX_CODES.get(value)
    return {"gend": code} if code else None


def _gender_update(_cls: str, text: str, old: dict | None) -> dict | None:
    if old:
        return old
    code = parse.sex_from_text(text)
    return {"gend": code} if code else None


def _age_values(band: tuple[int | None, int | None] | None) -> dict | None:
    return None if band is None else {"min_age": band[0], "max_age": band[1]}


def _age_batch(value: str, _text: str) -> dict | None:
    return _age_values(parse.target_age_band(value))


def _age_update(cls: str, text: str, old: dict | None) -> dict | None:
    if cls == "药品限儿童使用":
        # The revision states the band in its text (`限3-12岁…`); it replaces the bare 儿童 of batch 1.
        return _age_values(parse.child_age_band(text)) or old
    return old or _age_values(parse.target_age_band("儿童"))


def _insutype_batch(value: str, _text: str) -> dict | None:
    code = INSUTYPE_BY_VALUE.get(value)
    return {"insutype": code} if code else None


def _insutype_update(cls: str, _text: str, _old: dict | None) -> dict | None:
    return {"insutype": INSUTYPE_BY_CLASS[cls]}


def _setting_batch(value: str, text: str) -> dict | None:
    setting = parse.setting_from_text(value, text)
    return {"setting": setting} if setting else None


def _setting_update(_cls: str, text: str, old: dict | None) -> dict | None:
    setting = parse.setting_from_text("", text)
    return {"setting": setting} if setting else old


def _medins_batch(value: str, _text: str) -> dict | None:
    level = parse.medins_level(value)
    return {"max_medins_lv": level} if level else None


def _medins_update(_cls: str, text: str, old: dict | None) -> dict | None:
    level = parse.medins_level(text)
    return {"max_medins_lv": level} if level else old


def _course_batch(value: str, _text: str) -> dict | None:
    days = parse.duration_days(value)
    return {"max_days": days, "min_interval_days": None} if days else None


def _course_update(_cls: str, text: str, old: dict | None) -> dict | None:
    found = set(parse.max_days(text))
    if len(found) == 1:
        return {"max_days": found.pop(), "min_interval_days": None}
    return old


DRUG_BATCHES = [
    DrugBatch("batch1_drug_gender", "药品代码", "限定对象", "kb_item_gender", "1",
              ("药品区分性别使用",), _gender_batch, _gender_update, lambda _v: "药品区分性别使用"),
    DrugBatch("batch1_drug_age", "国标代码", "限定对象", "kb_item_age", "1",
              ("药品儿童专用", "药品限儿童使用"), _age_batch, _age_update, lambda _v: "药品儿童专用"),
    DrugBatch("batch3_drug_insutype", "国标代码", "限定对象", "kb_item_insutype", "3",
              ("药品限工伤保险", "药品限生育保险"), _insutype_batch, _insutype_update,
              lambda v: "药品限生育保险" if v == "生育" else "药品限工伤保险"),
    DrugBatch("batch4_drug_setting", "国标代码", "限定值域", "kb_item_setting", "4",
              ("药品限就医方式",), _setting_batch, _setting_update, lambda _v: "药品限就医方式"),
    DrugBatch("batch5_drug_medins_lv", "国标代码", "限定值域", "kb_item_medins_lv", "5",
              ("药品限医疗机构级别",), _medins_batch, _medins_update, lambda _v: "药品限医疗机构级别"),
    DrugBatch("batch6_drug_course", "国标代码", "限定值域", "kb_item_course", "6",
              ("药品限支付疗程",), _course_batch, _course_update, lambda _v: "药品限支付疗程"),
]


def _point_id(batch: str, rule_class: str, name: str) -> str:
    digest = hashlib.sha1(f"{batch}|{rule_class}|{name}".encode()).hexdigest()[:16]
    return f"NHSA-B{batch}-{digest}"


def _load_drug_batch(root: Path, spec: DrugBatch, out: NationalKnowledge) -> dict[str, DrugPoint]:
    rules_file, codes_file = f"{spec.stem}_rules.csv", f"{spec.stem}_codes.csv"
    rules = _read_csv(root, rules_file, out)
    codes = _read_csv(root, codes_file, out)
    by_name: dict[str, list[str]] = {}
    for row in codes:
        by_name.setdefault(row["药品通用名"], []).append(row[spec.code_col])
    points: dict[str, DrugPoint] = {}
    for number, row in enumerate(rules, start=1):
        name, text, value = row["药品通用名"], row.get("药品说明", ""), row[spec.value_col]
        values = spec.parse_batch(value, text)
        if values is None:
            out.report(_src(rules_file), number, "", name, spec.value_col, value, "限定值无法解析")
        if spec.table == "kb_item_course" and values:
            stated = set(parse.max_days(text))
            if stated and stated != {values["max_days"]}:
                out.report(_src(rules_file), number, "", name, "药品说明", text,
                           f"说明与限定值域天数不一致，采用限定值域：说明{sorted(stated)}天，值域{value}")
        rule_class = spec.rule_class_of(value)
        if name in points:
            out.report(_src(rules_file), number, "", name, "药品通用名", name, "规则行重复，保留第一行")
            continue
        if name not in by_name:
            out.report(_src(rules_file), number, "", name, "药品通用名", name, "规则行在代码表中没有代码")
        points[name] = DrugPoint(
            point_id=_point_id(spec.batch, rule_class, name), rule_class=rule_class,
            gz_code=GZ_BY_CLASS.get(rule_class), item_name=name, text=text, values=values,
            codes=by_name.get(name, []), batch=spec.batch, source=_src(codes_file),
        )
    for number, row in enumerate(codes, start=1):
        if row["药品通用名"] not in points:
            out.report(_src(codes_file), number, row[spec.code_col], row["药品通用名"], "药品通用名",
                       row["药品通用名"], "代码行找不到同名规则行")
    return points


def _apply_update(spec: DrugBatch, points: dict[str, DrugPoint], updates: list[dict],
                  out: NationalKnowledge) -> list[DrugPoint]:
    """Replace the points the 2026 revision names; return the revision's points for this batch."""
    revised = []
    for number, item in enumerate(updates, start=1):
        if item["rule_class"] not in spec.rule_classes:
            continue
        name, text = item["item_name"], item.get("constraint") or ""
        old = points.get(name)
        if old is not None and old.superseded_by is None:
            old.superseded_by = item["kp_id"]
        values = spec.parse_update(item["rule_class"], text, old.values if old else None)
        if values is None:
            out.report(_src(UPDATE_FILE), number, item.get("med_code") or "", name, "constraint", text,
                       "修订知识点的限定值无法从文字解析" + ("" if old else "（批次中无同名药品）"))
        revised.append(DrugPoint(
            point_id=item["kp_id"], rule_class=item["rule_class"], gz_code=item.get("gz_code"),
            item_name=name, text=text, values=values, codes=list(item.get("med_codes") or []),
            batch="updates_2026-01", source=_src(UPDATE_FILE), published_at=item.get("published_at"),
            supersedes=item.get("supersedes"),
        ))
    return revised


def _emit_drug_rows(spec: DrugBatch, effective: list[DrugPoint], out: NationalKnowledge) -> None:
    seen: dict[str, dict] = {}
    for point in effective:
        if point.values is None:
            continue
        for code in point.codes:
            row = {"hilist_code": code, **point.values, "item_name": point.item_name,
                   "note": point.text, "source": point.source}
            previous = seen.get(code)
            if previous is None:
                seen[code] = row
                out.add(spec.table, row)
            elif any(previous[k] != row[k] for k in point.values):
                out.report(point.source, "", code, point.item_name, "hilist_code", code,
                           f"同一代码在多个知识点中限定值不同（已采用：{previous['item_name']}）")


def _point_rows(point: DrugPoint, out: NationalKnowledge) -> None:
    for code in point.codes:
        out.add("kb_knowledge_point", {
            "point_id": point.point_id, "hilist_code": code, "gz_code": point.gz_code,
            "rule_class": point.rule_class, "item_name": point.item_name, "constraint_text": point.text,
            "detect_logic": None, "batch": point.batch, "published_at": point.published_at,
            "supersedes": point.supersedes, "superseded_by": point.superseded_by,
            "is_superseded": point.superseded_by is not None, "source": point.source,
        })


def load_drug_batches(root: Path, out: NationalKnowledge) -> None:
    updates = _read_json(root, UPDATE_FILE, out)
    for spec in DRUG_BATCHES:
        points = _load_drug_batch(root, spec, out)
        revised = _apply_update(spec, points, updates, out)
        effective = revised + [p for p in points.values() if p.superseded_by is None]
        _emit_drug_rows(spec, effective, out)
        for point in list(points.values()) + revised:
            _point_rows(point, out)


# ---- batches 1, 2, 7, 8: medical service items ----------------------------------------------------


BUNDLE_SCOPES = {"单日": "day", "单次就诊": "mdtrt", "6小时": "6h", "同一小时": "hour"}


def load_items(root: Path, out: NationalKnowledge) -> None:
    name = "batch1_item_gender.csv"
    for number, row in enumerate(_read_csv(root, name, out), start=1):
        code = parse.SEX_CODES.get(row["限定性别"])
        if code is None:
            out.report(_src(name), number, row["国标代码"], row["项目名称"], "限定性别", row["限定性别"], "性别无法解析")
            continue
        out.add("kb_item_gender", {"hilist_code": row["国标代码"], "gend": code, "item_name": row["项目名称"],
                                   "note": row.get("项目说明"), "source": _src(name)})

    name = "batch1_item_age.csv"
    for number, row in enumerate(_read_csv(root, name, out), start=1):
        band = parse.target_age_band(row["限定对象"])
        if band is None:
            out.report(_src(name), number, row["国标代码"], row["项目名称"], "限定对象", row["限定对象"], "年龄对象无法解析")
            continue
        out.add("kb_item_age", {"hilist_code": row["国标代码"], "min_age": band[0], "max_age": band[1],
                                "item_name": row["项目名称"], "note": row["限定对象"], "source": _src(name)})

    name = "batch8_item_age.csv"
    for number, row in enumerate(_read_csv(root, name, out), start=1):
        band = parse.target_age_band(row["备注"])
        if band is None:
            out.report(_src(name), number, row["项目代码"], row["项目名称"], "备注", row["备注"], "年龄限制无法解析")
            continue
        out.add("kb_item_age", {"hilist_code": row["项目代码"], "min_age": band[0], "max_age": band[1],
                                "item_name": row["项目名称"], "note": row["备注"], "source": _src(name)})

    name = "batch2_item_primary_secondary.csv"
    for number, row in enumerate(_read_csv(root, name, out), start=1):
        if not row["国标代码"] or not row["限定值域"]:
            out.report(_src(name), number, row["国标代码"], row["项目名称"], "限定值域", row["限定值域"], "缺少代码或分组")
            continue
        out.add("kb_oprn_group", {"hilist_code": row["国标代码"], "group_name": row["限定值域"],
                                  "item_name": row["项目名称"], "source": _src(name)})

    name = "batch7_item_duplicate.csv"
    for number, row in enumerate(_read_csv(root, name, out), start=1):
        scope = BUNDLE_SCOPES.get(row["频度"])
        if scope is None or not row["主项编码"] or not row["从项编码"]:
            out.report(_src(name), number, row["主项编码"], row["主项名称"], "频度", row["频度"], "频度或代码无法解析")
            continue
        out.add("kb_bundle", {"bundle_code": row["主项编码"], "part_code": row["从项编码"], "scope": scope,
                              "bundle_name": row["主项名称"], "part_name": row["从项名称"],
                              "note": row.get("备注"), "source": _src(name)})

    name = "batch8_item_frequency.csv"
    for number, row in enumerate(_read_csv(root, name, out), start=1):
        code, unit, count = row["项目编码"], row["数量单位"], row["限制数量"]
        if not code:
            out.report(_src(name), number, "", row["序号"], "序号", row["序号"] or row["项目名称"],
                       "非数据行（合计/说明），未载入")
            continue
        if unit in {"日", "天"} and count.isdigit():
            note = f"每日不超过{count}次"
        elif unit == "小时" and count.isdigit():
            # Billed by the hour: the published limit is a quantity of hours within one day.
            note = f"按小时计价，每日不超过{count}小时"
        else:
            out.report(_src(name), number, code, row["项目名称"], "数量单位", f"{count}{unit}", "限制数量或单位无法解析")
            continue
        out.add("kb_item_limit", {"hilist_code": code, "max_cnt": int(count), "per": "day",
                                  "item_name": row["项目名称"], "note": note, "source": _src(name)})

    cycles: dict[str, dict] = {}
    name = "batch8_item_cycle.csv"
    for number, row in enumerate(_read_csv(root, name, out), start=1):
        if not (row["频次上限"].isdigit() and row["疗程周期"].isdigit()):
            out.report(_src(name), number, row["项目代码"], row["项目名称"], "频次上限", row["频次上限"], "频次或周期无法解析")
            continue
        cycles[row["项目代码"]] = {"hilist_code": row["项目代码"], "max_cnt": int(row["频次上限"]),
                                  "cycle_days": int(row["疗程周期"]), "item_name": row["项目名称"],
                                  "note": row.get("备注"), "source": _src(name)}

    name = "batch8_item_course.csv"
    for number, row in enumerate(_read_csv(root, name, out), start=1):
        code, text = row["项目代码"], row["备注"]
        days = set(parse.max_days(text))
        interval = parse.min_interval_days(text)
        weekly = parse.per_period_limit(text)
        if len(days) != 1:
            out.report(_src(name), number, code, row["项目名称"], "备注", text, "支付天数无法解析")
            continue
        out.add("kb_item_course", {"hilist_code": code, "max_days": days.pop(), "min_interval_days": interval,
                                   "item_name": row["项目名称"], "note": text, "source": _src(name)})
        if weekly:
            cycle = {"hilist_code": code, "max_cnt": weekly[0], "cycle_days": weekly[1],
                     "item_name": row["项目名称"], "note": text, "source": _src(name)}
            known = cycles.get(code)
            if known and (known["max_cnt"], known["cycle_days"]) != weekly:
                out.report(_src(name), number, code, row["项目名称"], "备注", text,
                           "文字所述频次与周期表不一致，采用周期表")
            cycles.setdefault(code, cycle)
    for row in cycles.values():
        out.add("kb_item_cycle", row)


# ---- batches 9–17: knowledge points; 12–17 also as indications ------------------------------------


def load_points(root: Path, out: NationalKnowledge) -> None:
    for batch in POINT_BATCHES:
        name = f"json/batch_{batch:02d}.json"
        for number, item in enumerate(_read_json(root, name, out), start=1):
            codes = list(item.get("med_codes") or [])
            text = item.get("constraint") or ""
            for code in codes:
                out.add("kb_knowledge_point", {
                    "point_id": item["kp_id"], "hilist_code": code, "gz_code": item.get("gz_code"),
                    "rule_class": item.get("rule_class"), "item_name": item.get("item_name"),
                    "constraint_text": text, "detect_logic": item.get("detect_logic"), "batch": str(batch),
                    "published_at": item.get("published_at"), "supersedes": item.get("supersedes"),
                    "superseded_by": None, "is_superseded": False, "source": _src(name),
                })
            if not codes:
                out.report(_src(name), number, "", item.get("item_name", ""), "med_codes", "", "知识点没有代码")
            if batch not in INDICATION_BATCHES:
                continue
            prefixes, reason = map_indication(text)
            if reason:
                out.report(_src(name), number, item.get("med_code") or "", item.get("item_name", ""),
                           "constraint", text, f"适应症未映射到诊断编码：{reason}")
                continue
            for code in codes:
                for prefix in prefixes:
                    out.add("kb_item_indication", {"hilist_code": code, "diag_prefix": prefix,
                                                   "item_name": item.get("item_name"), "note": text,
                                                   "source": _src(name)})


# ---- national rule framework ----------------------------------------------------------------------


def load_national_rules(root: Path, out: NationalKnowledge) -> None:
    framework_file, catalog_file = "json/rules_framework_1.0.json", "json/rules_catalog_2025.json"
    framework = _read_json(root, framework_file, out)
    catalog = _read_json(root, catalog_file, out)
    seq_by_code = {r["gz_code_1_0"]: r["seq"] for r in catalog["rules"] if r.get("gz_code_1_0")}
    for rule in framework["rules_flat"]:
        code = rule["official_code"]
        out.add("kb_national_rule", {
            "gz_code": code, "tier1": rule.get("tier1"), "tier2": rule.get("tier2"), "tier3": rule.get("tier3"),
            "rule_name": rule["name"], "definition": rule.get("definition"), "framework": "1.0",
            "seq_2025": seq_by_code.get(code), "in_2025": code in seq_by_code, "source": _src(framework_file),
        })
    for rule in catalog["rules"]:
        if rule.get("gz_code_1_0"):
            continue
        # Classes new in 2025 have no official code yet; FundGuard names them by their 2025 number.
        out.add("kb_national_rule", {
            "gz_code": f"2025-{rule['seq']:02d}", "tier1": rule.get("tier1"), "tier2": rule.get("tier2"),
            "tier3": None, "rule_name": rule["name"], "definition": None, "framework": "2025",
            "seq_2025": rule["seq"], "in_2025": True, "source": _src(catalog_file),
        })


# ---- catalog names ---------------------------------------------------------------------------------


def _hilist_type(code: str) -> tuple[str, str | None]:
    if code[:1] == "X":
        return "101", "09"
    if code[:1] == "Z":
        return "101", "11"
    if code[:1] == "T":
        return "102", "10"
    return "201", None


def derive_hilist(out: NationalKnowledge) -> None:
    """Catalog rows (code, name, type) for every national code the batches name; no prices."""
    names: dict[str, tuple[str, str]] = {}
    not_covered = set()

    def note(code: str | None, name: str | None, source: str) -> None:
        if code and name and code not in names:
            names[code] = (name, source)

    for table, code_col, name_col in [
        ("kb_item_gender", "hilist_code", "item_name"), ("kb_item_age", "hilist_code", "item_name"),
        ("kb_item_insutype", "hilist_code", "item_name"), ("kb_item_setting", "hilist_code", "item_name"),
        ("kb_item_medins_lv", "hilist_code", "item_name"), ("kb_item_course", "hilist_code", "item_name"),
        ("kb_item_limit", "hilist_code", "item_name"), ("kb_item_cycle", "hilist_code", "item_name"),
        ("kb_oprn_group", "hilist_code", "item_name"), ("kb_bundle", "bundle_code", "bundle_name"),
        ("kb_bundle", "part_code", "part_name"), ("kb_knowledge_point", "hilist_code", "item_name"),
    ]:
        for row in out.tables.get(table, []):
            note(row[code_col], row[name_col], row["source"])
    for row in out.tables.get("kb_knowledge_point", []):
        if row["gz_code"] == "GZ10000101003000":  # 中药饮片单复方均不予支付
            not_covered.add(row["hilist_code"])
    for code in sorted(names):
        name, source = names[code]
        list_type, chrgitm = _hilist_type(code)
        out.add("kb_hilist", {"hilist_code": code, "hilist_name": name, "list_type": list_type,
                              "med_chrgitm_type": chrgitm, "chrgitm_lv": None, "pric_uplmt_amt": None,
                              "covered": code not in not_covered, "source": source})


def load_national(root: Path = NHSA_DIR) -> NationalKnowledge:
    """Load every national file under `root` into kb rows plus the unparsed report.

    Ages use `parse.CHILD_MAX_AGE` (儿童 = up to 17 inclusive) and `parse.WORKING_AGE` (16–60)."""
    out = NationalKnowledge()
    load_drug_batches(root, out)
    load_items(root, out)
    load_points(root, out)
    load_national_rules(root, out)
    derive_hilist(out)
    out.sources = sorted(set(out.sources))
    return out


def report_rows(unparsed: list[Unparsed]) -> list[dict]:
    return [asdict(item) for item in unparsed]
