"""The Spark batch backend: the same rule library on PySpark, giving the flags the DuckDB backend gives.

Rule SQL and the curated views are written in DuckDB's dialect with engine macros. Here they are
transpiled with SQLGlot (read `duckdb`, write `spark`), cached per SQL text (so per rule version):
each `{{ macro(...) }}` becomes a slot filled with the macro's Spark implementation, `$name`
parameters become Spark named markers bound by `spark.sql(args=...)`, and the numeric constructs
whose types differ between the engines are normalised (DuckDB divides and averages in DOUBLE, Spark
in DECIMAL, so both are done in DOUBLE here). Flags are assembled like the DuckDB backend's: same
flag_key, flag_id (sha256), message, and evidence JSON (null fields kept, plain decimals, timestamps
as `YYYY-MM-DD HH:MM:SS`).

Inputs: contract tables read from Parquet (`<dir>/<table>.parquet`, a file or a folder of parts; local
paths or any Hadoop-compatible URI) and cast to the contract's types, or copied from a DuckDB
connection (rule examples); knowledge tables from the edition's Arrow tables.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import re
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from fundguard.engine import macros, views
from fundguard.engine.backends.duckdb import RuleOutcome, RuleRuntimeError, sql_params
from fundguard.engine.flags import FLAG_COLUMNS, FLAG_SCHEMA, flag_context, message_pieces, params_json
from fundguard.engine.kinds import get_kind
from fundguard.engine.rule import ParamValue, Rule

if TYPE_CHECKING:  # pyspark is the optional `spark` extra
    from pyspark.sql import DataFrame, SparkSession

    from fundguard.contract.load import LoadReport

NAME = "spark"

#: session settings: results must not depend on the machine's time zone; legacy (non-ANSI) arithmetic
#: gives NULL where DuckDB gives NULL (bad casts aside, which the contract loader rules out)
SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    # decimal products keep their scale, as DuckDB's do: with precision loss allowed Spark cuts a running
    # sum (DECIMAL(38,4)) times a price (DECIMAL(16,4)) to 6 places, and 0.00499995 rounds to 0.01, not 0.00
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    # rule SQL reads the registered tables only: no `SELECT … FROM text.`/etc/…`` on files
    "spark.sql.runSQLOnFiles": "false",
    # small tables are registered as literal rows: `${env:…}` or `${spark.…}` in a data value (a code, a
    # name) must stay text, not be replaced by Spark's variable substitution
    "spark.sql.variable.substitute": "false",
}
#: extra settings for local mode (one machine): the driver is the executor, so it holds the cached
#: views; 2g ran out of heap on a 1M-line audit
LOCAL_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.driver.memory": "6g",
}

_SLOT = "__fgm_slot_{}__"
_MARKER_PREFIX = "__fgm_"
_CREATE = re.compile(r"^\s*CREATE\s+(TABLE|VIEW)\s+([A-Za-z_][A-Za-z0-9_]*)\s+AS\s+(.*)$", re.S | re.I)
_TS_FORMAT = "yyyy-MM-dd HH:mm:ss"
_JSON_OPTS = f"map('ignoreNullFields', 'false', 'timestampFormat', '{_TS_FORMAT}', 'timestampNTZFormat', '{_TS_FORMAT}', 'dateFormat', 'yyyy-MM-dd')"


class TranspileError(RuleRuntimeError):
    """Rule or view SQL that SQLGlot cannot turn into Spark SQL."""


# ---- session ----------------------------------------------------------------------------------------


class _Py4jInterruptNoise(logging.Filter):
    """Drops py4j's "KeyboardInterrupt/Exception while sending command." tracebacks, which it logs on the
    root logger when Ctrl-C stops a Spark job (about 45 lines before FundGuard's one-line message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "root" and "py4j" in record.pathname.replace("\\", "/").split("/")
                    and "while sending command" in record.getMessage())


_PY4J_NOISE = _Py4jInterruptNoise()


def spark_session(master: str | None = None, *, app_name: str = "fundguard", conf: dict[str, str] | None = None) -> SparkSession:
    """A SparkSession with FundGuard's settings (`master` None: an existing session's, else local[2])."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("Spark 引擎需要 PySpark: pip install 'fundguard[spark]' (并需要 Java 17)") from exc
    builder = SparkSession.builder.appName(app_name)
    settings = dict(SESSION_CONF)
    is_local = master is None or master.startswith("local")
    if is_local:
        settings.update(LOCAL_CONF)
    settings.update(conf or {})
    builder = builder.master(master or "local[2]")
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    for key in ("spark.sql.session.timeZone", "spark.sql.ansi.enabled", "spark.sql.variable.substitute"):
        spark.conf.set(key, settings[key])
    # Spark's warnings while rules run ("Broadcasting large task binary", plan strings truncated) are
    # nothing an operator acts on and break into the progress bar; errors still show
    spark.sparkContext.setLogLevel(os.environ.get("FUNDGUARD_SPARK_LOG_LEVEL", "ERROR"))
    if _PY4J_NOISE not in logging.getLogger().filters:
        logging.getLogger().addFilter(_PY4J_NOISE)
    return spark


# ---- transpiling ------------------------------------------------------------------------------------


def _marker(name: str) -> macros.MacroImpl:
    return lambda *args: f"{_MARKER_PREFIX}{name}({', '.join(args)})"


#: macros expanded to marker calls, so SQLGlot sees one function per macro and transpiles its arguments
_MARKERS: dict[str, macros.MacroImpl] = {name: _marker(name) for name in macros.MACRO_NAMES}


def _expand_markers(sql: str) -> str:
    return macros.expand(sql, _MARKERS)


def _to_double(node: exp.Expression) -> exp.Expression:
    return exp.Cast(this=node, to=exp.DataType.build("DOUBLE"))


def _is_small(name: str) -> bool:
    """Relations bounded by the knowledge base (not by the claims): knowledge tables, their code maps and
    match views, and the refund lines. Spark's size estimates for them (joins of views) are far too large."""
    name = name.lower()
    return name.startswith("kb_") or name in SMALL_VIEWS


