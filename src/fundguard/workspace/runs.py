"""A workspace: a folder of audit runs (`flags.parquet` + `run.json`), with the dataset and knowledge
edition each run names, the rule library, and an index per run for fast pages.

A run folder is the workspace folder itself or any folder directly below it holding `run.json` and
`flags.parquet`. Indexes go to `<workspace>/.index/<run_id>.sqlite` and are rebuilt when the run's
files change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from fundguard.workspace.flagindex import INDEX_VERSION, FlagIndex, build_index

log = logging.getLogger(__name__)

#: rule library folder → the catalog's category name
CATEGORY_LABELS = {
    "a_restrictions": "限定类",
    "b_charging": "收费类",
    "c_drugs": "用药类",
    "d_visits": "就诊类",
    "e_drg": "DRG/DIP 类",
    "m_screening": "大数据筛查",
}
SEVERITY_LABELS = {1: "明确违规", 2: "高度可疑", 3: "轻度可疑"}
GRANULARITY_LABELS = {"line": "费用明细", "mdtrt": "就诊", "psn": "参保人", "org": "机构/医师"}
SCENE_LABELS = {"pre": "事前提醒", "in": "事中审核", "post": "事后监管"}


def category_label(folder: str) -> str:
    return CATEGORY_LABELS.get(folder, folder or "未分类")


@dataclass
class Run:
    run_id: str
    folder: Path
    info: dict
    fingerprint: str
    index: FlagIndex | None = None

    @property
    def flags_path(self) -> Path:
        return self.folder / "flags.parquet"

    @property
    def finished(self) -> str:
        return str(self.info.get("finished") or self.info.get("started") or "")

    @property
    def dataset_path(self) -> Path | None:
        path = (self.info.get("dataset") or {}).get("path")
        if not path:
            return None
        p = Path(path)
        if not p.is_absolute():
            p = (self.folder / p) if (self.folder / p).exists() else Path.cwd() / p
        return p if p.is_dir() else None

    @property
    def kb_path(self) -> Path | None:
        path = (self.info.get("kb") or {}).get("path")
        return Path(path) if path and Path(path).is_dir() else None

    def summary(self) -> dict:
        totals = self.info.get("totals") or {}
        return {
            "run_id": self.run_id,
            "started": self.info.get("started"),
            "finished": self.info.get("finished"),
            "engine": self.info.get("engine"),
            "flags": int(totals.get("flags") or (self.index.meta.get("flags") if self.index else 0) or 0),
            "vola_amt": Decimal(str(totals.get("vola_amt") or "0")),
            "rules_ran": totals.get("rules_ran"),
            "rules_skipped": totals.get("rules_skipped"),
            "kb_content_hash": (self.info.get("kb") or {}).get("content_hash"),
            "dataset_rows": {k: v.get("rows") for k, v in ((self.info.get("dataset") or {}).get("tables") or {}).items()},
            "persons": int(self.index.meta.get("persons", 0)) if self.index else None,
        }


def _fingerprint(folder: Path) -> str:
    h = hashlib.sha256(INDEX_VERSION.encode())
    for name in ("flags.parquet", "run.json"):
        st = (folder / name).stat()
        h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


@dataclass
class Workspace:
    folder: Path
    index_dir: Path | None = None
    runs: dict[str, Run] = field(default_factory=dict)
    #: the rule library the rule pages and flag names come from (None: the built-in one)
    rules_dir: Path | None = None
    #: runs whose flag index is being built (`serve` builds in the background and serves meanwhile)
    building: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.index_dir = Path(self.index_dir) if self.index_dir else self.folder / ".index"

    # ---- runs ----------------------------------------------------------------------------------------

    def discover(self) -> list[Run]:
        candidates = [self.folder] + sorted(p for p in self.folder.iterdir() if p.is_dir()) if self.folder.is_dir() else []
        found: dict[str, Run] = {}
        for folder in candidates:
            if not ((folder / "run.json").is_file() and (folder / "flags.parquet").is_file()):
                continue
            try:
                info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
            except ValueError:
                log.warning("run.json unreadable in %s", folder)
                continue
            run_id = str(info.get("run_id") or folder.name)
            found[run_id] = Run(run_id, folder, info, _fingerprint(folder))
        with self._lock:
            self.runs = dict(sorted(found.items(), key=lambda kv: kv[1].finished, reverse=True))
        return list(self.runs.values())

    def mark_building(self) -> list[Run]:
        """Discover the runs and mark each as being indexed (until `prepare` has done it)."""
        runs = self.discover()
        with self._lock:
            self.building = {r.run_id for r in runs}
        return runs

    def is_building(self, run: Run) -> bool:
        """The run's flag index is being built (its pages say so meanwhile)."""
        return run.index is None and run.run_id in self.building

    def prepare(self, *, rebuild: bool = False) -> list[dict]:
        """Discover runs and build (or reuse) the index of each; returns what was done per run."""
        done = []
        runs = self.mark_building()
        try:
            for run in runs:
                done.append(self._index(run, rebuild))
                with self._lock:
                    self.building.discard(run.run_id)
        finally:
            with self._lock:
                self.building = set()
        return done

    def _index(self, run: Run, rebuild: bool) -> dict:
        """Build (or reuse) one run's index and open it."""
        path = self.index_dir / f"{run.run_id}.sqlite"
        reuse = False
        if path.exists() and not rebuild:
            try:
                index = FlagIndex(path)
                reuse = index.meta.get("fingerprint") == run.fingerprint
            except Exception:  # a broken or old index is rebuilt
                reuse = False
        if not reuse:
            # minutes for a million flags: say what the wait is
            log.info("正在建立疑点索引: 运行 %s (%s 条疑点, 重启后复用)…", run.run_id,
                     (run.info.get("totals") or {}).get("flags", "?"))
            stats = build_index(
                run.flags_path, path, dataset=run.dataset_path, categories=self.rule_categories(),
                item_names=self._item_names(run), meta={"fingerprint": run.fingerprint, "run_id": run.run_id},
            )
            item = {"run_id": run.run_id, "built": True, **stats}
        else:
            item = {"run_id": run.run_id, "built": False, "path": str(path)}
        run.index = FlagIndex(path)
        return item

    def latest(self) -> Run | None:
        return next(iter(self.runs.values()), None)

    def run(self, run_id: str) -> Run | None:
        if run_id == "latest":
            return self.latest()
        return self.runs.get(run_id)

    # ---- rules and knowledge -------------------------------------------------------------------------

    @cached_property
    def registry(self):
        from fundguard.engine import load_registry

        return load_registry(self.rules_dir)

    def rule_categories(self) -> dict[str, str]:
        return {r.id: category_label(r.category) for r in self.registry}

    @cached_property
    def edition(self):
        from fundguard import kb

        run = self.latest()
        path = run.kb_path if run and run.kb_path else kb.default_edition_path()
        return kb.Edition.open(path)

    def _item_names(self, run: Run):
        try:
            from fundguard import kb

            path = run.kb_path or kb.default_edition_path()
            return kb.Edition.open(path).tables["kb_hilist"].select(["hilist_code", "hilist_name"])
        except Exception as exc:  # names are a nicety; the index works without them
            log.warning("no item names for run %s: %s", run.run_id, exc)
            return None

    def rule_docs(self) -> list[dict]:
        return [rule_doc(r) for r in self.registry]

    def rule_doc(self, rule_id: str) -> dict | None:
        rule = self.registry.rules.get(rule_id)
        return rule_doc(rule) if rule else None

    def coverage(self) -> dict:
        """Which of the national framework's rules the library implements (by the rules' gz_codes)."""
        national = sorted(self.edition.tables["kb_national_rule"].to_pylist(),
                          key=lambda r: (r.get("seq_2025") is None, r.get("seq_2025") or 0, r["gz_code"]))
        by_code: dict[str, list[str]] = {}
        for rule in self.registry:
            for code in rule.gz_codes:
                by_code.setdefault(code, []).append(rule.id)
        rows = [{**r, "rules": sorted(by_code.get(r["gz_code"], []))} for r in national]
        known = {r["gz_code"] for r in national}
        return {
            "total": len(rows),
            "implemented": sum(1 for r in rows if r["rules"]),
            "rows": rows,
            "unknown_codes": sorted((c, ids) for c, ids in by_code.items() if c not in known),
        }

    def knowledge_for(self, flag: dict) -> list[dict]:
        """The knowledge entries a flag's rule reads that match its fee lines' codes or its diagnoses."""
        from fundguard.kb import KB_CODE_COLUMN

        rule = self.registry.rules.get(flag["rule_id"])
        if rule is None:
            return []
        codes = sorted({ln["hilist_code"] for ln in flag.get("fee_lines") or [] if ln.get("hilist_code")})
        diags = sorted({d["diag_code"] for d in flag.get("diagnoses") or [] if d.get("diag_code")})
        out = []
        for table in rule.kb_tables:
            data = self.edition.tables.get(table)
            if data is None or data.num_rows == 0:
                continue
            cols = data.column_names
            rows: list[dict] = []
            if table in KB_CODE_COLUMN or "hilist_code" in cols:
                matcher = self._matcher(table)
                for code in codes:
                    rows += [{"matched_code": code, **r} for r in matcher.lookup(code)]
            elif "diag_prefix" in cols:
                for r in data.to_pylist():
                    prefix = str(r["diag_prefix"]).rstrip("*")
                    rows += [{"matched_code": d, **r} for d in diags if d.startswith(prefix)]
            if rows:
                out.append({"table": table, "columns": ["matched_code", *cols], "rows": rows[:50]})
        return out

    def _matcher(self, table: str):
        from fundguard.kb import KB_CODE_COLUMN, CodeMatcher

        cache = self.__dict__.setdefault("_matchers", {})
        if table not in cache:
            cache[table] = CodeMatcher.for_table(self.edition.tables[table], table,
                                                 KB_CODE_COLUMN.get(table, "hilist_code"))
        return cache[table]


