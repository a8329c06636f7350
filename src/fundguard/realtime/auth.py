"""The national gateway's `x-tif-*` signature, checked per institution secret.

`x-tif-signature` = lowercase hex SHA-256 of (timestamp + secret + nonce + timestamp); the timestamp is
Unix seconds and must be within the window (default ±300 s); a nonce is accepted once per caller.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass

from fundguard.realtime.store import Institution, RealtimeStore

HEADERS = ("x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature")


class AuthError(Exception):
    def __init__(self, message: str, status: int = 401):
        self.message = message
        self.status = status
        super().__init__(message)


def signature(timestamp: str, secret: str, nonce: str) -> str:
    return hashlib.sha256(f"{timestamp}{secret}{nonce}{timestamp}".encode()).hexdigest()


def signed_headers(paasid: str, secret: str, *, nonce: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers a HIS client sends (for tests, the bench and integration partners)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "x-tif-paasid": paasid,
        "x-tif-timestamp": ts,
        "x-tif-nonce": nonce,
        "x-tif-signature": signature(ts, secret, nonce),
    }


@dataclass
class Authenticator:
    store: RealtimeStore
    window: int = 300

    def check(self, headers: Mapping[str, str], *, now: float | None = None) -> Institution:
        values = {h: (headers.get(h) or "").strip() for h in HEADERS}
        missing = [h for h, v in values.items() if not v]
        if missing:
            raise AuthError(f"缺少认证头 {', '.join(missing)}")
        ts_text = values["x-tif-timestamp"]
        if not (ts_text.isascii() and ts_text.isdigit()) or len(ts_text) > 16:
            raise AuthError("x-tif-timestamp 应为 Unix 秒数")
        ts = int(ts_text)
        if ts > 10_000_000_000:  # some clients send milliseconds
            ts //= 1000
        current = time.time() if now is None else now
        if abs(current - ts) > self.window:
            raise AuthError(f"x-tif-timestamp 超出允许的时间窗口 (±{self.window} 秒)")
        inst = self.store.institution_by_paasid(values["x-tif-paasid"])
        if inst is None:
            raise AuthError("未登记的调用方 (x-tif-paasid)")
        expected = signature(ts_text, inst.secret, values["x-tif-nonce"])
        if not hmac.compare_digest(expected, values["x-tif-signature"].lower()):
            raise AuthError("签名不正确 (x-tif-signature)")
        if not self.store.use_nonce(inst.paasid, values["x-tif-nonce"], ts, window=self.window):
            raise AuthError("重复的 x-tif-nonce (疑似重放)")
        return inst
