"""Masking of personal identifiers (`psn_no`, `mdtrt_id`, `setl_id`, the real-time `patn_id`): the one
function every list, export, page and log line uses, so no place reveals more of an identifier than another;
and what an identity number (居民身份证号) looks like, so the loader can tell a column of them by its content.
"""

from __future__ import annotations

import re

#: at most this many characters stay visible, whatever the length (four at the start, two at the end)
MAX_SHOWN = 6
#: identifiers this short are masked whole: showing any character would leave too few to guess
FULLY_MASKED_UP_TO = 4


def mask_id(value: object) -> str:
    """The identifier with at least half of it hidden, its length kept.

    At most the first four and last two characters stay (`110101199003071234` → `1101************34`);
    a shorter identifier shows at most half its characters, fewer at the end than at the start
    (`P0012345` → `P00****5`, `123456` → `12***6`), and one of four characters or fewer is all `*`.
    """
    if value is None:
        return ""
    s = str(value)
    if not s:
        return ""
    if len(s) <= FULLY_MASKED_UP_TO:
        return "*" * len(s)
    shown = min(MAX_SHOWN, len(s) // 2)
    tail = max(1, shown // 3)
    head = shown - tail
    return s[:head] + "*" * (len(s) - shown) + s[len(s) - tail:]


#: a mainland resident ID number: 6-digit region (not starting with 0), birth date, sequence and check
#: character (18 characters), or the old 15-digit form (2-digit year, no check character). The check
#: character is not verified: a mistyped or made-up number is still someone's number to the reader.
_DATE8 = r"(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_DATE6 = r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_ID_NUMBER = rf"[1-9]\d{{5}}(?:{_DATE8}\d{{3}}[0-9Xx]|{_DATE6}\d{{3}})"
_ID_NUMBER_RE = re.compile(_ID_NUMBER)
#: the same pattern for SQL (RE2, `regexp_full_match`)
ID_NUMBER_PATTERN = _ID_NUMBER
_ID_NUMBER_IN_TEXT_RE = re.compile(rf"(?<![0-9A-Za-z]){_ID_NUMBER}(?![0-9A-Za-z])")


def looks_like_id_number(value: object) -> bool:
    """True when `value` (spaces around it aside) has the form of a mainland ID number:
    `110101199003071234`, `11010119900307123X`, or the old 15-digit `110101900307123`."""
    return value is not None and _ID_NUMBER_RE.fullmatch(str(value).strip()) is not None


def contains_id_number(text: str) -> bool:
    """True when `text` (a line of a file, a message) has an ID number in it, standing on its own."""
    return _ID_NUMBER_IN_TEXT_RE.search(text) is not None


def holds_id_numbers(values) -> bool:
    """Whether a column whose (non-null) sample is `values` is to be taken for an identity number column:
    fail closed, one value in the form of an ID number is enough (a column outside the contract is not
    read by any rule, so taking a code for an ID number costs only its raw value)."""
    return any(looks_like_id_number(v) for v in values if v is not None)