def rule_doc(rule: Any) -> dict:
    """A rule's documentation as plain data (for the pages, the API and the exports)."""
    return {
        "id": rule.id,
        "slug": rule.slug,
        "name": rule.name,
        "summary": rule.summary,
        "description": rule.description,
        "category": category_label(rule.category),
        "category_folder": rule.category,
        "severity": int(rule.severity),
        "severity_label": SEVERITY_LABELS.get(int(rule.severity), ""),
        "scenes": [s.value for s in rule.scenes],
        "granularity": rule.granularity.value,
        "gz_codes": list(rule.gz_codes),
        "legal_basis": {"regulation": rule.legal_basis.regulation, "national_rule": rule.legal_basis.national_rule},
        "kb_tables": list(rule.kb_tables),
        "kind": rule.kind,
        "params": {
            name: {"type": p.type, "default": p.default, "unit": p.unit, "doc": p.doc,
                   "min": p.min, "max": p.max}
            for name, p in rule.params.items()
        },
        "amount": rule.amount,
        "message": rule.message,
        "examples": [
            {"title": ex.title, "given": ex.given, "params": ex.params, "violating": ex.is_violating,
             "expect_flags": [f.model_dump(exclude_none=True) for f in ex.expect_flags],
             "known_gap": ex.known_gap, "threshold": ex.threshold}
            for ex in rule.examples
        ],
    }
