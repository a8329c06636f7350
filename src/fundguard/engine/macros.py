"""Engine macros: the few constructs that cannot be written portably, one implementation per backend.

Rule SQL writes `{{ age_years(brdy, fee_date) }}`; before execution the engine expands each macro
textually with the backend's implementation. Arguments are SQL expressions (macros may nest).
"""

from __future__ import annotations

from collections.abc import Callable

MacroImpl = Callable[..., str]


class MacroError(ValueError):
    pass


def _duckdb_age_years(birth: str, at: str) -> str:
    # Birthday arithmetic: the birthday counts the new age; 29 Feb turns over on 1 Mar in other years
    # because (2, 28) < (2, 29) but (3, 1) is not.
    b, d = f"CAST({birth} AS DATE)", f"CAST({at} AS DATE)"
    return (
        f"(CAST(EXTRACT(YEAR FROM {d}) AS INTEGER) - CAST(EXTRACT(YEAR FROM {b}) AS INTEGER) - "
        f"CASE WHEN EXTRACT(MONTH FROM {d}) * 100 + EXTRACT(DAY FROM {d}) < "
        f"EXTRACT(MONTH FROM {b}) * 100 + EXTRACT(DAY FROM {b}) THEN 1 ELSE 0 END)"
    )


def _num_text(x: str, text_type: str = "VARCHAR") -> str:
    text = f"CAST(CAST({x} AS DECIMAL(18,4)) AS {text_type})"
    return f"TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM {text}))"


def _prorate_amt(amt: str, num: str, den: str) -> str:
    # amt × num ÷ den in whole cents, rounded half away from zero: the amount in integer cents times the
    # (integer) share, divided in DOUBLE (as DuckDB divides integers; written out, so both engines agree).
    # The product is taken in DECIMAL(38,0): in BIGINT it overflows past 9.2e18 (DuckDB stops, non-ANSI
    # Spark wraps around silently)
    cents = f"CAST(({amt}) * 100 AS DECIMAL(38,0)) * ({num})"
    return f"(CAST(ROUND(CAST({cents} AS DOUBLE) / CAST(({den}) AS DOUBLE), 0) AS DECIMAL(18,0)) * 0.01)"


def _pct1(num: str, den: str) -> str:
    # num ÷ den as a percentage with one decimal, rounded half away from zero: both taken to integers (4
    # places) first, so the only rounding is of an exact ratio at a whole tenth. ROUND(x, 1) of a DOUBLE
    # rounds the binary value on DuckDB (70.05 -> 70.0) and the printed one on Spark (70.1)
    n = f"CAST(CAST(({num}) * 10000 AS DECIMAL(38,0)) AS DOUBLE)"
    d = f"CAST(CAST(({den}) * 10000 AS DECIMAL(38,0)) AS DOUBLE)"
    return f"CAST(CAST(ROUND({n} * 1000 / {d}, 0) AS DECIMAL(18,0)) * 0.1 AS DECIMAL(8,1))"


DUCKDB: dict[str, MacroImpl] = {
    "age_years": _duckdb_age_years,
    # calendar days from d1 to d2 (d2 - d1), dates or timestamps (their dates)
    "days_between": lambda d1, d2: f"date_diff('day', CAST({d1} AS DATE), CAST({d2} AS DATE))",
    "add_days": lambda d, n: f"CAST(CAST({d} AS DATE) + CAST({n} AS INTEGER) AS DATE)",
    "to_date": lambda ts: f"CAST({ts} AS DATE)",
    # whole seconds from t1 to t2
    "seconds_between": lambda t1, t2: f"date_diff('second', CAST({t1} AS TIMESTAMP), CAST({t2} AS TIMESTAMP))",
    "trunc_hour": lambda ts: f"date_trunc('hour', CAST({ts} AS TIMESTAMP))",
    # the sorted distinct values of a group, as a list
    "list_agg": lambda x: f"list_sort(list_distinct(list({x})))",
    # a one-element list
    # a few values as a list, sorted and distinct as list_agg gives them (a flag's line and the line it repeats)
    "list_of": lambda *xs: f"list_sort(list_distinct([{', '.join(xs)}]))",
    # a quantity as text without trailing zeros (2.5000 → 2.5, 3.0000 → 3), for messages
    "num_text": lambda x: _num_text(x),
    # a 64-bit hash of the values, to find candidate groups cheaply (equal values, equal hash); engines
    # hash differently, so a rule uses it only to narrow, then compares the values themselves
    "key_hash": lambda *xs: f"hash({', '.join(xs)})",
    "prorate_amt": _prorate_amt,
    "pct1": _pct1,
}

