"""The real-time service: one national envelope in, one national envelope out.

`RealtimeService.handle(body, headers)` authenticates the caller, parses the envelope tolerantly,
turns each patient into a one-request dataset joined with their history, runs the pre/in rules in the
real-time evaluator, maps the flags to `output.result[]`, and records the call. Errors come back in the
envelope (`infcode` -1, `err_msg` naming the field), never as a stack trace.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from fundguard.engine.registry import Registry, load_registry
from fundguard.realtime.auth import Authenticator, AuthError
from fundguard.realtime.dataset import HISTORY_SN_PREFIX, merge_history, patient_dataset
from fundguard.realtime.envelope import (
    AnalysisRequest,
    FeedbackRequest,
    RequestError,
    decode_body,
    envelope_infno,
    parse_analysis,
    parse_feedback,
)
from fundguard.realtime.evaluator import Evaluator, Flag
from fundguard.realtime.frame import Frame
from fundguard.realtime.history import HistoryStore
from fundguard.realtime.knowledge import Knowledge
from fundguard.realtime.store import CallRecord, RealtimeStore, Resend, hash_identifier, mask

log = logging.getLogger("fundguard.realtime")

#: the catalog's category letter → `vola_bhvr_type` (national-interface.md, Response)
BEHAVIOUR_TYPES = {"A": "1", "B": "2", "C": "3", "D": "4", "E": "5"}
AUTH_DISABLED = "AUTH DISABLED"


@dataclass
class RealtimeConfig:
    db_url: str = "sqlite:///var/realtime.db"
    history_path: Path | str | None = None
    kb_path: Path | str | None = None
    registry: Registry | None = None
    auth: bool = True
    infcode_as_string: bool = False
    timestamp_window: int = 300
    #: 6-digit admin division that prefixes `inf_refmsgid`
    admdvs: str = "000000"
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    background_log: bool = True


@dataclass
class Reply:
    status: int
    body: dict

    def encoded(self) -> bytes:
        """The body as the wire carries it: compact UTF-8 JSON, Chinese unescaped."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()


def _on_current_orders(flags: list[Flag], patient: Any, frame: Frame) -> list[Flag]:
    """When the HIS marks the orders being saved now (`curr_drord_flag` 1) among the encounter's earlier
    ones (0), only findings that involve a current order are reported: an inpatient HIS sends the whole
    stay at every save, and old orders must not be warned about again each time. Findings on no order
    (encounter or person level) stay. With no order marked 1 (the national sample marks its only order 0)
    every order counts as current."""
    current = {o.rx_id for o in patient.current.orders if (o.curr_drord_flag or "").strip() == "1"}
    if not current:
        return flags
    return [f for f in flags if not f.feedetl_sns or any(frame.rx_by_sn.get(sn) in current for sn in f.feedetl_sns)]