def _small_relation(node: exp.Expression) -> bool:
    if isinstance(node, exp.Table):
        return _is_small(node.name)
    if isinstance(node, exp.Subquery):
        tables = list(node.find_all(exp.Table))
        return bool(tables) and all(_is_small(t.name) for t in tables)
    return False


def _broadcast_small_joins(tree: exp.Expression) -> None:
    """Hint `BROADCAST` for every join to a relation bounded by the knowledge base: the fee lines are then
    joined where they are, instead of both sides being shuffled (a sort-merge join per rule)."""
    for select in list(tree.find_all(exp.Select)):
        joins = select.args.get("joins") or []
        if not joins:
            continue
        source = select.args.get("from_") or select.args.get("from")
        # the FROM side too when small (an inner join can build on either side)
        rels = ([source.this] if source is not None and all(j.side in ("", None) for j in joins) else [])
        rels += [j.this for j in joins]
        aliases = []
        for rel in rels:
            if _small_relation(rel):
                alias = rel.alias_or_name
                if alias:
                    aliases.append(alias)
        if not aliases:
            continue
        hints = [exp.JoinHint(this="BROADCAST", expressions=[exp.to_table(a)]) for a in aliases]
        existing = select.args.get("hint")
        if existing is not None:
            hints = list(existing.expressions) + hints
        select.set("hint", exp.Hint(expressions=hints))


#: curated views bounded by the knowledge base or the refunds (see `_is_small`)
SMALL_VIEWS = frozenset({"diag_code_map", "diag_codes", "fee_refunds", "fee_netting", "fee_gone", "billed_codes"})