SPARK: dict[str, MacroImpl] = {
    "age_years": lambda birth, at: (
        f"(year({at}) - year({birth}) - CASE WHEN month({at}) * 100 + dayofmonth({at}) < "
        f"month({birth}) * 100 + dayofmonth({birth}) THEN 1 ELSE 0 END)"
    ),
    "days_between": lambda d1, d2: f"datediff(to_date({d2}), to_date({d1}))",
    "add_days": lambda d, n: f"date_add(to_date({d}), {n})",
    "to_date": lambda ts: f"to_date({ts})",
    "seconds_between": lambda t1, t2: f"(unix_timestamp({t2}) - unix_timestamp({t1}))",
    "trunc_hour": lambda ts: f"date_trunc('HOUR', {ts})",
    "list_agg": lambda x: f"array_sort(collect_set({x}))",
    "list_of": lambda *xs: f"array_sort(array_distinct(array({', '.join(xs)})))",
    "num_text": lambda x: _num_text(x, "STRING"),  # Spark 4: VARCHAR needs a length
    "key_hash": lambda *xs: f"xxhash64({', '.join(xs)})",
    "prorate_amt": _prorate_amt,
    "pct1": _pct1,
}

BACKENDS: dict[str, dict[str, MacroImpl]] = {"duckdb": DUCKDB, "spark": SPARK}
MACRO_NAMES = frozenset(DUCKDB)


def _split_args(text: str) -> list[str]:
    args, depth, start, quote = [], 0, 0, False
    for i, ch in enumerate(text):
        if ch == "'":
            quote = not quote
        elif quote:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
    tail = text[start:].strip()
    if tail or args:
        args.append(tail)
    return args


def expand(sql: str, backend: str | dict[str, MacroImpl] = "duckdb", *, keep_lines: bool = False) -> str:
    """Expand every `{{ name(args) }}` in `sql` with `backend`'s implementation (a name, or the
    implementations themselves: the Spark backend expands to markers that SQLGlot transpiles).

    `keep_lines`: a macro written over several lines is followed by as many line breaks as it took, so
    a parser's line numbers in the expanded text are those of the rule's own SQL (the lint's messages)."""
    impls = BACKENDS[backend] if isinstance(backend, str) else backend
    out: list[str] = []
    pos = 0
    while True:
        start = sql.find("{{", pos)
        if start < 0:
            out.append(sql[pos:])
            return "".join(out)
        out.append(sql[pos:start])
        end, depth, i = -1, 0, start
        while i < len(sql) - 1:
            if sql.startswith("{{", i):
                depth += 1
                i += 2
                continue
            if sql.startswith("}}", i):
                depth -= 1
                if depth == 0:
                    end = i
                    break
                i += 2
                continue
            i += 1
        if end < 0:
            raise MacroError(f"未闭合的宏: {sql[start:start + 40]!r}")
        body = expand(sql[start + 2 : end], backend, keep_lines=keep_lines).strip()
        paren = body.find("(")
        if paren < 0 or not body.endswith(")"):
            raise MacroError(f"宏应写作 {{{{ name(args) }}}}: {body!r}")
        name = body[:paren].strip()
        if name not in impls:
            raise MacroError(f"未知的宏 {name!r} (可用: {', '.join(sorted(impls))})")
        args = _split_args(body[paren + 1 : -1])
        try:
            text = impls[name](*args)
        except TypeError as exc:
            import inspect

            try:
                expected = f"{name}({', '.join(inspect.signature(impls[name]).parameters)})"
            except (TypeError, ValueError):
                expected = name
            raise MacroError(f"宏 {name} 参数个数不对: 应为 {expected}, 得到 {len(args)} 个参数 ({', '.join(args)})") from exc
        if keep_lines:
            text += "\n" * max(0, sql.count("\n", start, end + 2) - text.count("\n"))
        out.append(text)
        pos = end + 2