def request_fingerprint(infno: str, envelope: dict) -> str:
    """What makes two requests under one msgid the same message: the transaction and the whole envelope
    as canonical JSON (key order, spacing and the body's encoding aside)."""
    canonical = json.dumps(envelope, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{infno}|{canonical}".encode()).hexdigest()


def _kept(resend: dict | None, reply: Reply, patn_ids: list[str] | None = None) -> dict | None:
    """The reply as the store keeps it for a resend (None for a request without msgid). Patient ids are
    not stored raw: each `patn_id` becomes `#<index of the patient in the request>`, restored from the
    resend (which carries the same patients) by `_restored`."""
    if resend is None:
        return None
    body = reply.body
    if patn_ids:
        index = {p: f"#{i}" for i, p in reversed(list(enumerate(patn_ids)))}
        body = _with_patn_ids(body, index.get)
    return dict(resend, http_status=reply.status, body=body)


def _restored(body: dict, patn_ids: list[str]) -> dict:
    def patient(marker: str) -> str | None:
        if marker.startswith("#") and marker[1:].isdigit() and int(marker[1:]) < len(patn_ids):
            return patn_ids[int(marker[1:])]
        return None

    return _with_patn_ids(body, patient)


def _with_patn_ids(body: dict, swap) -> dict:  # noqa: ANN001
    """`body` with every result's and detail's `patn_id` replaced by `swap(patn_id)` (kept when None)."""
    output = body.get("output")
    if not isinstance(output, dict) or not isinstance(output.get("result"), list):
        return body

    def one(item: dict) -> dict:
        value = item.get("patn_id")
        new = swap(value) if isinstance(value, str) else None
        return item if new is None else dict(item, patn_id=new)

    results = [dict(one(r), judge_result_detail_dtos=[one(d) for d in r.get("judge_result_detail_dtos") or []])
               for r in output["result"]]
    return dict(body, output=dict(output, result=results))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Door:
    """What answers without analysing: the national envelope (`inf_refmsgid` numbering), the refusals
    made before `RealtimeService.handle` (a body too large, a path or method the interface does not
    have) and the log lines. A `RealtimeService` has one; with analysis processes (`realtime.pool`) it is
    all the serving process builds: no knowledge edition, history or call log there."""

    def __init__(self, config: RealtimeConfig, *, announce: bool = True):
        self.config = config
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        # `announce` False: the serving process of a pool, whose analysis processes say it (their start-up
        # lines reach this process's log once, `realtime.pool`)
        if announce and not config.auth:
            log.warning("!!! 实时接口认证已关闭 (--no-auth): 任何人都可调用, 仅限本机演示 !!! %s", AUTH_DISABLED)

    def envelope(self, infcode: int, err_msg: str, output: Any, received: dt.datetime) -> dict:
        now = dt.datetime.now()
        with self._lock:
            serial = next(self._serial) % 10_000_000_000
        refmsgid = f"{self.config.admdvs[:6]:0>6}{received:%Y%m%d%H%M%S}{(os.getpid() % 100):02d}{serial % 100_000_000:08d}"
        return {
            "infcode": str(infcode) if self.config.infcode_as_string else infcode,
            "inf_refmsgid": refmsgid,
            "refmsg_time": received.strftime("%Y%m%d%H%M%S%f")[:17],
            "respond_time": now.strftime("%Y%m%d%H%M%S%f")[:17],
            "err_msg": err_msg,
            "warn_msg": "" if self.config.auth else AUTH_DISABLED,
            "output": output,
        }

    def too_large(self, limit: int) -> Reply:
        """The reply to a body over `limit` bytes (not read further, not authenticated)."""
        return self.refuse(413, f"$: 请求体超过 {limit // (1024 * 1024)} MB 上限")

    def refuse(self, status: int, msg: str) -> Reply:
        """An error envelope for a request refused before it reaches `handle`: logged as a line, not in the
        call log (nothing was authenticated or read)."""
        msg = _cut(msg, 200)
        self.log_line("?", "rejected", None, 0, -1, time.perf_counter(), msg)
        return Reply(status, self.envelope(-1, msg, None, dt.datetime.now()))

    def log_line(self, infno: str, what: str, org: str | None, flags: int, infcode: int, t0: float,
                 err: str | None = None, dr: str | None = None) -> None:
        ms = (time.perf_counter() - t0) * 1000
        auth = "" if self.config.auth else f" [{AUTH_DISABLED}]"
        tail = f" err={err}" if err else ""
        log.info("%s %s org=%s dr=%s infcode=%d %.1fms%s%s", infno, what, org or "-", dr or "-", infcode, ms, tail, auth)


class RealtimeService:
    def __init__(self, config: RealtimeConfig, *, knowledge: Knowledge | None = None, store: RealtimeStore | None = None):
        self.config = config
        self.store = store or RealtimeStore(config.db_url, background=config.background_log)
        self.history = HistoryStore(config.history_path)
        if knowledge is None:
            from fundguard.kb import Edition, default_edition_path

            knowledge = Knowledge.from_edition(Edition.open(config.kb_path or default_edition_path()))
        knowledge.warm()
        self.registry = config.registry or load_registry()
        self.evaluator = Evaluator(self.registry, knowledge)
        self.params = {r.id: r.bind_params(config.params.get(r.id)) for r in self.evaluator.rules.values()}
        self.auth = Authenticator(self.store, config.timestamp_window) if config.auth else None
        self.door = Door(config)
        unimplemented: dict[str, list[str]] = {}
        for rule in self.evaluator.rules.values():
            if self.evaluator.implementation(rule) is None:
                unimplemented.setdefault(self.evaluator.skip_reason(rule) or "", []).append(rule.id)
        for reason, ids in sorted(unimplemented.items()):
            log.warning("以下事前/事中规则在实时审核中跳过 (%s): %s", reason, ", ".join(sorted(ids)))
        by_sql = sorted(r.id for r in self.evaluator.rules.values() if self.evaluator.by_sql(r))
        if by_sql:
            log.warning("以下规则在实时审核中按规则 SQL 运行 (SQL 与内置版本不同或为新增规则, 无对应 Python 实现; "
                        "每次请求约多 0.1 秒): %s", ", ".join(by_sql))

    # ---- entry point -------------------------------------------------------------------------------

    def handle(self, body: bytes, headers: Mapping[str, str], *, path_infno: str | None = None,
               expect_infno: str | None = None) -> Reply:
        """One call, answered with the national envelope whatever happens (a bug is a 500 envelope with
        an error number, logged with its trace; never a bare 500)."""
        received = dt.datetime.now()
        try:
            return self._handle(body, headers, received, path_infno=path_infno, expect_infno=expect_infno)
        except Exception:
            error_id = hashlib.sha256(body).hexdigest()[:12]
            log.exception("实时审核内部错误 (请求摘要 %s)", error_id)
            return Reply(500, self.door.envelope(-1, f"服务内部错误, 请联系管理员 (编号 {error_id})", None, received))

    def _log_failure(self, base_call: dict, infno: str, status: str, org: str | None, t0: float, msg: str) -> None:
        """A call answered with infcode -1, in the call log (nothing else stored) and the log lines."""
        ms = (time.perf_counter() - t0) * 1000
        self.store.record(CallRecord(dict(base_call, infno=infno, status=status, fixmedins_code=org, infcode=-1,
                                          err_msg=msg[:2000], duration_ms=Decimal(f"{ms:.3f}")), [], []))
        self.door.log_line(infno, status, org, 0, -1, t0, msg)

    def _refused(self, base_call: dict, infno: str, caller: str | None, t0: float, msg: str) -> None:
        """A call refused by authentication (401) or for another institution's code (403): in the call
        log too, so that an operator sees attempts, not only answered calls."""
        self._log_failure(base_call, infno, "refused", caller, t0, msg)

    def _handle(self, body: bytes, headers: Mapping[str, str], received: dt.datetime, *, path_infno: str | None,
                expect_infno: str | None) -> Reply:
        t0 = time.perf_counter()
        digest = hashlib.sha256(body).hexdigest()
        base_call = {"received_at": received, "day": received.strftime("%Y-%m-%d"), "request_digest": digest}
        inst = None
        if self.auth is not None:
            try:
                inst = self.auth.check(headers)
            except AuthError as exc:
                self._refused(base_call, path_infno or expect_infno or "?", None, t0, exc.message)
                return Reply(exc.status, self.door.envelope(-1, exc.message, None, received))
        infno = path_infno or expect_infno or "?"
        try:
            envelope = decode_body(body)
            infno = envelope_infno(envelope, path_infno or expect_infno)
            if infno == "3103":
                req: AnalysisRequest | FeedbackRequest = parse_feedback(envelope, infno)
            else:
                req = parse_analysis(envelope, infno)
            if inst is not None:
                if req.fixmedins_code is None:
                    raise RequestError("fixmedins_code", "缺少定点医药机构编号")
                if req.fixmedins_code != inst.fixmedins_code:
                    msg = f"fixmedins_code: {req.fixmedins_code} 不属于已认证的调用方"
                    self._refused(base_call, infno, inst.fixmedins_code, t0, msg)
                    return Reply(403, self.door.envelope(-1, msg, None, received))
        except RequestError as exc:
            return self._rejected(base_call, infno, inst.fixmedins_code if inst else None, t0,
                                  f"{exc.path}: {exc.message}", received)
        resend = None
        if req.msgid:
            resend = {"fixmedins_code": req.fixmedins_code, "msgid": req.msgid, "infno": infno,
                      "fingerprint": request_fingerprint(infno, envelope), "received_at": received}
            stored = self.store.stored_reply(req.fixmedins_code, req.msgid)
            if stored is not None and stored.fingerprint != resend["fingerprint"]:
                return self._rejected(base_call, infno, req.fixmedins_code, t0,
                                      f"msgid: 报文ID {_cut(req.msgid, 40)} 已用于 {stored.received_at:%Y-%m-%d %H:%M:%S} "
                                      "的另一请求 (内容不同); 重发请原样发送, 新请求请用新的 msgid", received)
            if stored is not None and stored.body is not None:
                return self._replay(req, stored, base_call, t0)
            # a resend whose first reply is past the retention is answered afresh; the store, finding its
            # key taken, logs it as resent and counts nothing again
        # a failure from here on is `handle`'s 500 envelope (same error number: the body's digest)
        if isinstance(req, FeedbackRequest):
            return self._feedback(req, base_call, received, t0, resend)
        return self._analyse(req, base_call, received, t0, resend)

    def _rejected(self, base_call: dict, infno: str, org: str | None, t0: float, msg: str, received: dt.datetime) -> Reply:
        """A request refused for its content: in the call log as `rejected`, nothing else stored."""
        self._log_failure(base_call, infno, "rejected", org, t0, msg)
        # err_msg is str(200) on the wire; the call log keeps more
        return Reply(200, self.door.envelope(-1, _cut(msg, 200), None, received))

    def _replay(self, req: AnalysisRequest | FeedbackRequest, stored: Resend, base_call: dict, t0: float) -> Reply:
        """A resend (same institution, msgid and content): the first reply again, nothing stored or counted
        again (the call log keeps the resend as `resent`)."""
        body = dict(stored.body or {})
        if isinstance(req, AnalysisRequest):
            body = _restored(body, [p.patn_id for p in req.patients])
        note = f"重发请求: 返回 {stored.received_at:%Y-%m-%d %H:%M:%S} 的首次应答, 未重复记录"
        body["warn_msg"] = " ".join(w for w in (body.get("warn_msg"), note) if w)
        output = body.get("output")
        results = output.get("result") or [] if isinstance(output, dict) else []
        ms = (time.perf_counter() - t0) * 1000
        self.store.record(CallRecord(
            dict(base_call, infno=req.infno, status="resent", msgid=req.msgid, fixmedins_code=req.fixmedins_code,
                 flags=len(results), infcode=0, err_msg=None, duration_ms=Decimal(f"{ms:.3f}")), [], []))
        self.door.log_line(req.infno, f"resent results={len(results)}", req.fixmedins_code, len(results), 0, t0)
        return Reply(stored.http_status, body)

    # ---- 3101 / 3102 -------------------------------------------------------------------------------

    def analyse_flags(self, req: AnalysisRequest) -> list[tuple[Any, Any, list[Flag], Frame]]:
        rules = self.evaluator.select(req.stages, req.rule_ids)
        out = []
        for patient in req.patients:
            ds = patient_dataset(req, patient)
            history = self.history.get(ds.psn_no) if self.history.available else None
            tables = merge_history(ds, history)
            frame = Frame.build(tables, self.evaluator.kb, orders=ds.orders, focus=frozenset({ds.current_mdtrt_id}),
                                rx_by_sn=ds.rx_by_sn, trace_sales=self._trace_sales(ds))
            flags = _on_current_orders(self.evaluator.evaluate(frame, rules, self.params), patient, frame)
            out.append((patient, ds, flags, frame))
        return out

    def _trace_sales(self, ds) -> list[dict]:
        """Stored sales of the request's traceability codes, but those of the request's own encounters
        (the request is newer, as with history rows)."""
        codes = sorted({t["drug_trac_codg"] for t in ds.tables["drug_trac"]})
        if not codes or not self.history.available:
            return []
        own = {m["mdtrt_id"] for m in ds.tables["mdtrt"]}
        return [dict(s, feedetl_sn=HISTORY_SN_PREFIX + s["feedetl_sn"]) for s in self.history.trace_sales(codes)
                if s["mdtrt_id"] not in own]

    def _analyse(self, req: AnalysisRequest, base_call: dict, received: dt.datetime, t0: float,
                 resend: dict | None = None) -> Reply:
        rules = self.evaluator.select(req.stages, req.rule_ids)
        results: list[dict] = []
        logged: list[dict] = []
        first = req.patients[0].current
        dr = first.dr_codg or next((o.dr_codg for o in first.orders if o.dr_codg), None)
        for patient, _ds, flags, frame in self.analyse_flags(req):
            for flag in sorted(flags, key=lambda f: (f.rule.id, f.flag_key)):
                entry = self._result(req, patient.patn_id, patient.curr_mdtrt_id, flag, frame)
                results.append(entry)
                line_dr = None
                if flag.feedetl_sns and flag.feedetl_sns[0] in frame.line_by_sn:
                    line_dr = frame.line_by_sn[flag.feedetl_sns[0]]["bilg_dr_codg"]
                logged.append({"jr_id": entry["jr_id"], "day": base_call["day"], "infno": req.infno,
                               "rule_id": flag.rule.id, "sev_deg": int(flag.rule.severity), "vola_amt": flag.vola_amt,
                               "fixmedins_code": req.fixmedins_code, "dr_codg": line_dr or dr, "mdtrt_id": entry["mdtrt_id"]})
        ms = (time.perf_counter() - t0) * 1000
        total = sum((r["vola_amt"] for r in logged), Decimal("0.00"))
        reply = Reply(200, self.door.envelope(0, "", {"result": results}, received))
        self.store.record(CallRecord(
            dict(base_call, infno=req.infno, status="analysed", msgid=req.msgid,
                 trig_scen=",".join(str(s) for s in req.scenes), fixmedins_code=req.fixmedins_code, dr_codg=dr,
                 patn_hash=hash_identifier(req.patients[0].patn_id, self.store.id_key), mdtrt_id=req.patients[0].curr_mdtrt_id,
                 rules_run=",".join(r.id for r in rules), rules_fired=",".join(sorted({r["rule_id"] for r in logged})),
                 flags=len(results), vola_amt=total, infcode=0, err_msg=None, duration_ms=Decimal(f"{ms:.3f}")),
            logged, [], _kept(resend, reply, [p.patn_id for p in req.patients])))
        self.door.log_line(req.infno, f"scene={','.join(map(str, req.scenes))} patn={mask(req.patients[0].patn_id)} "
                       f"rules={len(rules)} flags={len(results)}", req.fixmedins_code, len(results), 0, t0, dr=dr)
        return reply

    def _result(self, req: AnalysisRequest, patn_id: str, curr_mdtrt_id: str, flag: Flag, frame: Frame) -> dict:
        rule = flag.rule
        # the wire field names one encounter of the finding: the request's current one when it is involved
        # (D03/D07 may key a finding on a past encounter from the history, which the HIS does not know);
        # jr_id keeps the flag's own encounter, so it stays the same whichever encounter is current
        shown_mdtrt_id = curr_mdtrt_id if curr_mdtrt_id in flag.mdtrt_ids else flag.mdtrt_id
        jr_id = hashlib.sha256(
            f"{req.fixmedins_code}|{patn_id}|{flag.mdtrt_id}|{rule.id}|{flag.flag_key}".encode()
        ).hexdigest()[:32]
        details = []
        for kind, sns in (("1", flag.feedetl_sns), ("2", flag.involved)):
            for sn in sns:
                rx = frame.rx_by_sn.get(sn)
                if rx is None:
                    continue  # a history line: no order of this request to name
                line = frame.line_by_sn.get(sn)
                amt = flag.line_amts.get(sn, Decimal("0.00")) if kind == "1" else Decimal("0.00")
                details.append({
                    "jrd_id": hashlib.sha256(f"{jr_id}|{rx}|{kind}".encode()).hexdigest()[:32],
                    "patn_id": patn_id,
                    "mdtrt_id": line["mdtrt_id"] if line else shown_mdtrt_id,
                    "rx_id": rx,
                    "vola_item_type": kind,
                    "vola_amt": float(amt),
                })
        basis = rule.legal_basis.regulation
        if rule.legal_basis.national_rule:
            basis += f"；国家规则：{rule.legal_basis.national_rule}"
        return {
            "jr_id": jr_id,
            "rule_id": rule.id,
            "rule_name": rule.name,
            "vola_cont": flag.message[:500],
            "patn_id": patn_id,
            "mdtrt_id": shown_mdtrt_id,
            "vola_amt": float(flag.vola_amt),
            "vola_amt_stas": "1" if flag.vola_amt > 0 else "2",
            "sev_deg": str(int(rule.severity)),
            "vola_evid": basis[:500],
            "vola_bhvr_type": BEHAVIOUR_TYPES.get(rule.id[:1], "1"),
            "task_id": req.task_id or "",
            "judge_result_detail_dtos": details,
        }

    # ---- 3103 --------------------------------------------------------------------------------------

    def _feedback(self, req: FeedbackRequest, base_call: dict, received: dt.datetime, t0: float,
                  resend: dict | None = None) -> Reply:
        rows = [{"received_at": received, "day": base_call["day"], "warn_type": req.warn_type,
                 "warn_rslt_id": w.warn_rslt_id, "dspo_way": w.dspo_way, "dspo_way_rea": w.dspo_way_rea,
                 "fixmedins_code": req.fixmedins_code} for w in req.warns]
        ms = (time.perf_counter() - t0) * 1000
        reply = Reply(200, self.door.envelope(0, "", {}, received))
        self.store.record(CallRecord(
            dict(base_call, infno=req.infno, status="feedback", msgid=req.msgid, fixmedins_code=req.fixmedins_code,
                 flags=0, vola_amt=Decimal("0.00"), infcode=0, err_msg=None, duration_ms=Decimal(f"{ms:.3f}")),
            [], rows, _kept(resend, reply)))
        ways = ",".join(w.dspo_way for w in req.warns)
        self.door.log_line(req.infno, f"warns={len(req.warns)} dspo_way={ways}", req.fixmedins_code, 0, 0, t0)
        return reply

    def close(self) -> None:
        self.evaluator.close()
        self.store.close()
        self.history.close()
