"""The city: regions, institutions of every type and level, and their doctors and pharmacists."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fundguard.synth.arrow import ids

REGIONS = ("440103", "440104", "440105", "440106", "440111", "440112")
REGION_NAMES = ("荔湾", "越秀", "海珠", "天河", "白云", "黄埔")
REGION_WEIGHTS = np.array([0.12, 0.14, 0.18, 0.22, 0.22, 0.12])
DEPTS = {
    "1": ("A03", "A04", "A05", "A07", "A10", "A12", "A20"),
    "2": ("A03", "A04", "A07", "A10", "A20"),
    "3": ("A50", "A03"),
    "9": ("PH1",),
}
LEVEL_NAMES = {"1": "第一人民医院", "2": "区人民医院", "3": "社区卫生服务中心", "9": "大药房"}


@dataclass
class World:
    codes: list[str]
    names: list[str]
    type: np.ndarray  # '1' / '2'
    lv: np.ndarray  # '1' '2' '3' '9'
    region: np.ndarray  # index into REGIONS
    public: np.ndarray
    doc_start: np.ndarray
    doc_count: np.ndarray
    doc_codes: list[str]
    doc_inst: np.ndarray
    doc_title: np.ndarray
    doc_dept: list[str]

    def by(self, region: int, levels: tuple[str, ...]) -> np.ndarray:
        return np.nonzero((self.region == region) & np.isin(self.lv, levels))[0]

    def fixmedins_table(self) -> pa.Table:
        return pa.table(
            {
                "fixmedins_code": self.codes,
                "fixmedins_name": self.names,
                "fixmedins_type": self.type.tolist(),
                "medins_lv": self.lv.tolist(),
                "admdvs": [REGIONS[r] for r in self.region],
                "public_flag": self.public.tolist(),
            }
        )

    def practitioner_table(self) -> pa.Table:
        return pa.table(
            {
                "prac_psn_code": self.doc_codes,
                "fixmedins_code": [self.codes[i] for i in self.doc_inst],
                "profttl": self.doc_title.tolist(),
                "dept_code": self.doc_dept,
            }
        )


def build_world(persons: int, seed: int) -> World:
    """Institutions scale with the population (about one per 350 insured, at least one of each kind per region)."""
    rng = np.random.Generator(np.random.PCG64([seed, 7_000_001]))
    types, lvs, regions, public, names = [], [], [], [], []
    for r, weight in enumerate(REGION_WEIGHTS):
        pop = persons * weight
        counts = {
            "1": max(1, round(pop / 150_000)),
            "2": max(2, round(pop / 40_000)),
            "3": max(3, round(pop / 6_000)),
            "9": max(3, round(pop / 2_500)),
        }
        for lv, n in counts.items():
            for k in range(n):
                types.append("2" if lv == "9" else "1")
                lvs.append(lv)
                regions.append(r)
                if lv == "9":
                    is_public = False
                elif lv == "2" and k == 1:
                    is_public = False  # every region has a private (社会办医) hospital
                else:
                    is_public = bool(rng.random() < {"1": 0.95, "2": 0.7, "3": 0.8}[lv])
                public.append(is_public)
                names.append(f"{REGION_NAMES[r]}{'' if is_public or lv == '9' else '民营'}{LEVEL_NAMES[lv]}{k + 1}")
    n_inst = len(types)
    codes = ids("H", np.arange(1, n_inst + 1), 8).to_pylist()
    codes = [("P" + c[1:]) if t == "2" else c for c, t in zip(codes, types, strict=True)]
    lv_arr = np.array(lvs)
    staff = {"1": 40, "2": 20, "3": 6, "9": 2}
    doc_start = np.zeros(n_inst, np.int64)
    doc_count = np.array([staff[lv] for lv in lvs], np.int64)
    doc_start[1:] = np.cumsum(doc_count)[:-1]
    n_doc = int(doc_count.sum())
    doc_inst = np.repeat(np.arange(n_inst), doc_count)
    rank = np.arange(n_doc) - doc_start[doc_inst]
    titles = rng.choice(np.array(["1", "2", "3", "4"]), size=n_doc, p=[0.12, 0.23, 0.4, 0.25])
    titles[rank == 0] = "1"  # every institution has a senior (正高) practitioner for restricted items
    titles[rank == 1] = "2"
    is_pharmacy = lv_arr[doc_inst] == "9"
    titles[is_pharmacy & (rank > 0)] = "3"
    dept = []
    for d in range(n_doc):
        choices = DEPTS[lvs[doc_inst[d]]]
        dept.append(choices[int(rank[d]) % len(choices)])
    doc_codes = ids("D", np.arange(1, n_doc + 1), 9).to_pylist()
    return World(codes, names, np.array(types), lv_arr, np.array(regions), np.array(public), doc_start,
                 doc_count, doc_codes, doc_inst, titles, dept)
