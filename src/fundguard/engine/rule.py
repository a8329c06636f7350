"""What a rule is: the validated content of one rule file (YAML, plus SQL for custom rules).

A rule is data. It names its kind (the shape of check it is an instance of) or brings its own SQL,
its parameters with defaults and units, the knowledge tables it reads, and examples that are both
its documentation and its tests. Nothing here knows any particular rule.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator, model_validator


class Severity(IntEnum):
    DEFINITE = 1  # 明确违规
    SUSPICIOUS = 2  # 高度可疑
    MILD = 3  # 轻度可疑

    @property
    def label(self) -> str:
        return {1: "明确违规", 2: "高度可疑", 3: "轻度可疑"}[int(self)]


class Scene(StrEnum):
    PRE = "pre"  # 事前提醒
    IN = "in"  # 事中审核
    POST = "post"  # 事后监管


class Granularity(StrEnum):
    LINE = "line"
    MDTRT = "mdtrt"
    PSN = "psn"
    ORG = "org"

    @property
    def key_column(self) -> str:
        return {"line": "feedetl_sn", "mdtrt": "mdtrt_id", "psn": "psn_no", "org": "org_code"}[self.value]


ParamValue = int | Decimal | str | bool
#: bounds a parameter value must keep to be bound the same way on every engine (SQL INTEGER; a decimal
#: every engine holds exactly)
INT_PARAM_LIMIT = 2**31
DECIMAL_PARAM_LIMIT = Decimal(10) ** 12
DECIMAL_PARAM_PLACES = 6


class Param(BaseModel):
    """A parameter a bureau may change; bound into SQL as `$name`, never formatted into it."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["int", "decimal", "str", "bool"]
    default: Any
    unit: str | None = None
    doc: str = Field(min_length=1)
    min: Decimal | None = None
    max: Decimal | None = None

    @model_validator(mode="after")
    def _default_matches_type(self) -> Param:
        self.default = self.coerce(self.default)
        return self

    @field_serializer("min", "max", when_used="json")
    def _bound_as_default(self, value: Decimal | None) -> int | str | None:
        """Bounds in JSON as the default is: a number for an int parameter, a decimal string otherwise."""
        if value is None:
            return None
        return int(value) if self.type == "int" and value == value.to_integral_value() else str(value)

    def range_text(self) -> str:
        """The allowed range for documentation: `0–1`, `≥ 0`, `≤ 24` or empty."""
        if self.min is not None and self.max is not None:
            return f"{self.min}–{self.max}"
        if self.min is not None:
            return f"≥ {self.min}"
        return f"≤ {self.max}" if self.max is not None else ""

    def coerce(self, value: Any) -> ParamValue:
        """The value as this parameter's type, or ValueError with a reason."""
        if self.type == "int":
            if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit())):
                raise ValueError(f"应为整数 (int), 得到 {value!r}")
            out: ParamValue = int(value)
            if not -INT_PARAM_LIMIT < out < INT_PARAM_LIMIT:
                raise ValueError(f"超出整数参数的范围 (绝对值小于 {INT_PARAM_LIMIT}), 得到 {out}")
        elif self.type == "decimal":
            if isinstance(value, bool):
                raise ValueError(f"应为数值 (decimal), 得到 {value!r}")
            try:
                out = Decimal(str(value))
            except Exception as exc:
                raise ValueError(f"应为数值 (decimal), 得到 {value!r}") from exc
            if not out.is_finite():
                raise ValueError(f"应为有限的数值 (不能是 NaN 或无穷大), 得到 {value!r}")
            if abs(out) >= DECIMAL_PARAM_LIMIT or out != out.quantize(Decimal(1).scaleb(-DECIMAL_PARAM_PLACES)):
                raise ValueError(f"应为绝对值小于 {DECIMAL_PARAM_LIMIT}、最多 {DECIMAL_PARAM_PLACES} 位小数的数值, 得到 {value!r}")
            # one form per value: the default's decimal places (or the value's own, when it needs more), so
            # `1000`, `1000.0` and `1000.00` give one rule version, one flag id and one message text
            needed = max(0, -int(out.normalize().as_tuple().exponent))
            places = -int(self.default.as_tuple().exponent) if isinstance(self.default, Decimal) else 0
            out = out.quantize(Decimal(1).scaleb(-max(needed, places)))
        elif self.type == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"应为 true/false, 得到 {value!r}")
            out = value
        else:
            if not isinstance(value, str):
                raise ValueError(f"应为字符串 (str), 得到 {value!r}")
            out = value
        if self.type in ("int", "decimal"):
            if self.min is not None and Decimal(out) < self.min:
                raise ValueError(f"不得小于 {self.min}, 得到 {out}")
            if self.max is not None and Decimal(out) > self.max:
                raise ValueError(f"不得大于 {self.max}, 得到 {out}")
        return out


class LegalBasis(BaseModel):
    model_config = ConfigDict(extra="forbid")

    regulation: str = Field(min_length=1)  # 《医疗保障基金使用监督管理条例》 article(s)
    national_rule: str | None = None  # the national rule name(s) it implements


