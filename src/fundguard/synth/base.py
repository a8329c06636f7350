"""The clean base data, generated a chunk of persons at a time with numpy (no per-row Python).

Each person gets a timeline built so that no rule fires on ordinary care: acute visits and pharmacy
purchases at least 10 days apart (so no drug is bought on 4 days in 30 and supplies never overlap),
chronic refills 28–32 days apart at one hospital, stays at least 41 days apart with no outpatient visit
within 8 days of a stay, nothing after death, and every encounter at institutions of the person's care
region. Each encounter follows a clinical profile (see `catalog`) compatible with the person's sex and age
over the whole period and with the institution's level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fundguard.synth.arrow import dates, decimal_array, ids, take, timestamps
from fundguard.synth.catalog import LEVELS, Compiled
from fundguard.synth.world import REGION_WEIGHTS, REGIONS, World

DAY = 86_400
AGE_BANDS = np.array([4.8, 5.6, 5.3, 5.0, 5.3, 6.6, 8.6, 7.0, 6.6, 8.1, 8.6, 7.1, 5.2, 5.1, 3.7, 2.4, 1.6, 0.8, 0.3])
AGE_BANDS = AGE_BANDS / AGE_BANDS.sum()
STAY_GAP = 41  # days between a discharge and the next admission, at least
VISIT_MARGIN = 8  # no outpatient visit within this many days of a stay
HIFP_PCT = {"11": 50, "13": 55, "14": 70, "41": 0, "51": 70, "21": 80, "52": 85}
ACCOUNT_CLASSES = ("11", "13", "14", "41")
INST_LEVEL_WEIGHTS = {
    "11": {"1": 0.2, "2": 0.3, "3": 0.5},
    "13": {"1": 0.5, "2": 0.5},
    "14": {"1": 0.3, "2": 0.4, "3": 0.3},
    "41": {"9": 1.0},
    "51": {"1": 0.5, "2": 0.5},
    "21": {"1": 0.45, "2": 0.45, "3": 0.1},
    "52": {"1": 0.5, "2": 0.5},
}


@dataclass
class Period:
    start: int  # days since 1970-01-01
    end: int  # inclusive

    @property
    def days(self) -> int:
        return self.end - self.start + 1


@dataclass
class Counters:
    psn: int = 0
    mdtrt: int = 0
    feedetl: int = 0


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dt = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = dt.astype("datetime64[M]")
    y = dt.astype("datetime64[Y]").astype(np.int64) + 1970
    m = months.astype(np.int64) % 12 + 1
    d = (dt - months).astype(np.int64) + 1
    return y, m, d


def age_at(brdy: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Whole years by birthday arithmetic (a 29 February birthday turns over on 1 March)."""
    by, bm, bd = ymd(brdy)
    y, m, d = ymd(day)
    return y - by - ((m * 100 + d) < (bm * 100 + bd)).astype(np.int64)


