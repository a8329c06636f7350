"""A one-request dataset in memory and the Python twins of the curated views (engine/views.py).

`Frame.build(tables, kb)` takes rows of the contract tables (typed: Decimal, datetime, date, bool),
nets refunds exactly as `fee_net`, and gives every line the context of `fee_lines` and every encounter
that of `mdtrt_ctx`. `focus` names the encounters whose findings are reported (the request's current
encounter); history rows give context only. With no focus, every encounter is reported (rule examples).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from fundguard.realtime.kinds._common import round_amt
from fundguard.realtime.knowledge import Knowledge

INPATIENT_MED_TYPES = frozenset({"21", "52"})
ZERO = Decimal(0)


def age_years(birth: dt.date | None, at: dt.date | None) -> int | None:
    """Whole years by birthday arithmetic; 29 Feb turns over on 1 Mar in other years."""
    if birth is None or at is None:
        return None
    return at.year - birth.year - (1 if (at.month, at.day) < (birth.month, birth.day) else 0)


def days_between(d1: dt.datetime | dt.date, d2: dt.datetime | dt.date) -> int:
    a = d1.date() if isinstance(d1, dt.datetime) else d1
    b = d2.date() if isinstance(d2, dt.datetime) else d2
    return (b - a).days


@dataclass
class Frame:
    psn: dict[str, dict]
    fixmedins: dict[str, dict]
    practitioner: dict[str, dict]
    mdtrt: dict[str, dict]  # mdtrt_ctx rows
    diag_by_mdtrt: dict[str, list[dict]]
    oprn_by_mdtrt: dict[str, list[dict]]
    lines: list[dict]  # fee_lines rows (refund-netted, with context), in (fee_ocur_time, feedetl_sn) order
    lines_by_mdtrt: dict[str, list[dict]]
    line_by_sn: dict[str, dict]
    orders: list[dict] = field(default_factory=list)
    focus: frozenset[str] | None = None
    #: feedetl_sn → rx_id for lines that come from the request's orders
    rx_by_sn: dict[str, str] = field(default_factory=dict)
    #: `drug_trac` rows (traceability codes scanned per fee line), as given
    drug_trac: list[dict] = field(default_factory=list)
    #: other active sales of the request's traceability codes from the history store (any person):
    #: `drug_trac_codg`, `feedetl_sn` (history-prefixed), `fee_ocur_time`, `mdtrt_id`; C06 ranks them too
    trace_sales: list[dict] = field(default_factory=list)
    #: the contract rows the frame was built from (request and history), for rules run by their SQL
    tables: dict[str, list[dict]] = field(default_factory=dict)

    def in_focus(self, mdtrt_id: str | None) -> bool:
        return self.focus is None or mdtrt_id in self.focus

    @property
    def focus_lines(self) -> list[dict]:
        if self.focus is None:
            return self.lines
        cached = self.__dict__.get("_focus_lines")
        if cached is None:
            cached = [line for m in sorted(self.focus) for line in self.lines_by_mdtrt.get(m, ())]
            self.__dict__["_focus_lines"] = cached
        return cached

    @property
    def focus_mdtrts(self) -> list[dict]:
        if self.focus is None:
            return [self.mdtrt[k] for k in sorted(self.mdtrt)]
        return [self.mdtrt[k] for k in sorted(self.focus) if k in self.mdtrt]

    @classmethod
    def build(
        cls,
        tables: dict[str, list[dict]],
        kb: Knowledge,
        *,
        orders: list[dict] | None = None,
        focus: frozenset[str] | None = None,
        rx_by_sn: dict[str, str] | None = None,
        trace_sales: list[dict] | None = None,
    ) -> Frame:
        psn = {r["psn_no"]: r for r in tables.get("psn") or ()}
        org = {r["fixmedins_code"]: r for r in tables.get("fixmedins") or ()}
        prac = {r["prac_psn_code"]: r for r in tables.get("practitioner") or ()}
        mdtrt: dict[str, dict] = {}
        for m in tables.get("mdtrt") or ():
            p = psn.get(m["psn_no"])
            o = org.get(m["fixmedins_code"])
            if p is None or o is None:
                continue
            ctx = dict(m)
            ctx["begn_date"] = m["begntime"].date()
            ctx["end_date"] = m["endtime"].date()
            ctx["age_at_begn"] = age_years(p["brdy"], ctx["begn_date"])
            ctx["is_inpatient"] = m["med_type"] in INPATIENT_MED_TYPES
            ctx["stay_days"] = max(days_between(m["begntime"], m["endtime"]), 1)
            ctx["gend"], ctx["brdy"], ctx["psn_insutype"], ctx["death_date"] = p["gend"], p["brdy"], p["insutype"], p.get("death_date")
            ctx["medins_lv"], ctx["fixmedins_type"], ctx["org_admdvs"] = o["medins_lv"], o["fixmedins_type"], o["admdvs"]
            mdtrt[m["mdtrt_id"]] = ctx
        diag_by: dict[str, list[dict]] = defaultdict(list)
        for d in tables.get("diag") or ():
            diag_by[d["mdtrt_id"]].append(d)
        for rows in diag_by.values():
            rows.sort(key=lambda d: d["diag_srt_no"])
        oprn_by: dict[str, list[dict]] = defaultdict(list)
        for o in tables.get("oprn") or ():
            oprn_by[o["mdtrt_id"]].append(o)

        lines = []
        for f in net_refunds(tables.get("feedetl") or ()):
            m = mdtrt.get(f["mdtrt_id"])
            p = psn.get(f["psn_no"])
            o = org.get(f["fixmedins_code"])
            if m is None or p is None or o is None:
                continue
            f["med_type"], f["setl_id"], f["begntime"], f["endtime"] = m["med_type"], m["setl_id"], m["begntime"], m["endtime"]
            f["hifp_pay"], f["dscg_way"] = m["hifp_pay"], m.get("dscg_way")
            f["gend"], f["brdy"], f["insutype"], f["death_date"] = p["gend"], p["brdy"], p["insutype"], p.get("death_date")
            f["age_at_fee"] = age_years(p["brdy"], f["fee_date"])
            f["medins_lv"], f["fixmedins_type"], f["org_admdvs"] = o["medins_lv"], o["fixmedins_type"], o["admdvs"]
            d = prac.get(f["bilg_dr_codg"])
            f["dr_profttl"] = d["profttl"] if d else None
            h = kb.hilist.get(f["hilist_code"])
            f["item_name"] = h["hilist_name"] if h and h.get("hilist_name") is not None else f["hilist_code"]
            lines.append(f)
        lines.sort(key=lambda f: (f["fee_ocur_time"], f["feedetl_sn"]))
        by_mdtrt: dict[str, list[dict]] = defaultdict(list)
        for f in lines:
            by_mdtrt[f["mdtrt_id"]].append(f)
        return cls(
            psn=psn,
            fixmedins=org,
            practitioner=prac,
            mdtrt=mdtrt,
            diag_by_mdtrt=dict(diag_by),
            oprn_by_mdtrt=dict(oprn_by),
            lines=lines,
            lines_by_mdtrt=dict(by_mdtrt),
            line_by_sn={f["feedetl_sn"]: f for f in lines},
            orders=list(orders or ()),
            focus=focus,
            rx_by_sn=dict(rx_by_sn or {}),
            drug_trac=list(tables.get("drug_trac") or ()),
            trace_sales=list(trace_sales or ()),
            tables=dict(tables),
        )


def net_refunds(feedetl) -> list[dict]:
    """`fee_net`: refund lines netted against their original (the named line; else the latest earlier line
    of the same encounter, item and price that still has units left, then the next earlier: a stack, as
    `fee_netting`); refund lines and fully refunded lines are left out."""
    originals = [f for f in feedetl if not f["refd_flag"]]
    refunds = [f for f in feedetl if f["refd_flag"]]
    net_cnt: dict[str, Decimal] = defaultdict(Decimal)
    net_amt: dict[str, Decimal] = defaultdict(Decimal)
    unnamed = [r for r in refunds if r.get("orig_feedetl_sn") is None]
    for r in refunds:
        if r.get("orig_feedetl_sn") is not None:
            net_cnt[r["orig_feedetl_sn"]] += r["cnt"]
            net_amt[r["orig_feedetl_sn"]] += r["det_item_fee_sumamt"]
    if unnamed:
        groups: dict[tuple, list[tuple]] = defaultdict(list)
        wanted = {(r["mdtrt_id"], r["hilist_code"], r["pric"]) for r in unnamed}
        for o in originals:
            key = (o["mdtrt_id"], o["hilist_code"], o["pric"])
            if key in wanted:
                groups[key].append((o["fee_ocur_time"], o["feedetl_sn"], max(o["cnt"] + net_cnt.get(o["feedetl_sn"], ZERO), ZERO), True))
        for r in unnamed:
            groups[(r["mdtrt_id"], r["hilist_code"], r["pric"])].append((r["fee_ocur_time"], r["feedetl_sn"], min(r["cnt"], ZERO), False))
        for (_, _, pric), items in groups.items():
            stack: list[list] = []  # [feedetl_sn, units left], latest on top
            taken: dict[str, Decimal] = defaultdict(Decimal)
            for _, sn, q, is_orig in sorted(items, key=lambda x: (x[0], x[1])):
                if is_orig:
                    stack.append([sn, q])
                    continue
                need = -q
                while need > 0 and stack:
                    take = min(stack[-1][1], need)
                    taken[stack[-1][0]] += take
                    stack[-1][1] -= take
                    need -= take
                    if stack[-1][1] <= 0:
                        stack.pop()
            for sn, units in taken.items():
                if units > 0:
                    net_cnt[sn] -= units
                    net_amt[sn] -= round_amt(units * pric)
    out = []
    for o in originals:
        sn = o["feedetl_sn"]
        cnt = o["cnt"] + net_cnt.get(sn, ZERO)
        if cnt <= 0:
            continue
        line = dict(o)
        line["net_cnt"] = cnt
        line["net_amt"] = o["det_item_fee_sumamt"] + net_amt.get(sn, ZERO)
        line["fee_date"] = o["fee_ocur_time"].date()
        out.append(line)
    return out
