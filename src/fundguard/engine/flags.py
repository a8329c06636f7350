"""Flags: the columns of `flags.parquet`, deterministic ids and versions, message templates.

`flag_id` = sha256(rule_id | rule_version | kb content hash | flag_key), first 32 hex digits.
`rule_version` = hash of the rule file(s), its kind's implementation and the effective parameters.
`flag_key` is the flag's identity within its rule: the granularity key, or `psn_no|detail`.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from typing import Any

import pyarrow as pa

from fundguard.engine.kinds import get_kind
from fundguard.engine.rule import ParamValue, Rule

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
