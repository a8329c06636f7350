"""Flags: the columns of `flags.parquet`, deterministic ids and versions, message templates.

`flag_id` = sha256(rule_id | rule_version | kb content hash | flag_key), first 32 hex digits.
`rule_version` = hash of the rule file(s), its kind's implementation and the effective parameters.
`flag_key` is the flag's identity within its rule: the granularity key, or `psn_no|detail`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

from fundguard.engine.kinds import get_kind
from fundguard.engine.rule import Granularity, ParamValue, Rule

FLAG_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("flag_id", pa.string()),
    ("run_id", pa.string()),
    ("rule_id", pa.string()),
    ("rule_version", pa.string()),
    ("sev_deg", pa.int32()),
    ("granularity", pa.string()),
    ("psn_no", pa.string()),
    ("mdtrt_id", pa.string()),
    ("setl_id", pa.string()),
    ("fixmedins_code", pa.string()),
    ("feedetl_sn", pa.list_(pa.string())),
    ("mdtrt_ids", pa.list_(pa.string())),
    ("vola_amt", pa.decimal128(16, 2)),
    ("message", pa.string()),
    ("evidence", pa.string()),
    ("flag_key", pa.string()),
)
FLAG_SCHEMA = pa.schema(list(FLAG_COLUMNS))

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def params_json(params: dict[str, ParamValue]) -> str:
    """Canonical JSON of parameter values (decimals as strings, keys sorted)."""

    def enc(v: Any) -> Any:
        return str(v) if isinstance(v, Decimal) else v

    return json.dumps({k: enc(v) for k, v in sorted(params.items())}, ensure_ascii=False, separators=(",", ":"))


def rule_version(rule: Rule, params: dict[str, ParamValue]) -> str:
    h = hashlib.sha256()
    for part in (rule.source_digest, get_kind(rule.kind).digest, params_json(params)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def flag_id(rule_id: str, version: str, kb_hash: str, flag_key: str) -> str:
    """The Python twin of the backend's SQL expression (for the real-time evaluator and tests)."""
    return hashlib.sha256(f"{rule_id}|{version}|{kb_hash}|{flag_key}".encode()).hexdigest()[:32]


def message_pieces(template: str) -> list[tuple[str, str]]:
    """The template as ("text", s) and ("field", name) pieces."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        if m.start() > pos:
            out.append(("text", template[pos : m.start()]))
        out.append(("field", m.group(1)))
        pos = m.end()
    if pos < len(template):
        out.append(("text", template[pos:]))
    return out


def render_message(template: str, values: dict[str, Any]) -> str:
    """Python rendering of a message template (the real-time evaluator's twin of the SQL one)."""
    return "".join(v if kind == "text" else ("" if values.get(v) is None else str(values[v])) for kind, v in message_pieces(template))


@dataclass(frozen=True)
class Context:
    """How a backend completes a rule's rows into flags: the joins back to the input tables (none when
    the rule's SQL already returns who and where) and the SQL of the flag's psn_no, mdtrt_id, setl_id,
    fixmedins_code, feedetl_sn list and mdtrt_ids list."""

    joins: str
    who: tuple[str, str, str, str]
    lines: str
    encs: str


def flag_context(granularity: Granularity, has: set[str], *, null: str, empty: str, list_of: Callable[[str], str]) -> Context:
    """The flag context for a rule of `granularity` whose SQL returns the columns `has`, in a backend's
    dialect (`null`: a NULL string, `empty`: an empty string list, `list_of(x)`: a one-element list)."""
    lines = "r.feedetl_sns" if "feedetl_sns" in has else None
    encs = "r.mdtrt_ids" if "mdtrt_ids" in has else None
    # a rule that already returns who and where (read from fee_lines / mdtrt_ctx) spares a join back to
    # the input tables: at 10M lines that join is a full scan per rule (on Spark, a shuffle of every line)
    carries_context = {"psn_no", "mdtrt_id", "setl_id", "fixmedins_code"} <= has
    g = granularity
    if g in (Granularity.LINE, Granularity.MDTRT) and carries_context:
        return Context(
            "", ("r.psn_no", "r.mdtrt_id", "r.setl_id", "r.fixmedins_code"),
            lines or (list_of("r.feedetl_sn") if g is Granularity.LINE else empty), encs or list_of("r.mdtrt_id"),
        )
    if g is Granularity.LINE:
        return Context(
            "JOIN feedetl f ON f.feedetl_sn = r.feedetl_sn JOIN mdtrt m ON m.mdtrt_id = f.mdtrt_id",
            ("f.psn_no", "f.mdtrt_id", "m.setl_id", "f.fixmedins_code"),
            lines or list_of("r.feedetl_sn"), encs or list_of("f.mdtrt_id"),
        )
    if g is Granularity.MDTRT:
        return Context(
            "JOIN mdtrt m ON m.mdtrt_id = r.mdtrt_id", ("m.psn_no", "m.mdtrt_id", "m.setl_id", "m.fixmedins_code"),
            lines or empty, encs or list_of("r.mdtrt_id"),
        )
    if g is Granularity.PSN:
        return Context(
            "", ("r.psn_no", "r.mdtrt_id" if "mdtrt_id" in has else null, null,
                 "r.fixmedins_code" if "fixmedins_code" in has else null),
            lines or empty, encs or empty,
        )
    org = "r.fixmedins_code" if "fixmedins_code" in has else "r.org_code"
    return Context("", (null, null, null, org), lines or empty, encs or empty)