@functools.lru_cache(maxsize=4096)
def transpile(sql: str) -> str:
    """DuckDB-dialect SQL with engine macros → Spark SQL (macros expanded with their Spark implementation,
    `$name` → `:name`)."""
    try:
        tree = sqlglot.parse_one(_expand_markers(sql), read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise TranspileError(f"SQL 无法解析: {exc}") from exc
    # DuckDB divides decimals and integers in DOUBLE (and averages in DOUBLE); Spark keeps DECIMAL.
    for div in list(tree.find_all(exp.Div)):
        div.set("this", _to_double(div.this))
        div.set("expression", _to_double(div.expression))
    for avg in list(tree.find_all(exp.Avg)):
        avg.set("this", _to_double(avg.this))
    _broadcast_small_joins(tree)
    slots: list[str] = []
    markers = [
        n for n in tree.find_all(exp.Anonymous) if str(n.this).lower().startswith(_MARKER_PREFIX)
    ]
    # innermost first: an outer macro's arguments then already hold the inner one's slot
    markers.sort(key=lambda n: -n.depth)
    impls = macros.BACKENDS[NAME]
    for node in markers:
        name = str(node.this).lower()[len(_MARKER_PREFIX) :]
        args = [a.sql(dialect="spark") for a in node.expressions]
        slots.append(f"({impls[name](*args)})")
        node.replace(exp.column(_SLOT.format(len(slots) - 1)))
    text = tree.sql(dialect="spark")
    for i in range(len(slots) - 1, -1, -1):
        text = text.replace(_SLOT.format(i), slots[i])
    return text


@functools.lru_cache(maxsize=64)
def _view_plan(kb_tables: frozenset[str] | None) -> tuple[tuple[str, str], ...]:
    stmts = views.view_statements() if kb_tables is None else views.view_statements(set(kb_tables))
    out = []
    for stmt in stmts:
        m = _CREATE.match(stmt)
        if m:
            out.append((m.group(2), transpile(m.group(3))))
            continue
        # `CREATE TABLE name (col TYPE, ...)`: an empty table (a code map no selected rule needs)
        try:
            tree = sqlglot.parse_one(stmt, read="duckdb")
        except sqlglot.errors.ParseError as exc:
            raise TranspileError(f"视图语句无法解析: {exc}") from exc
        if not isinstance(tree, exp.Create) or not isinstance(tree.this, exp.Schema):
            raise TranspileError(f"视图语句应为 CREATE TABLE|VIEW name AS ...: {stmt.strip()[:60]!r}")
        cols = ", ".join(
            f"CAST(NULL AS {c.args['kind'].sql(dialect='spark')}) AS `{c.name}`" for c in tree.this.expressions
        )
        out.append((tree.this.this.name, f"SELECT {cols} WHERE FALSE"))
    return tuple(out)


def view_plan(kb_tables: set[str] | None = None) -> list[tuple[str, str]]:
    """The curated views as (name, Spark SQL) in build order (`kb_tables`: code maps for those only)."""
    return list(_view_plan(None if kb_tables is None else frozenset(kb_tables)))


def _is_ref(node: exp.Expression, names: set[str] | dict[str, str]) -> bool:
    """`node` reads one of the CTEs `names` (lower case: Spark's names are case-insensitive): a bare table
    name, no schema."""
    return (isinstance(node, exp.Table) and not node.args.get("db") and not node.args.get("catalog")
            and node.name.lower() in names)


def _count_refs(node: exp.Expression, names: set[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in node.find_all(exp.Table):
        if _is_ref(t, names):
            out[t.name.lower()] = out.get(t.name.lower(), 0) + 1
    return out


def _rename_refs(node: exp.Expression, new: dict[str, str]) -> exp.Expression:
    """Points the reads of CTEs at their stored views (keeping the CTE's name as the alias, so columns
    qualified by it still resolve)."""
    for t in list(node.find_all(exp.Table)):
        if _is_ref(t, new):
            if not t.alias:
                t.set("alias", exp.TableAlias(this=exp.to_identifier(t.name)))
            t.set("this", exp.to_identifier(new[t.name.lower()]))
    return node


@functools.lru_cache(maxsize=1024)
def split_ctes(sql: str, prefix: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """A rule's Spark SQL as (CTEs to compute first, each as (view name, query)), and the query that reads
    them.

    Spark inlines every deterministic CTE where it is read: a CTE read by three parts of a rule is
    computed three times (and a CTE it reads, with it). A CTE that would be computed more than once, counting
    the reads of the CTEs that read it, is computed once and stored under `prefix` + its name; the others
    stay CTEs. The flags are the same either way; only the work differs. SQL whose names could be read
    two ways (a WITH inside the query, a recursive WITH, a name defined twice) is left as it is.
    """
    tree = sqlglot.parse_one(sql, read="spark")
    with_ = tree.args.get("with_")
    if with_ is None or with_.args.get("recursive") or sum(1 for _ in tree.find_all(exp.With)) > 1:
        return (), sql
    ctes = list(with_.expressions)
    names = [c.alias_or_name.lower() for c in ctes]
    if len(set(names)) != len(names):
        return (), sql
    # a CTE sees the CTEs defined before it; its own name, or a later one, there is a table of that name
    body_refs = [_count_refs(c.this, set(names[:i])) for i, c in enumerate(ctes)]
    main = tree.copy()
    main.set("with_", None)
    main_refs = _count_refs(main, set(names))
    # how often each CTE would be computed, from the last (read only by the query) to the first
    n = len(ctes)
    runs, stored = [0] * n, [False] * n
    for i in range(n - 1, -1, -1):
        uses = main_refs.get(names[i], 0) + sum(body_refs[j].get(names[i], 0) * runs[j] for j in range(i + 1, n))
        stored[i] = uses >= 2
        runs[i] = 1 if stored[i] else uses
    if not any(stored):
        return (), sql
    new = {names[i]: f"{prefix}{names[i]}" for i in range(n) if stored[i]}

    def body(j: int) -> exp.Expression:
        """CTE j (its definition) reading the stored views of the CTEs before it."""
        return _rename_refs(ctes[j].copy(), {k: v for k, v in new.items() if k in names[:j]})

    def inlined_deps(refs: dict[str, int], acc: set[int]) -> set[int]:
        """The CTEs left inline that `refs` read, directly or through one another."""
        for name in refs:
            j = names.index(name)
            if not stored[j] and j not in acc:
                acc.add(j)
                inlined_deps(body_refs[j], acc)
        return acc

    steps = []
    for i in range(n):
        if stored[i]:
            query = body(i).this
            deps = sorted(inlined_deps(body_refs[i], set()))
            if deps:
                query.set("with_", exp.With(expressions=[body(j) for j in deps]))
            steps.append((new[names[i]], query.sql(dialect="spark")))
    kept = [body(j) for j in sorted(inlined_deps(main_refs, set()))]
    _rename_refs(main, new)
    if kept:
        main.set("with_", exp.With(expressions=kept))
    return tuple(steps), main.sql(dialect="spark")


def rule_spark_sql(rule: Rule) -> str:
    """The Spark SQL a rule runs (transpiled once per distinct rule SQL, i.e. per rule version)."""
    try:
        return transpile(get_kind(rule.kind).batch_sql(rule))
    except TranspileError as exc:
        raise TranspileError(f"规则 {rule.id}{rule.source} 的 SQL 无法转换为 Spark SQL: {exc}") from exc


# ---- types and inputs -------------------------------------------------------------------------------


def spark_type(duckdb_type: str) -> str:
    """A contract/kb column's DuckDB type as a Spark SQL type (timestamps are zone-less like DuckDB's)."""
    t = duckdb_type.strip().upper()
    if t.startswith("DECIMAL"):
        return t.replace(" ", "")
    mapping = {
        "VARCHAR": "STRING",
        "TEXT": "STRING",
        "INTEGER": "INT",
        "BIGINT": "BIGINT",
        "DOUBLE": "DOUBLE",
        "DATE": "DATE",
        "TIMESTAMP": "TIMESTAMP_NTZ",
        "BOOLEAN": "BOOLEAN",
    }
    if t.endswith("[]"):
        return f"ARRAY<{spark_type(t[:-2])}>"
    return mapping[t]


def _typed(df: DataFrame, columns: list[tuple[str, str]]) -> DataFrame:
    """`df` with exactly `columns` (name, DuckDB type): cast, missing ones NULL."""
    from pyspark.sql import functions as F

    present = set(df.columns)
    return df.select(
        [
            (F.col(f"`{name}`") if name in present else F.lit(None)).cast(spark_type(kind)).alias(name)
            for name, kind in columns
        ]
    )


def contract_columns(table_name: str) -> list[tuple[str, str]]:
    from fundguard.contract.tables import TABLES_BY_NAME

    return [(c.name, c.duckdb_type) for c in TABLES_BY_NAME[table_name].columns]


#: tables up to this many rows are registered as inline VALUES: a local relation Spark plans and runs
#: without a job, and an empty one lets the optimiser drop the branches that read it (Spark parses the
#: VALUES text: ~0.8 s for 1,000 rows, so larger tables go through Arrow)
INLINE_ROWS = 100


def register_arrow(spark: SparkSession, name: str, table: pa.Table, columns: list[tuple[str, str]]) -> None:
    if table.num_rows <= INLINE_ROWS:
        spark.sql(f"CREATE OR REPLACE TEMP VIEW `{name}` AS {_values_sql(table, columns)}")  # noqa: S608
    else:
        _typed(spark.createDataFrame(table), columns).createOrReplaceTempView(name)


def _empty(spark: SparkSession, columns: list[tuple[str, str]]) -> DataFrame:
    return spark.sql(_values_sql(pa.table({}), columns))


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return f"'{value}'"
    if isinstance(value, dt.datetime):
        return f"'{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'"
    if isinstance(value, list | tuple):
        return "array(" + ", ".join(_literal(v) for v in value) + ")"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _values_sql(table: pa.Table, columns: list[tuple[str, str]]) -> str:
    """A SELECT of `table`'s rows as literals, cast to `columns` (absent columns NULL)."""
    present = set(table.column_names)
    casts = ", ".join(
        f"CAST({f'c{i}' if n in present else 'NULL'} AS {spark_type(k)}) AS `{n}`" for i, (n, k) in enumerate(columns)
    )
    if table.num_rows == 0:
        return f"SELECT {', '.join(f'CAST(NULL AS {spark_type(k)}) AS `{n}`' for n, k in columns)} WHERE FALSE"
    data = {n: table.column(n).to_pylist() for n, _ in columns if n in present}
    rows = []
    for r in range(table.num_rows):
        rows.append("(" + ", ".join(_literal(data[n][r]) if n in present else "NULL" for n, _ in columns) + ")")
    names = ", ".join(f"c{i}" for i in range(len(columns)))
    return f"SELECT {casts} FROM VALUES {', '.join(rows)} AS t({names})"


def register_kb_tables(spark: SparkSession, tables: dict[str, pa.Table]) -> None:
    """Create every kb_* temp view from Arrow tables (an edition's, or rows given by an example)."""
    from fundguard.kb.tables import KB_TABLES

    for name, columns in KB_TABLES.items():
        table = tables.get(name)
        register_arrow(spark, name, table if table is not None else pa.table({}), list(columns))


def register_empty(spark: SparkSession) -> None:
    """Every contract and kb table as an empty temp view (so views can be defined before any data)."""
    from fundguard.contract.tables import TABLES
    from fundguard.kb.tables import KB_TABLES

    for t in TABLES:
        register_arrow(spark, t.name, pa.table({}), contract_columns(t.name))
    for name, columns in KB_TABLES.items():
        register_arrow(spark, name, pa.table({}), list(columns))


def register_from_duckdb(spark: SparkSession, con: Any) -> None:
    """Copy the contract and kb tables of a DuckDB connection (a loaded dataset) into Spark temp views."""
    from fundguard.contract.tables import TABLES
    from fundguard.kb.tables import KB_TABLES

    names = [(t.name, contract_columns(t.name)) for t in TABLES] + [(n, list(c)) for n, c in KB_TABLES.items()]
    existing = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    for name, columns in names:
        if name in existing:
            table = con.sql(f"SELECT * FROM {name}").to_arrow_table()  # noqa: S608
        else:
            table = pa.table({})
        register_arrow(spark, name, table, columns)


class DatasetError(RuntimeError):
    """A table the contract requires is missing from the dataset (Spark input)."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class UnreadableInputError(RuntimeError):
    """An input file Spark cannot read (the DuckDB loader may have read it: nanosecond timestamps)."""

    def __init__(self, path: str, exc: Exception):
        self.path = path
        reason = _short(exc)
        hint = ""
        if "NANOS" in reason:
            hint = ("时间列为纳秒精度 TIMESTAMP(NANOS), Spark 只读微秒精度: 请以微秒写出 "
                    "(pyarrow: coerce_timestamps='us'; pandas: to_parquet(..., coerce_timestamps='us')); ")
        elif "FileNotFoundException" in str(exc) or "does not exist" in str(exc):
            # the driver saw the file (its checks passed); an executor on another host did not
            hint = ("执行器找不到该文件: 在集群上运行时, 本地路径须在每个执行器上以同一路径可读 (共享存储), "
                    "或把数据放到 hdfs://、s3a:// 等集群可读的位置; ")
        self.message = f"Spark 无法读取该文件: {hint}{reason}"
        super().__init__(f"{path}: {self.message}")


def read_contract_tables(spark: SparkSession, uri: str) -> dict[str, list[str] | None]:
    """Read `<uri>/<table>.parquet` for every contract table into temp views; returns the columns each
    file has (None: no file).

    A missing optional table becomes an empty view; a missing required one raises DatasetError.
    """
    from fundguard.contract.tables import TABLES

    base = uri.rstrip("/")
    found: dict[str, list[str] | None] = {}
    for table in TABLES:
        path = f"{base}/{table.name}.parquet"
        columns = contract_columns(table.name)
        if _path_exists(spark, path):
            try:
                raw = spark.read.parquet(path)
                found[table.name] = raw.columns
            except Exception as exc:  # Spark cannot read the file's schema: name the file, not the Java trace
                raise UnreadableInputError(path, exc) from None
            df = _typed(raw, columns)
        elif table.optional:
            df = _empty(spark, columns)
            found[table.name] = None
        else:
            raise DatasetError(path, "缺少必需的表文件 (Spark 引擎读取 Parquet)")
        df.createOrReplaceTempView(table.name)
    return found


def _path_exists(spark: SparkSession, path: str) -> bool:
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return bool(fs.exists(hpath))


# ---- the backend ------------------------------------------------------------------------------------


def _json_value(expr: str, spark_dtype: Any) -> str:
    """A JSON text for one value as DuckDB's to_json writes it."""
    from pyspark.sql.types import DecimalType

    if isinstance(spark_dtype, DecimalType) and spark_dtype.precision <= 15:
        # DuckDB's to_json writes decimals of width <= 15 as DOUBLE (1.3500 -> 1.35, 10.00 -> 10.0): the
        # shortest form of a decimal with <= 15 digits is the decimal without trailing zeros
        text = f"CAST({expr} AS STRING)"
        if spark_dtype.scale == 0:
            return f"COALESCE(concat({text}, '.0'), 'null')"
        return f"COALESCE(regexp_replace(regexp_replace({text}, '0+$', ''), '[.]$', '.0'), 'null')"
    if isinstance(spark_dtype, DecimalType):
        # to_json would print small decimals of scale > 6 as 0E-8; DuckDB prints them plainly
        return f"COALESCE(CAST({expr} AS STRING), 'null')"
    from pyspark.sql.types import TimestampNTZType, TimestampType

    if isinstance(spark_dtype, TimestampType | TimestampNTZType):
        # as DuckDB writes it: seconds, and a fraction only when there is one ("09:00:00.5")
        return f"COALESCE(concat('\"', CAST({expr} AS STRING), '\"'), 'null')"
    j = f"to_json(named_struct('v', {expr}), {_JSON_OPTS})"
    return f"substr({j}, 6, length({j}) - 6)"


#: knowledge code maps: their inputs are the distinct billed item / diagnosis codes (bounded by the
#: catalog and ICD-10, not by the claims) and the knowledge tables, so with the edition at hand they are
#: computed on the driver by the same view SQL in DuckDB (one small job to collect the codes) instead of
#: as fifteen unioned Spark joins, and broadcast from there
DRIVER_VIEWS: dict[str, tuple[str, Any]] = {
    "kb_code_map": ("billed_codes", views.code_map_sql),
    "diag_code_map": ("diag_codes", views.diag_map_sql),
}

#: views reused by most rules: kept in memory for a whole audit (`materialise=True`)
CACHED_VIEWS = frozenset({"fee_refunds", "fee_netting", "fee_gone", "billed_codes", "diag_codes", "fee_lines", "mdtrt_ctx", "kb_code_map", "diag_code_map"})


def _display(expr: str, spark_dtype: Any) -> str:
    """A column as message text, as the DuckDB backend writes it: quantities and unit prices (more than
    2 decimals) without trailing zeros."""
    from pyspark.sql.types import DecimalType

    if isinstance(spark_dtype, DecimalType) and spark_dtype.scale > 2:
        return f"CASE WHEN {expr} = 0 THEN '0' ELSE TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST({expr} AS STRING))) END"
    return f"CAST({expr} AS STRING)"


class SparkBackend:
    """Runs rules on a SparkSession whose temp views hold the contract and kb tables.

    `materialise=True` (audits): the shared views are computed once and cached. `materialise=False`
    (examples, tests): the views are SQL views over the table names, so one `build_views()` serves every
    dataset later registered under those names in the same session.
    """

    def __init__(self, spark: SparkSession, *, materialise: bool = True, edition: Any = None):
        self.spark = spark
        self.materialise = materialise
        #: the knowledge edition (`kb.Edition`) the kb_* views were registered from: lets the code maps
        #: be computed on the driver (see DRIVER_VIEWS)
        self.edition = edition
        self._flags: list[tuple[str, pa.Table]] = []
        self._cached: list[DataFrame] = []

    def build_views(self, kb_tables: set[str] | None = None) -> float:
        start = time.perf_counter()
        self._unpersist()
        driver = None  # the DuckDB connection for DRIVER_VIEWS, opened (with the edition) at the first
        try:
            for name, sql in view_plan(kb_tables):
                if self.materialise and self.edition is not None and name in DRIVER_VIEWS:
                    driver = driver or self._driver_connection()
                    self._driver_view(driver, name, kb_tables)
                elif self.materialise and name in CACHED_VIEWS:
                    # computed now and cut from its lineage: every rule reads the stored rows through a plain
                    # scan, instead of re-planning (and, where the cache lookup misses, re-running) the view
                    df = self.spark.sql(sql).localCheckpoint(eager=True)
                    self._cached.append(df)
                    df.createOrReplaceTempView(name)
                else:
                    self.spark.sql(f"CREATE OR REPLACE TEMP VIEW `{name}` AS {sql}")  # noqa: S608
        finally:
            if driver is not None:
                driver.close()
        return time.perf_counter() - start

    def _driver_connection(self) -> Any:
        import duckdb

        con = duckdb.connect()
        self.edition.register(con)
        return con

    def _driver_view(self, con: Any, name: str, kb_tables: set[str] | None) -> None:
        source, statement = DRIVER_VIEWS[name]
        con.register(f"_{source}", self.spark.table(source).toArrow())
        con.execute(f"CREATE TABLE {source} AS SELECT * FROM _{source}")  # noqa: S608
        con.unregister(f"_{source}")
        con.execute(macros.expand(statement(kb_tables), "duckdb"))
        table = con.sql(f"SELECT * FROM {name}").to_arrow_table()  # noqa: S608
        columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {name}").fetchall()]
        register_arrow(self.spark, name, table, columns)

    def _unpersist(self) -> None:
        for df in self._cached:
            df.unpersist()
        self._cached = []

    def rule_sql(self, rule: Rule) -> str:
        return rule_spark_sql(rule)

    def count(self, sql: str) -> int:
        """A portable count query (no parameters) over the views."""
        return int(self.spark.sql(transpile(sql)).collect()[0][0])

    def run_rule(
        self,
        rule: Rule,
        params: dict[str, ParamValue],
        *,
        run_id: str,
        version: str,
        kb_hash: str,
    ) -> RuleOutcome:
        from pyspark.sql import functions as F

        start = time.perf_counter()
        sql = self.rule_sql(rule)
        used = sql_params(macros.expand(get_kind(rule.kind).batch_sql(rule), "duckdb"))
        unknown = [p for p in used if p not in params]
        if unknown:
            raise RuleRuntimeError(f"规则 {rule.id}{rule.source} 的 SQL 使用了未声明的参数: {', '.join('$' + u for u in unknown)}")
        views: list[DataFrame] = []
        try:
            steps, main = split_ctes(sql, f"_cte_{rule.id}_") if self.materialise else ((), sql)
            for name, step in steps:
                df = self.spark.sql(step, args=_args_in(step, params, used)).localCheckpoint(eager=True)
                views.append(df)
                df.createOrReplaceTempView(name)
            r = self.spark.sql(main, args=_args_in(main, params, used))
            if "vola_amt" in r.columns:
                # an amount beyond DECIMAL(16,2) stops the run, as DuckDB's cast does (non-ANSI Spark
                # would write NULL)
                amt = F.round(F.col("vola_amt"), 2).cast("decimal(16,2)")
                too_big = F.col("vola_amt").isNotNull() & amt.isNull()
                r = r.withColumn("vola_amt", F.when(too_big, F.raise_error(
                    F.concat(F.lit("vola_amt 超出 DECIMAL(16,2): "), F.col("vola_amt").cast("string")))).otherwise(amt)
                    .cast("decimal(16,2)"))
            # flags are few next to the data: each rule's are collected to the driver in one job
            table = self._assemble(rule, params, r, run_id=run_id, version=version, kb_hash=kb_hash).toArrow()
        except RuleRuntimeError:
            raise
        except Exception as exc:  # py4j / analysis errors: name the rule
            if _CANCELLED.search(str(exc)):
                # Ctrl-C: PySpark's handler cancels every job, and the cancelled job's error may arrive
                # before the KeyboardInterrupt does; it is the interruption, not the rule's fault
                raise KeyboardInterrupt from None
            raise RuleRuntimeError(f"规则 {rule.id}{rule.source} 的 SQL 在 Spark 上执行失败: {_short(exc)}") from exc
        finally:
            for df in views:
                df.unpersist()
        table = table.select([n for n, _ in FLAG_COLUMNS]).cast(FLAG_SCHEMA)
        keys = table.column("flag_key").to_pylist()
        if len(set(keys)) != len(keys):
            seen: dict[Any, int] = {}
            for k in keys:
                seen[k] = seen.get(k, 0) + 1
            dup = min((k for k, c in seen.items() if c > 1), key=lambda k: (k is None, k or ""))
            raise RuleRuntimeError(f"规则 {rule.id}{rule.source} 对同一键 {dup!r} 返回了 {seen[dup]} 行 (每个疑点应只有一行)")
        self._flags.append((rule.id, table))
        amounts = table.column("vola_amt").to_pylist()
        total = sum((a for a in amounts if a is not None), Decimal(0))
        return RuleOutcome(table.num_rows, total, time.perf_counter() - start)

    def _assemble(self, rule: Rule, params: dict, r: DataFrame, *, run_id: str, version: str, kb_hash: str) -> DataFrame:
        g = rule.granularity
        key = g.key_column
        cols = r.columns
        if key not in cols or "vola_amt" not in cols:
            raise RuleRuntimeError(f"规则 {rule.id}{rule.source} 的 SQL 须返回 {key} 与 vola_amt 列, 实际返回: {', '.join(cols)}")
        has = set(cols)
        types = {f.name: f.dataType for f in r.schema.fields}
        empty = "CAST(array() AS ARRAY<STRING>)"
        if "flag_key" in has:
            flag_key = "CAST(r.flag_key AS STRING)"
        elif "flag_detail" in has:
            flag_key = f"r.{key} || '|' || CAST(r.flag_detail AS STRING)"
        else:
            flag_key = f"CAST(r.{key} AS STRING)"
        ctx = flag_context(g, has, null="CAST(NULL AS STRING)", empty=empty, list_of=lambda x: f"array({x})")

        args: dict[str, Any] = {
            "_run_id": run_id,
            "_rule_id": rule.id,
            "_version": version,
            "_kb_hash": kb_hash,
            "_sev": int(rule.severity),
            "_gran": g.value,
            "_params_json": params_json(params),
        }
        parts = []
        for i, (kind, value) in enumerate(message_pieces(rule.message)):
            if kind == "field" and value in has:
                parts.append(f"COALESCE({_display(f'r.`{value}`', types[value])}, '')")
            elif kind == "field" and value in params:
                args[f"_m{i}"] = str(params[value])
                parts.append(f":_m{i}")
            elif kind == "field":
                raise RuleRuntimeError(
                    f"规则 {rule.id}{rule.source} 的 message 引用了 {{{value}}}, 它既不是 SQL 输出列也不是参数 (输出列: {', '.join(cols)})"
                )
            else:
                args[f"_m{i}"] = value
                parts.append(f":_m{i}")
        message = f"concat({', '.join(parts)})" if parts else "''"
        ev_cols = [c for c in cols if c.startswith("ev_")]
        if ev_cols:
            pieces = ", ',', ".join(f"'\"{c[3:]}\":', {_json_value('r.`' + c + '`', types[c])}" for c in ev_cols)
            values = f"concat('{{', {pieces}, '}}')"
        else:
            values = "'{}'"
        evidence = f"""concat('{{"params":', :_params_json, ',"values":', {values}, '}}')"""
        names = [n for n, _ in FLAG_COLUMNS]
        exprs = [
            "substr(sha2(concat(:_rule_id, '|', :_version, '|', :_kb_hash, '|', r._flag_key), 256), 1, 32)",
            ":_run_id",
            ":_rule_id",
            ":_version",
            "CAST(:_sev AS INT)",
            ":_gran",
            *[f"CAST({w} AS STRING)" for w in ctx.who],
            f"CAST({ctx.lines} AS ARRAY<STRING>)",
            f"CAST({ctx.encs} AS ARRAY<STRING>)",
            "r.vola_amt",
            message,
            evidence,
            "r._flag_key",
        ]
        select = ",\n       ".join(f"{e} AS {n}" for e, n in zip(exprs, names, strict=True))
        view = f"_r_{rule.id}"
        r.createOrReplaceTempView(view)
        # the rule's result (flags, few next to the fee lines) is broadcast to the context join
        hint = "/*+ BROADCAST(r) */ " if ctx.joins else ""
        sql = f"""
WITH r AS (SELECT *, {flag_key} AS _flag_key FROM {view} r)
SELECT {hint}{select}
FROM r {ctx.joins}
"""  # noqa: S608
        return self.spark.sql(sql, args=args)

    def flag_rows(self, rule_id: str | None = None) -> list[tuple]:
        rows = [
            row
            for rid, table in self._flags
            if rule_id is None or rid == rule_id
            for row in zip(table.column("flag_key").to_pylist(), table.column("vola_amt").to_pylist(), strict=True)
        ]
        return sorted(rows, key=lambda r: (r[0] is None, r[0] or ""))

    def flags_table(self) -> pa.Table:
        """Every flag of the run as an Arrow table with the flags schema, ordered by flag_id."""
        if not self._flags:
            return FLAG_SCHEMA.empty_table()
        table = pa.concat_tables([t for _, t in self._flags])
        return table.sort_by([("flag_id", "ascending")])

    def write_flags(self, path: Path) -> None:
        table = self.flags_table()
        # DuckDB's Parquet writer marks a column required when it holds no NULL: the same file schema
        schema = pa.schema([f.with_nullable(table.column(f.name).null_count > 0) for f in FLAG_SCHEMA])
        pq.write_table(table.cast(schema), str(path))

    def close(self) -> None:
        self._unpersist()
        self._flags = []


def _args_in(sql: str, params: dict[str, ParamValue], used: list[str]) -> dict[str, ParamValue] | None:
    """The parameters a (part of a) rule's Spark SQL names (`:name`)."""
    return {p: params[p] for p in used if re.search(rf":{p}\b", sql)} or None


def _short(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__


# ---- an audit run on Spark ----------------------------------------------------------------------------


def _listing_sha256(spark: SparkSession, path: str) -> str:
    """The sha256 of a folder's (or a file's) listing as Hadoop sees it: every file's path below `path`,
    size and modification time, sorted. Not a content hash: a copy of the same parts elsewhere in time
    gets another one."""
    import hashlib

    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    root = fs.makeQualified(hpath).toString().rstrip("/")
    entries = []
    files = fs.listFiles(hpath, True)
    while files.hasNext():
        status = files.next()
        name = status.getPath().toString()
        entries.append([name[len(root):] if name.startswith(root) else name, status.getLen(), status.getModificationTime()])
    return hashlib.sha256(json.dumps(sorted(entries)).encode()).hexdigest()


def _local_sha256(uri: str) -> str | None:
    """The sha256 of a local Parquet file (as the DuckDB loader records it); None for folders and URIs."""
    from fundguard.contract.load import file_sha256

    path = _local_dir(uri)
    return file_sha256(path) if path is not None and path.is_file() else None


#: the master URLs Spark 4 accepts (SparkSubmit: yarn, or spark://, k8s://, local…; Mesos was dropped)
_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\s*\d+)?\])?|yarn|(spark|k8s)://\S+)$")

#: a job cancelled by Ctrl-C (PySpark's handler cancels all jobs) or by hand (a stopped context, e.g. the
#: driver out of memory, is a failure and is not matched)
_CANCELLED = re.compile(r"cancelled as part of cancellation of all jobs|Job \d+ cancelled")


def _master_addresses(master: str) -> list[tuple[str, str]]:
    """The (host, port) pairs of a standalone master URL, `spark://h1:7077[,h2:7077…]`, as written (an
    IPv6 host keeps its brackets; the caller checks the port)."""
    return [address.strip().rpartition(":")[::2] for address in master[len("spark://"):].split(",")]


def check_master_reachable(master: str, timeout: float = 5.0) -> None:
    """A standalone master (spark://host:port, or several for a standby set) answers a TCP connection;
    otherwise one clear line instead of Spark's minute of retries and Java traces. Other masters (yarn,
    k8s://) are located by their own configuration and are not checked here."""
    import socket

    from fundguard.engine.run import AuditError

    if not master.startswith("spark://"):
        return
    reasons = []
    for host, port in _master_addresses(master):
        if not host or not port.isdigit():
            raise AuditError(f"--spark-master {master!r} 无效: 应为 spark://主机:端口")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return
        except OSError as exc:
            reasons.append(f"{host}:{port} ({exc.strerror or type(exc).__name__})")
    raise AuditError(f"无法连接 Spark master {master}: {'; '.join(reasons)}。请确认地址与端口, 以及本机可以访问该主机")


def _web_ui_hint(master: str) -> str:
    """When a spark:// address answers HTTP, it is the master's web UI, not its RPC port: say so (Spark
    itself only reports that all masters are unresponsive)."""
    import socket

    if not master.startswith("spark://"):
        return ""
    for host, port in _master_addresses(master):
        if not port.isdigit():
            continue
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=3) as sock:
                sock.settimeout(3)
                sock.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
                if sock.recv(5) == b"HTTP/":
                    return (f"。{host}:{port} 是网页 (HTTP) 端口, 不是 master 的服务端口: 请用 master 网页顶部显示的 "
                            "spark://主机:端口 (默认 7077)")
        except OSError:
            continue
    return ""


#: seconds to wait for a standalone master to give the audit an executor (FUNDGUARD_SPARK_WAIT_SECONDS)
EXECUTOR_WAIT_SECONDS = 120.0


def wait_for_executors(session: SparkSession, master: str, timeout: float | None = None) -> None:
    """A standalone master with no worker, or none large enough for the executor's cores and memory,
    accepts the application and then lets every job wait for ever: wait for one executor, else one line."""
    from fundguard.engine.run import AuditError

    if timeout is None:
        given = os.environ.get("FUNDGUARD_SPARK_WAIT_SECONDS", str(EXECUTOR_WAIT_SECONDS))
        try:
            timeout = float(given)
        except ValueError:
            raise AuditError(f"FUNDGUARD_SPARK_WAIT_SECONDS={given!r} 无效: 应为秒数") from None
    tracker = session.sparkContext._jsc.sc()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tracker.getExecutorMemoryStatus().size() > 1:  # the driver counts as one
            return
        time.sleep(0.5)
    raise AuditError(
        f"Spark master {master} 在 {timeout:.0f} 秒内没有分配执行器: 没有在运行的 worker, 或 worker 的空闲核数/内存"
        "小于执行器的要求 (spark.executor.cores / spark.executor.memory), 或其他应用占用了全部核数 (spark.cores.max)。"
        "请查看 master 网页; 等待时间可由 FUNDGUARD_SPARK_WAIT_SECONDS 调整"
    )


def _local_dir(uri: str) -> Path | None:
    """The folder of a local dataset (a plain path, or a file: URI in any of its forms: file:///p,
    file:/p as Spark and Hadoop print it, file://localhost/p, percent-encoded); None for hdfs://, s3a://…"""
    from urllib.parse import unquote, urlsplit

    if uri.startswith("file:"):
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            return None  # file://otherhost/…: not this machine's disk
        return Path(unquote(parts.path))
    return None if "://" in uri else Path(uri)


def check_local_dataset(directory: Path) -> LoadReport | None:
    """A local dataset passes the contract loader's checks (all or nothing, file/row/column errors)
    before Spark starts, as on the DuckDB engine; returns the loader's report (rows and file hashes).
    None for part folders (`feedetl.parquet/part-*`), which the loader does not read; cluster URIs are
    not checked either: there `fundguard validate` is the data pipeline's last step."""
    import duckdb

    from fundguard.contract import load_dataset
    from fundguard.contract.tables import TABLES
    from fundguard.engine.run import IN_PLACE_TABLES, _duckdb_config

    csv = [f"{t.name}.csv" for t in TABLES
           if (directory / f"{t.name}.csv").exists() and not (directory / f"{t.name}.parquet").exists()]
    if csv:
        from fundguard.contract.load import ContractError, Issue

        raise ContractError([
            Issue(name, None, None, "Spark 引擎只读取 Parquet, 此表是 CSV: 请先转换为同名 .parquet 文件 "
                  "(列名与类型按数据契约), 或用 DuckDB 引擎直接审核 CSV")
            for name in csv
        ])
    if any((directory / f"{t.name}.parquet").is_dir() for t in TABLES):
        return None
    con = duckdb.connect(config=_duckdb_config())
    try:
        con.execute("SET enable_progress_bar = false")
        return load_dataset(directory, con, in_place=IN_PLACE_TABLES, require_rows=True)
    finally:
        con.close()


def run_audit_spark(
    dataset: Path | str,
    out: Path | str,
    *,
    kb: Path | str | None = None,
    rules: list[str] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    params_file: Path | str | None = None,
    progress: Any = None,
    registry: Any = None,
    spark_master: str | None = None,
    spark: SparkSession | None = None,
) -> dict:
    """`run_audit` on Spark: the same rules, parameters, flags and run.json (`engine: spark`).

    The dataset is `<dataset>/<table>.parquet` for each contract table (a file or a folder of parts; a
    local path or a Hadoop-compatible URI such as hdfs://… or s3a://…), read with the contract's types.
    A local dataset of single files is checked by the contract loader first (`check_local_dataset`);
    on a cluster the loader's row checks are not repeated: validate a dataset (`fundguard validate`)
    before auditing it there.
    """
    import datetime as _dt

    from fundguard import kb as kb_pkg
    from fundguard.contract.tables import TABLES
    from fundguard.engine.flags import rule_version
    from fundguard.engine.registry import load_registry
    from fundguard.engine.run import (
        AuditError,
        Auditor,
        absent_inputs,
        compute_run_id,
        dataset_warnings,
        kb_flags,
        sample_kb_warnings,
        select_and_bind,
        unjudged_warnings,
        write_run,
    )

    started = _dt.datetime.now(_dt.UTC)
    registry = registry or load_registry()
    selected, bound = select_and_bind(registry, rules, params, params_file)
    kb_path = Path(kb) if kb else kb_pkg.default_edition_path()
    edition = kb_pkg.Edition.open(kb_path)
    uri = str(dataset)
    local = _local_dir(uri)
    report = check_local_dataset(local) if local is not None else None

    if spark is None and spark_master is not None and not _MASTER.match(spark_master):
        raise AuditError(
            f"--spark-master {spark_master!r} 无效: 应为 local、local[N]、local[*]、yarn、spark://主机:端口 或 k8s://…"
        )
    if spark is None and spark_master is not None:
        check_master_reachable(spark_master)
    try:
        session = spark or spark_session(spark_master)
    except Exception as exc:  # Py4J/JVM start-up errors: one line for the user, not the Java trace
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        hint = _web_ui_hint(spark_master) if spark_master else ""
        raise AuditError(f"无法启动 Spark (master {spark_master or 'local[2]'}): {first[:300]}{hint}") from None
    if spark is None and spark_master is not None and spark_master.startswith("spark://"):
        try:
            wait_for_executors(session, spark_master)
        except AuditError:
            session.stop()
            raise
    try:
        columns = read_contract_tables(session, uri)
    except DatasetError as exc:
        from fundguard.contract.load import ContractError, Issue

        raise ContractError([Issue(exc.path, None, None, exc.message)]) from None
    except UnreadableInputError as exc:
        from fundguard.contract.load import ContractError, Issue

        raise ContractError([Issue(exc.path.rsplit("/", 1)[-1], None, None, exc.message)]) from None
    register_kb_tables(session, edition.tables)
    tables: dict[str, dict[str, Any]] = {}
    for t in TABLES:
        exists = columns[t.name] is not None
        checked = report.tables[t.name] if report is not None else None  # the loader counted and hashed it
        path = f"{uri.rstrip('/')}/{t.name}.parquet"
        sha = (checked.sha256 if checked else _local_sha256(path)) if exists else None
        tables[t.name] = {
            "rows": (checked.rows if checked else session.table(t.name).count()) if exists else 0,
            "sha256": sha,
            # a part folder or a cluster URI has no one file to hash: its listing (names, sizes, times)
            # identifies it, so two datasets never share a run_id
            **({"listing_sha256": _listing_sha256(session, path)} if exists and sha is None else {}),
            "file": f"{t.name}.parquet" if exists else None,
        }
    kb_hash = edition.content_hash
    backend = SparkBackend(session, edition=edition)
    auditor = Auditor(None, kb_hash=kb_hash, kb_manifest=dict(edition.manifest), backend=backend,
                      absent_inputs=absent_inputs(columns))
    inputs = {n: v["sha256"] or v.get("listing_sha256") or "" for n, v in sorted(tables.items())}
    versions = {r.id: rule_version(r, bound[r.id]) for r in selected}
    run_id = compute_run_id(inputs, kb_hash, versions, kb_flags(selected, edition.manifest))
    try:
        t0 = time.perf_counter()
        auditor.prepare(selected)
        result = auditor.run(selected, bound, run_id=run_id, progress=progress)
        total_seconds = time.perf_counter() - t0

        return write_run(
            out,
            backend,
            run_id=run_id,
            started=started,
            engine=NAME,
            extra={"rule_library": str(registry.root), "spark": {"master": session.sparkContext.master, "version": session.version},
                   "warnings": (report.warnings if report is not None else [])
                   + dataset_warnings({n: v["rows"] for n, v in tables.items()})
                   + sample_kb_warnings(selected, result, edition.tables) + unjudged_warnings(result)},
            dataset={"path": str(local.resolve()) if local is not None else uri, "tables": dict(sorted(tables.items()))},
            kb={"path": str(Path(kb_path).resolve()), "content_hash": kb_hash, "manifest": edition.manifest},
            result=result,
            total_seconds=total_seconds,
        )
    finally:
        backend.close()
