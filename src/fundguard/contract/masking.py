"""Masking of personal identifiers (`psn_no`, `mdtrt_id`, `setl_id`, the real-time `patn_id`): the one
function every list, export, page and log line uses, so no place reveals more of an identifier than another.
"""

from __future__ import annotations

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