class ExpectedFlag(BaseModel):
    """One flag an example expects: its key (by granularity, or `flag_key`) and its amount."""

    model_config = ConfigDict(extra="forbid")

    feedetl_sn: str | None = None
    mdtrt_id: str | None = None
    psn_no: str | None = None
    org_code: str | None = None
    flag_key: str | None = None
    vola_amt: Decimal

    def key(self) -> str:
        for value in (self.flag_key, self.feedetl_sn, self.mdtrt_id, self.psn_no, self.org_code):
            if value is not None:
                return value
        raise ValueError("expected flag has no key")

    @model_validator(mode="after")
    def _one_key(self) -> ExpectedFlag:
        keys = [v for v in (self.flag_key, self.feedetl_sn, self.mdtrt_id, self.psn_no, self.org_code) if v is not None]
        if len(keys) != 1:
            raise ValueError("每个预期疑点须且只须给出一个键: flag_key / feedetl_sn / mdtrt_id / psn_no / org_code")
        return self


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    given: dict[str, list[dict[str, Any]]]
    expect_flags: list[ExpectedFlag]
    params: dict[str, Any] = Field(default_factory=dict)  # per-example parameter overrides
    #: knowledge edition manifest for this example (default: the flags the rule requires, true)
    kb_manifest: dict[str, bool] = Field(default_factory=dict)
    known_gap: str | None = None  # a known gap: the example test is a strict xfail with this reason
    #: the boundary this example sits on, e.g. `max_cnt` (documentation; pairs at each threshold)
    threshold: str | None = None

    @property
    def is_violating(self) -> bool:
        return bool(self.expect_flags)


_ID = re.compile(r"^[A-Z][0-9]{2}$")
_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class Rule(BaseModel):
    """One rule file, validated."""

    model_config = ConfigDict(extra="forbid")

    id: str
    slug: str
    name: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    description: str = ""
    severity: Severity
    scenes: list[Scene] = Field(min_length=1)
    granularity: Granularity
    gz_codes: list[str] = Field(default_factory=list)
    legal_basis: LegalBasis
    kb_tables: list[str] = Field(default_factory=list)
    #: manifest flags of the knowledge edition that must be true, else the rule is skipped with a reason
    requires_kb_manifest: list[str] = Field(default_factory=list)
    #: optional contract inputs (`table` or `table.column`) the rule cannot check without: when the
    #: dataset lacks one, the batch audit skips the rule with a reason instead of reporting no flags
    requires_inputs: list[str] = Field(default_factory=list)
    kind: str
    #: the kind's configuration (structure, not tunables); validated by the kind
    config: dict[str, Any] = Field(default_factory=dict, alias="with")
    params: dict[str, Param] = Field(default_factory=dict)
    amount: str = Field(min_length=1)  # what vola_amt is, in words
    message: str = Field(min_length=1)  # Chinese template; {column} of the rule's output, {param}
    examples: list[Example] = Field(min_length=2)

    # filled by the registry
    category: str = ""
    path: str = ""
    sql: str | None = None  # custom SQL (kind `sql`), read from the `.sql` beside the YAML
    source_digest: str = ""  # hash of the rule file(s)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"规则编号应形如 A01, 得到 {v!r}")
        return v

    @field_validator("requires_inputs")
    @classmethod
    def _optional_inputs(cls, v: list[str]) -> list[str]:
        from fundguard.contract.tables import TABLES

        optional = {t.name for t in TABLES if t.optional} | {
            f"{t.name}.{c.name}" for t in TABLES for c in t.columns if c.optional
        }
        bad = [x for x in v if x not in optional]
        if bad:
            raise ValueError(f"requires_inputs 只能列出数据契约中的可选表或可选列 (如 checkin、psn.death_date), 得到 {bad}")
        return v

    @field_validator("slug")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError(f"slug 应为小写字母、数字和下划线, 得到 {v!r}")
        return v

    @field_validator("params")
    @classmethod
    def _param_names(cls, v: dict[str, Param]) -> dict[str, Param]:
        for name in v:
            if not _IDENT.match(name):
                raise ValueError(f"参数名应为小写标识符, 得到 {name!r}")
        return v

    @field_validator("gz_codes")
    @classmethod
    def _gz(cls, v: list[str]) -> list[str]:
        for code in v:
            if not re.match(r"^(GZ|ZB)\d{14}$", code):
                raise ValueError(f"国家规则编码应形如 GZ10000101001000, 得到 {code!r}")
        return v

    @property
    def runs_in_batch(self) -> bool:
        return Scene.POST in self.scenes

    @property
    def fix_path(self) -> Path | None:
        """The file an error in the rule's SQL is to be fixed in: the `.sql` of a `sql` rule, else the YAML
        that configures the kind; None for a rule built in memory."""
        if not self.path:
            return None
        return Path(self.path).with_suffix(".sql") if self.kind == "sql" else Path(self.path)

    @property
    def source(self) -> str:
        """` (<file>)` naming `fix_path` in a message; empty for a rule built in memory."""
        return f" ({self.fix_path})" if self.fix_path else ""

    def defaults(self) -> dict[str, ParamValue]:
        return {name: p.default for name, p in self.params.items()}

    def bind_params(self, overrides: dict[str, Any] | None) -> dict[str, ParamValue]:
        """Defaults with `overrides` applied; unknown names or bad values raise ParamError."""
        values = self.defaults()
        for name, value in (overrides or {}).items():
            if name not in self.params:
                known = ", ".join(sorted(self.params)) or "无参数"
                raise ParamError(f"规则 {self.id} 没有参数 {name!r} (可用参数: {known})")
            try:
                values[name] = self.params[name].coerce(value)
            except ValueError as exc:
                raise ParamError(f"规则 {self.id} 参数 {name}: {exc}") from exc
        return values


class ParamError(ValueError):
    """A parameter override names an unknown parameter or gives a bad value."""