def _weighted_pick(weights: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise weighted choice: (index, valid) for a (rows × options) weight matrix."""
    cum = np.cumsum(weights, axis=1)
    total = cum[:, -1] if cum.shape[1] else np.zeros(len(cum))
    u = rng.random(len(cum)) * total
    idx = np.argmax(cum > u[:, None], axis=1) if cum.shape[1] else np.zeros(len(cum), np.int64)
    return idx, total > 0


class BaseGenerator:
    def __init__(self, world: World, compiled: Compiled, period: Period, drg: dict[str, dict]):
        self.world = world
        self.cp = compiled
        self.period = period
        self.drg = drg
        self.level_index = {lv: i for i, lv in enumerate(LEVELS)}
        self.inst_lv_idx = np.array([self.level_index[lv] for lv in world.lv])
        self.sex_matrix = np.stack([compiled.sex_ok[s] for s in ("1", "2", "9")])
        self.lv_matrix = np.stack([compiled.lv_ok[lv] for lv in LEVELS])
        self.inst_choice = {}
        for cls, weights in INST_LEVEL_WEIGHTS.items():
            for r in range(len(REGIONS)):
                cands, w = [], []
                for lv, wt in weights.items():
                    found = world.by(r, (lv,))
                    cands.extend(found.tolist())
                    w.extend([wt / max(len(found), 1)] * len(found))
                self.inst_choice[(cls, r)] = (np.array(cands, np.int64), np.cumsum(w) / np.sum(w))
        self.diag_start, self.diag_len, self.diag_codes, self.diag_names = [], [], [], []
        self.oprn_start, self.oprn_len, self.oprn_codes = [], [], []
        for prof in compiled.profiles:
            self.diag_start.append(len(self.diag_codes))
            self.diag_len.append(len(prof.diags))
            self.diag_codes += [c for c, _ in prof.diags]
            self.diag_names += [n for _, n in prof.diags]
            self.oprn_start.append(len(self.oprn_codes))
            self.oprn_len.append(len(prof.oprn))
            self.oprn_codes += prof.oprn
        self.diag_start = np.array(self.diag_start, np.int64)
        self.diag_len = np.array(self.diag_len, np.int64)
        self.oprn_start = np.array(self.oprn_start, np.int64)
        self.oprn_len = np.array(self.oprn_len, np.int64)

    # ---- choices -----------------------------------------------------------------------------------

    def pick_inst(self, cls: np.ndarray, region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.full(len(cls), -1, np.int64)
        u = rng.random(len(cls))
        for (c, r), (cands, cum) in self.inst_choice.items():
            mask = (cls == c) & (region == r)
            if mask.any() and len(cands):
                out[mask] = cands[np.minimum(np.searchsorted(cum, u[mask], side="right"), len(cands) - 1)]
        return out

    def pick_profile(self, cls, sex_idx, age_s, age_e, inst, rng) -> np.ndarray:
        out = np.full(len(cls), -1, np.int64)
        for c in np.unique(cls):
            rows = np.nonzero(cls == c)[0]
            profs = np.nonzero(self.cp.med_type == c)[0]
            if not len(profs):
                continue
            ok = self.sex_matrix[:, profs][sex_idx[rows]]
            ok &= (self.cp.age_lo[profs][None, :] <= age_s[rows, None]) & (age_e[rows, None] <= self.cp.age_hi[profs][None, :])
            ok &= self.lv_matrix[:, profs][self.inst_lv_idx[inst[rows]]]
            idx, valid = _weighted_pick(ok * self.cp.weight[profs][None, :], rng)
            out[rows[valid]] = profs[idx[valid]]
        return out

    # ---- one chunk ----------------------------------------------------------------------------------

    def chunk(self, n: int, counters: Counters, rng: np.random.Generator) -> dict[str, pa.Table]:
        period, world, cp = self.period, self.world, self.cp
        T = period.days
        start = period.start
        # persons
        band = rng.choice(len(AGE_BANDS), n, p=AGE_BANDS)
        age0 = band * 5 + rng.integers(0, 5, n)
        brdy = start - np.round(age0 * 365.25).astype(np.int64) - rng.integers(0, 365, n)
        age_s = age_at(brdy, np.full(n, start))
        age_e = age_at(brdy, np.full(n, period.end))
        gend = np.where(rng.random(n) < 0.49, "1", "2")
        gend[rng.random(n) < 0.002] = "9"
        sex_idx = np.select([gend == "1", gend == "2"], [0, 1], 2)
        working = (age_s >= 18) & (age_s <= 62)
        employee = working & (rng.random(n) < 0.62)
        insutype = np.where(employee, "310", "390")
        insutype[employee & (rng.random(n) < 0.05)] = "320"
        home = rng.choice(len(REGIONS), n, p=REGION_WEIGHTS)
        care = np.where(rng.random(n) < 0.03, (home + 1 + rng.integers(0, len(REGIONS) - 1, n)) % len(REGIONS), home)
        years = T / 365.0
        p_death = np.select([age_s >= 75, age_s >= 60], [0.04, 0.01], 0.001) * years
        dies = rng.random(n) < p_death
        death_day = np.full(n, 10**6, np.int64)

        # stays: up to two per person, in separate halves of the period
        p_stay = np.select([age_s < 15, age_s < 60], [0.04, 0.06], 0.16) * min(1.0, years * 1.2)
        has1 = rng.random(n) < p_stay
        maternity = (gend == "2") & (age_s >= 22) & (age_e <= 38) & (rng.random(n) < 0.05 * min(1.0, years)) & (T >= 60)
        has1 |= maternity
        has2 = has1 & ~maternity & (T >= 200) & (rng.random(n) < 0.25)
        s_psn = np.concatenate([np.nonzero(has1)[0], np.nonzero(has2)[0]])
        s_k = np.concatenate([np.zeros(has1.sum(), np.int64), np.ones(has2.sum(), np.int64)])
        s_nseg = np.where(has2[s_psn], 2, 1)
        s_cls = np.where(maternity[s_psn], "52", "21")
        s_inst = self.pick_inst(s_cls, care[s_psn], rng)
        s_prof = self.pick_profile(s_cls, sex_idx[s_psn], age_s[s_psn], age_e[s_psn], s_inst, rng)
        ok = (s_prof >= 0) & (s_inst >= 0)
        s_los = np.where(ok, rng.integers(cp.los_lo[np.maximum(s_prof, 0)], cp.los_hi[np.maximum(s_prof, 0)] + 1), 0)
        seg_len = T // s_nseg
        room = seg_len - s_los - STAY_GAP
        ok &= room >= 1
        s_day = s_k * seg_len + (rng.random(len(s_psn)) * np.maximum(room, 1)).astype(np.int64)
        s_psn, s_day, s_los, s_inst, s_prof, s_cls = (a[ok] for a in (s_psn, s_day, s_los, s_inst, s_prof, s_cls))
        s_dscg = np.full(len(s_psn), "1")
        # deaths: in hospital at the last discharge when there was a stay, else on a random day
        last_disch = np.full(n, -1, np.int64)
        np.maximum.at(last_disch, s_psn, s_day + s_los)
        death_day[dies] = np.where(last_disch[dies] >= 0, last_disch[dies], rng.integers(0, T, dies.sum()))
        s_dscg[dies[s_psn] & (s_day + s_los == death_day[s_psn])] = "5"

        # acute visits and pharmacy purchases: 12-day slots, at most one event per slot (gaps ≥ 10 days)
        rate = np.select([age_s < 15, age_s < 60], [3.5, 2.5], 5.0) * rng.gamma(1.5, 1 / 1.5, n)
        q = np.minimum(rate * 12 / 365, 0.9)
        n1 = T // 12
        e1_psn, e1_slot = np.nonzero(rng.random((n, n1)) < q[:, None])
        e1_day = e1_slot * 12 + rng.integers(0, 3, len(e1_psn))
        u = rng.random(len(e1_psn))
        e1_cls = np.where(u < 0.22, "41", np.where(u < 0.30, "13", "11"))
        mat_first = np.full(n, -1, np.int64)
        mat_stays = s_cls == "52"
        mat_first[s_psn[mat_stays]] = s_day[mat_stays]
        prenatal = (e1_day < mat_first[e1_psn]) & (rng.random(len(e1_psn)) < 0.6)
        e1_cls[prenatal] = "51"
        # chronic refills: 30-day slots (gaps ≥ 28 days) at one hospital with one profile
        p_chronic = np.select([age_s >= 60, age_s >= 40, age_s >= 30], [0.4, 0.18, 0.05], 0.0)
        chronic = rng.random(n) < p_chronic
        c_psn = np.nonzero(chronic)[0]
        c_inst = self.pick_inst(np.full(len(c_psn), "14"), care[c_psn], rng)
        c_prof = self.pick_profile(np.full(len(c_psn), "14"), sex_idx[c_psn], age_s[c_psn], age_e[c_psn], c_inst, rng)
        person_cinst = np.full(n, -1, np.int64)
        person_cprof = np.full(n, -1, np.int64)
        person_cinst[c_psn], person_cprof[c_psn] = c_inst, c_prof
        n2 = max(T // 30, 1)
        e2_psn, e2_slot = np.nonzero((rng.random((n, n2)) < 0.85) & (person_cprof >= 0)[:, None])
        e2_day = e2_slot * 30 + rng.integers(0, 3, len(e2_psn))
        # drop acute events on a refill day, near a stay, or after death
        clash = np.isin(e1_psn * T + e1_day, e2_psn * T + e2_day)
        lo = np.full((n, 2), 10**6, np.int64)
        hi = np.full((n, 2), -(10**6), np.int64)
        order = np.argsort(s_day, kind="stable")
        slot = np.zeros(len(s_psn), np.int64)
        seen = np.zeros(n, np.int64)
        for i in order:  # at most two stays per person; tiny loop over stays only
            slot[i] = seen[s_psn[i]]
            seen[s_psn[i]] += 1
        lo[s_psn, slot] = s_day - VISIT_MARGIN
        hi[s_psn, slot] = s_day + s_los + VISIT_MARGIN

        def keep(psn, day):
            inside = ((day[:, None] >= lo[psn]) & (day[:, None] <= hi[psn])).any(axis=1)
            return ~inside & (day <= death_day[psn]) & (day < T)

        k1 = keep(e1_psn, e1_day) & ~clash
        k2 = keep(e2_psn, e2_day)
        e1_psn, e1_day, e1_cls = e1_psn[k1], e1_day[k1], e1_cls[k1]
        e2_psn, e2_day = e2_psn[k2], e2_day[k2]
        e1_inst = self.pick_inst(e1_cls, care[e1_psn], rng)
        e1_prof = self.pick_profile(e1_cls, sex_idx[e1_psn], age_s[e1_psn], age_e[e1_psn], e1_inst, rng)
        v1 = e1_prof >= 0

        # all encounters
        e_psn = np.concatenate([e1_psn[v1], e2_psn, s_psn])
        e_day = np.concatenate([e1_day[v1], e2_day, s_day])
        e_los = np.concatenate([np.zeros(v1.sum() + len(e2_psn), np.int64), s_los])
        e_inst = np.concatenate([e1_inst[v1], person_cinst[e2_psn], s_inst])
        e_prof = np.concatenate([e1_prof[v1], person_cprof[e2_psn], s_prof])
        e_dscg = np.concatenate([np.full(v1.sum() + len(e2_psn), ""), s_dscg])
        stay = e_los > 0
        ne = len(e_psn)
        minute = rng.integers(0, 540, ne)
        begin = (start + e_day) * DAY + 8 * 3600 + np.where(stay, minute % 240, minute) * 60
        end = np.where(stay, (start + e_day + e_los) * DAY + 10 * 3600 + rng.integers(0, 120, ne) * 60, begin)
        order = np.lexsort((begin, e_psn))
        e_psn, e_day, e_los, e_inst, e_prof, e_dscg, stay, begin, end = (
            a[order] for a in (e_psn, e_day, e_los, e_inst, e_prof, e_dscg, stay, begin, end)
        )
        senior = cp.senior[e_prof]
        doc = world.doc_start[e_inst] + np.where(senior, 0, (rng.random(ne) * world.doc_count[e_inst]).astype(np.int64))

        # fee lines: template lines per encounter, daily lines once per stay day
        rep = cp.length[e_prof]
        pair_enc = np.repeat(np.arange(ne), rep)
        offs = np.arange(len(pair_enc)) - np.repeat(np.cumsum(rep) - rep, rep)
        pair_t = np.repeat(cp.start[e_prof], rep) + offs
        los_p = e_los[pair_enc]
        daily = (cp.t_daily[pair_t] == 1) & (los_p > 0)
        max_days = cp.t_max_days[pair_t]
        ndays = np.where(daily, np.where(max_days > 0, np.minimum(los_p, max_days), los_p), 1)
        line_pair = np.repeat(np.arange(len(pair_t)), ndays)
        day_idx = np.arange(len(line_pair)) - np.repeat(np.cumsum(ndays) - ndays, ndays)
        t = pair_t[line_pair]
        enc = pair_enc[line_pair]
        los_l = e_los[enc]
        once_day = np.where(cp.t_day[t] < 0, los_l - 1, cp.t_day[t])
        once_day = np.clip(once_day, 0, np.maximum(los_l - 1, 0))
        lday = np.where(daily[line_pair], day_idx, once_day)
        nl = len(t)
        dose = rng.integers(cp.t_cnt_lo[t], cp.t_cnt_hi[t] + 1)
        is_drug = cp.t_is_drug[t]
        prd = np.where(is_drug, rng.integers(cp.t_prd_lo[t], cp.t_prd_hi[t] + 1), 0)
        prd = np.where(is_drug & stay[enc], 1, prd)
        cnt = np.where(is_drug, dose * prd, dose)
        price = cp.t_price[t]
        amt = cnt * price
        # stays: filler lines bring the cost near the profile's usual cost (so DRG costs are plausible)
        filler = (cp.t_filler[t] == 1) & stay[enc]
        base_cost = np.bincount(enc, weights=np.where(filler, 0, amt), minlength=ne).astype(np.int64)
        target = (cp.target[e_prof] * rng.uniform(0.85, 1.3, ne)).astype(np.int64)
        n_fill = np.bincount(enc, weights=filler, minlength=ne)
        need = np.maximum(target - base_cost, 0)
        per_line = np.where(n_fill > 0, need / np.maximum(n_fill, 1), 0)
        fill_cnt = np.maximum(np.ceil(per_line[enc] / np.maximum(price, 1)).astype(np.int64), cnt)
        cnt = np.where(filler, fill_cnt, cnt)
        amt = cnt * price
        fee_time = np.where(
            stay[enc],
            (start + e_day[enc] + lday) * DAY + 12 * 3600 + cp.t_rank[t] * 60,
            begin[enc] + (cp.t_rank[t] + 1) * 60,
        )
        # refunds: a few visit drug lines are returned in part or in full
        refund = is_drug & ~stay[enc] & (cnt >= 2) & (rng.random(nl) < 0.01)
        r_src = np.nonzero(refund)[0]
        r_cnt = np.where(rng.random(len(r_src)) < 0.4, cnt[r_src], cnt[r_src] // 2)
        # order lines by encounter and time; refunds follow their encounter's lines
        order = np.lexsort((cp.t_rank[t], lday, enc))
        inv = np.empty(nl, np.int64)
        inv[order] = np.arange(nl)
        sn0 = counters.feedetl
        sn = np.empty(nl + len(r_src), np.int64)
        sn[:nl] = sn0 + 1 + inv
        # refund lines take numbers after every line of the chunk
        sn[nl:] = sn0 + 1 + nl + np.arange(len(r_src))
        counters.feedetl += nl + len(r_src)
        all_enc = np.concatenate([enc, enc[r_src]])
        all_t = np.concatenate([t, t[r_src]])
        all_cnt = np.concatenate([cnt, -r_cnt])
        all_price = np.concatenate([price, price[r_src]])
        all_amt = all_cnt * all_price
        all_time = np.concatenate([fee_time, fee_time[r_src] + 1800])
        all_prd = np.concatenate([prd, prd[r_src]])
        all_drug = np.concatenate([is_drug, is_drug[r_src]])
        all_refd = np.concatenate([np.zeros(nl, bool), np.ones(len(r_src), bool)])
        orig = np.concatenate([np.zeros(nl, np.int64), sn[r_src]])
        medfee = np.bincount(all_enc, weights=all_amt, minlength=ne).astype(np.int64)

        # settlement
        e_cls = cp.med_type[e_prof]
        p_ins = insutype[e_psn]
        pct = np.zeros(ne, np.int64)
        for c, v in HIFP_PCT.items():
            pct[e_cls == c] = v
        pct = np.where((p_ins == "390") & (pct > 0), pct - 10, pct)
        hifp = medfee * pct // 100
        acct = np.where(np.isin(p_ins, ("310", "320")) & np.isin(e_cls, ACCOUNT_CLASSES), (medfee - hifp) * 60 // 100, 0)
        cash = medfee - hifp - acct

        # DRG groups for stays: a group of the profile's family the cost supports (≥ 65% of its average)
        drg_code = np.full(ne, None, dtype=object)
        for p_idx in np.unique(e_prof[stay]):
            fam = cp.profiles[p_idx].drg
            if not fam:
                continue
            rows = np.nonzero(stay & (e_prof == p_idx))[0]
            avg = np.array([int(self.drg[g]["avg_cost"] * 100) for g in fam], np.int64)
            okm = (medfee[rows, None] * 100 >= avg[None, :] * 65).astype(float)
            idx, valid = _weighted_pick(okm, rng)
            drg_code[rows[valid]] = np.array(fam, dtype=object)[idx[valid]]

        # ids
        psn_no = ids("P", counters.psn + 1 + np.arange(n), 8)
        e_num = counters.mdtrt + 1 + np.arange(ne)
        counters.psn += n
        counters.mdtrt += ne
        mdtrt_id = ids("M", e_num, 10)
        psn_of = psn_no.take(pa.array(e_psn))
        inst_codes = take(world.codes, e_inst)
        doc_codes = take(world.doc_codes, doc)
        doc_dept = take(world.doc_dept, doc)
        regions = np.array(REGIONS)
        tables: dict[str, pa.Table] = {}
        tables["psn"] = pa.table(
            {
                "psn_no": psn_no,
                "gend": gend,
                "brdy": dates(brdy),
                "insutype": insutype,
                "insu_admdvs": regions[home],
                "death_date": pa.array(
                    np.where(death_day < 10**6, start + death_day, 0).astype(np.int32), pa.int32(),
                    mask=death_day >= 10**6,
                ).view(pa.date32()),
            }
        )
        tables["mdtrt"] = pa.table(
            {
                "mdtrt_id": mdtrt_id,
                "setl_id": ids("S", e_num, 10),
                "psn_no": psn_of,
                "fixmedins_code": inst_codes,
                "med_type": e_cls,
                "begntime": timestamps(begin),
                "endtime": timestamps(end),
                "dscg_way": pa.array(e_dscg, pa.string(), mask=~stay),
                "dept_code": doc_dept,
                "atddr_no": doc_codes,
                "medfee_sumamt": decimal_array(medfee, 2),
                "hifp_pay": decimal_array(hifp, 2),
                "acct_pay": decimal_array(acct, 2),
                "psn_cash_pay": decimal_array(cash, 2),
                "setl_time": timestamps(np.where(stay, end, begin + 3600)),
                "insu_admdvs": regions[home[e_psn]],
                "drg_code": pa.array(drg_code, pa.string()),
                "dip_code": pa.nulls(ne, pa.string()),
            }
        )
        # feedetl in serial-number order
        order = np.argsort(sn, kind="stable")
        f_enc = all_enc[order]
        f_t = all_t[order]
        f_item = cp.t_item[f_t]
        f_prd = all_prd[order]
        f_drug = all_drug[order]
        f_sn = sn[order]
        f_orig = orig[order]
        f_refd = all_refd[order]
        enc_idx = pa.array(f_enc)
        tables["feedetl"] = pa.table(
            {
                "feedetl_sn": ids("F", f_sn, 12),
                "mdtrt_id": mdtrt_id.take(enc_idx),
                "psn_no": psn_of.take(enc_idx),
                "fixmedins_code": inst_codes.take(enc_idx),
                "fee_ocur_time": timestamps(all_time[order]),
                "hilist_code": take(cp.item_codes, f_item),
                "medins_list_codg": ids("Y", f_item + 1, 6),
                "med_chrgitm_type": take(cp.item_types, f_item),
                "cnt": decimal_array(all_cnt[order] * 10_000, 4),
                "pric": decimal_array(all_price[order] * 100, 4),
                "det_item_fee_sumamt": decimal_array(all_amt[order], 2),
                "bilg_dept_codg": doc_dept.take(enc_idx),
                "bilg_dr_codg": doc_codes.take(enc_idx),
                "prd_days": pa.array(f_prd.astype(np.int32), pa.int32(), mask=~f_drug),
                "refd_flag": f_refd,
                "orig_feedetl_sn": pc.if_else(pa.array(f_refd), ids("F", f_orig, 12), pa.scalar(None, pa.string())),
                "hosp_appr_flag": cp.t_appr[f_t] == 1,
            }
        )
        # traceability codes: one box code per sold drug line of a product the edition knows
        trac = np.array(cp.item_trac, dtype=object)[f_item]
        has_trac = f_drug & ~f_refd & (trac != "")
        rows = np.nonzero(has_trac)[0]
        codes = pc.binary_join_element_wise(
            pa.array(trac[rows].tolist(), pa.string()), ids("", f_sn[rows], 13), ""
        )
        tables["drug_trac"] = pa.table({"feedetl_sn": tables["feedetl"]["feedetl_sn"].take(pa.array(rows)), "drug_trac_codg": codes})
        # diagnoses
        dl = self.diag_len[e_prof]
        d_enc = np.repeat(np.arange(ne), dl)
        d_off = np.arange(len(d_enc)) - np.repeat(np.cumsum(dl) - dl, dl)
        d_idx = self.diag_start[e_prof][d_enc] + d_off
        tables["diag"] = pa.table(
            {
                "mdtrt_id": mdtrt_id.take(pa.array(d_enc)),
                "diag_srt_no": (d_off + 1).astype(np.int32),
                "maindiag_flag": d_off == 0,
                "diag_code": take(self.diag_codes, d_idx),
                "diag_name": take(self.diag_names, d_idx),
            }
        )
        ol = self.oprn_len[e_prof]
        o_enc = np.repeat(np.arange(ne), ol)
        o_off = np.arange(len(o_enc)) - np.repeat(np.cumsum(ol) - ol, ol)
        o_idx = self.oprn_start[e_prof][o_enc] + o_off
        o_day = np.minimum(1, e_los[o_enc] - 1)
        tables["oprn"] = pa.table(
            {
                "mdtrt_id": mdtrt_id.take(pa.array(o_enc)),
                "oprn_srt_no": (o_off + 1).astype(np.int32),
                "oprn_oprt_code": take(self.oprn_codes, o_idx),
                "oprn_date": timestamps((start + e_day[o_enc] + o_day) * DAY + 9 * 3600),
            }
        )
        # presence checks on most stays of 3+ days: one a day, all verified
        checked = stay & (e_los >= 3) & (rng.random(ne) < 0.6)
        cl = np.where(checked, e_los - 1, 0)
        c_enc = np.repeat(np.arange(ne), cl)
        c_off = np.arange(len(c_enc)) - np.repeat(np.cumsum(cl) - cl, cl) + 1
        tables["checkin"] = pa.table(
            {
                "mdtrt_id": mdtrt_id.take(pa.array(c_enc)),
                "chk_time": timestamps((start + e_day[c_enc] + c_off) * DAY + 10 * 3600 + rng.integers(0, 3600, len(c_enc))),
                "result": pa.array(np.full(len(c_enc), "1"), pa.string()),
            }
        )
        return tables

