"""The web dashboard counts the real-time call log: calls, reminders by severity and the HIS feedback,
in the national interface's words (3103 dspo_way: 1 继续执行, 2 返回修改)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from fundguard.contract.factories import build_tables, write_dataset

from .payloads import FEMALE_ONLY_DRUG, body, feedback, order, request

DRUG = {"hilist_type": "101", "chrg_type": "11", "pric": 25.5}


def _kpis(html: str) -> dict[str, str]:
    section = re.search(r'data-testid="realtime-kpis">(.*?)</section>', html, re.S)
    assert section, "the dashboard shows no real-time figures"
    return {label: value for value, label in re.findall(r"<b>([^<]*)</b><span>([^<]*)</span>", section.group(1))}


def test_dashboard_counts_calls_and_feedback_in_the_national_words(tmp_path):
    from fundguard.api.app import create_app
    from fundguard.api.national import UNIFIED
    from fundguard.engine import run_audit
    from fundguard.workspace import AppConfig

    data = write_dataset(build_tables({"psn": [{"psn_no": "P1"}], "mdtrt": [{"mdtrt_id": "M1", "psn_no": "P1"}],
                                       "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": "M1"}]}), tmp_path / "data")
    run = run_audit(data, tmp_path / "ws" / "audit", rules=["A01"])
    config = AppConfig(workspace=tmp_path / "ws", db_url=f"sqlite:///{tmp_path / 'app.db'}", no_auth=True,
                       national={"background_log": False})
    headers = {"Content-Type": "application/json"}
    with TestClient(create_app(config), client=("127.0.0.1", 50000)) as client:  # no-auth: local clients only
        flagged = client.post(UNIFIED, headers=headers, content=body(
            request(gend="1", orders=[order("RX-1", FEMALE_ONLY_DRUG, **DRUG)])))
        jr_ids = [r["jr_id"] for r in flagged.json()["output"]["result"]]
        assert jr_ids and {r["rule_id"] for r in flagged.json()["output"]["result"]} == {"A01"}
        clean = client.post(UNIFIED, headers=headers, content=body(request(gend="2", orders=[order("RX-2")])))
        assert clean.json()["output"]["result"] == []
        fed = client.post(UNIFIED, headers=headers, content=body(feedback(jr_ids, way="2", reason="已改医嘱")))
        assert fed.json()["infcode"] == 0
        kpis = _kpis(client.get(f"/runs/{run['run_id']}/").text)
    assert kpis["审核调用次数"] == "2" and kpis["触发提醒的调用"] == "1"
    assert kpis["明确违规"] == str(len(jr_ids)) and kpis["可疑提醒"] == "0"
    assert kpis["返回修改"] == str(len(jr_ids)) and kpis["继续执行"] == "0"
