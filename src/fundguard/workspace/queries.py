"""What a page or an API call asks of a run, answered once for both doors (scoped to the caller)."""

from __future__ import annotations

from typing import Any

from fundguard.workspace.flagindex import FlagFilter
from fundguard.workspace.runs import SEVERITY_LABELS, Run, Workspace
from fundguard.workspace.services import Principal, mask_flag


def _label(rows: list[dict], labels: dict) -> list[dict]:
    for r in rows:
        r["label"] = labels.get(r["key"], "") if labels else None
    return rows


def run_overview(ws: Workspace, run: Run, who: Principal) -> dict[str, Any]:
    scope = who.scope
    ix = run.index
    totals = ix.totals(scope)
    info = run.summary()
    persons = None
    if scope.is_all:
        persons = int(ix.meta.get("persons", 0))
    elif scope.fixmedins_code is not None:
        persons = ix._q("SELECT count(DISTINCT psn_no) FROM flag WHERE fixmedins_code = ?", [scope.fixmedins_code])[0][0]
    return {
        "run_id": run.run_id, "started": info["started"], "finished": info["finished"], "engine": info["engine"],
        "kb_content_hash": info["kb_content_hash"], "flags": totals["flags"], "vola_amt": totals["vola_amt"],
        "institutions": totals["institutions"], "rules_triggered": totals["rules"], "persons": persons,
        "dataset_rows": info["dataset_rows"] if scope.is_all else {},
        "rules": run.info.get("rules", []) if scope.is_all else [],
        # what the run says about its own inputs (sample-only knowledge, lines a rule could not judge, an
        # extract without diagnoses): the bureau reads it before the flags; an institution's scope does not
        "warnings": [str(w) for w in run.info.get("warnings") or []] if scope.is_all else [],
        "has_dataset": ix.meta.get("has_dataset") == "1",
    }


def run_summary(ws: Workspace, run: Run, who: Principal, flt: FlagFilter | None = None) -> dict[str, Any]:
    scope = who.scope
    ix = run.index
    rule_names = {r.id: r.name for r in ws.registry}
    by_org = ix.breakdown("fixmedins_code", scope, flt, limit=20)
    names = ix.institution_names([r["key"] for r in by_org if r["key"]])
    return {
        "run_id": run.run_id,
        "totals": ix.totals(scope, flt),
        "by_category": _label(ix.breakdown("category", scope, flt), {}),
        "by_severity": _label(ix.breakdown("sev_deg", scope, flt, order="key"), SEVERITY_LABELS),
        "by_rule": _label(ix.breakdown("rule_id", scope, flt), rule_names),
        "by_institution": _label(by_org, names),
        "by_region": _label(ix.breakdown("admdvs", scope, flt, limit=30), {}),
        "by_department": _label(ix.breakdown("dept_code", scope, flt, limit=15), {}),
        "by_doctor": _label(ix.breakdown("dr_code", scope, flt, limit=15), {}),
        "by_month": _label(ix.breakdown("month", scope, flt, order="key"), {}),
    }


def institution_profile(ws: Workspace, run: Run, who: Principal, code: str) -> dict[str, Any] | None:
    scope = who.scope
    if scope.fixmedins_code is not None and scope.fixmedins_code != code:
        return None
    ix = run.index
    org = ix.institution(code)
    flt = FlagFilter(fixmedins_code=code)
    totals = ix.totals(scope, flt)
    if org is None and totals["flags"] == 0:
        return None
    if org is not None and scope.admdvs_prefix and not (org.get("admdvs") or "").startswith(scope.admdvs_prefix):
        return None
    rule_names = {r.id: r.name for r in ws.registry}
    return {
        "institution": org or {"fixmedins_code": code},
        "totals": totals,
        "by_rule": _label(ix.breakdown("rule_id", scope, flt), rule_names),
        "by_severity": _label(ix.breakdown("sev_deg", scope, flt, order="key"), SEVERITY_LABELS),
        "by_month": _label(ix.breakdown("month", scope, flt, order="key"), {}),
        "by_department": _label(ix.breakdown("dept_code", scope, flt, limit=15), {}),
        "by_doctor": _label(ix.breakdown("dr_code", scope, flt, limit=15), {}),
    }


def flag_detail(ws: Workspace, run: Run, who: Principal, flag_id: str) -> dict[str, Any] | None:
    """One flag with its evidence, or None outside the caller's scope. Identifiers are whole only for
    roles that need them (the caller logs the viewing)."""
    flag = run.index.get(flag_id, who.scope)
    if flag is None:
        return None
    flag["knowledge"] = ws.knowledge_for(flag)
    rule = ws.rule_doc(flag["rule_id"])
    if rule is not None:
        rule = {k: rule[k] for k in ("id", "name", "summary", "description", "category", "severity_label",
                                      "legal_basis", "gz_codes", "amount", "params")}
    flag["rule"] = rule
    flag["related"] = related_flags(run, who, flag)
    flag["identifiers_masked"] = not who.sees_identifiers
    if not who.sees_identifiers:
        flag = mask_flag(flag)  # everywhere in it: person, encounters, lines, evidence, message
    return flag


def related_flags(run: Run, who: Principal, flag: dict, *, limit: int = 20) -> dict[str, Any]:
    """The same person's and the same institution's other flags (lists: identifiers masked)."""
    scope = who.scope
    out: dict[str, Any] = {"person": None, "institution": None}
    psn = flag.get("psn_no")
    if psn:
        page = run.index.page(FlagFilter(psn_no=psn), scope, limit=limit)
        out["person"] = {"items": [mask_flag(f) for f in page.items if f["flag_id"] != flag["flag_id"]],
                         "total": page.total - 1}
    if flag.get("fixmedins_code"):
        page = run.index.page(FlagFilter(fixmedins_code=flag["fixmedins_code"]), scope, limit=limit)
        out["institution"] = {"items": [mask_flag(f) for f in page.items if f["flag_id"] != flag["flag_id"]],
                              "total": page.total - 1}
    return out
