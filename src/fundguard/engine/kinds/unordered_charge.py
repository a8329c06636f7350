"""Kind `unordered_charge`: a billed line with no order (`fsi_order_dtos`) in the HIS request.

Real-time only (scenes pre/in): the batch data has no orders, so there is no batch SQL. The real-time
twin (`fundguard.realtime.kinds.unordered_charge`) checks the request's fee lines against its orders
(matched by `hilist_code`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

NAME = "unordered_charge"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match_on: list[str] = ["hilist_code"]  # fee-line fields that must equal an order's


def batch_sql(rule: Any, config: Config) -> str:
    raise NotImplementedError(f"规则 {rule.id} 只在实时场景运行 (需要 HIS 请求中的医嘱)")
