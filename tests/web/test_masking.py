"""Masking of personal identifiers: at least half of any identifier hidden (short ones too), national ids in
their usual form, and one function for the pages, the API, Excel and the real-time log lines."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from fundguard.contract.factories import build_tables, write_dataset

from .conftest import PASSWORD, login
from .fixtures import FEMALE_ONLY


@pytest.mark.parametrize("length", range(1, 41))
def test_at_least_half_of_any_identifier_is_hidden(length):
    from fundguard.contract.masking import mask_id

    value = "".join("ABCDEFGHJK"[i % 10] for i in range(length))
    masked = mask_id(value)
    assert len(masked) == length
    hidden = masked.count("*")
    assert hidden * 2 >= length, masked
    assert length - hidden <= 6, masked
    if length <= 4:
        assert masked == "*" * length
    # what shows is the identifier's own start and end, never anything else
    assert value.startswith(masked.split("*", 1)[0]) and value.endswith(masked.rsplit("*", 1)[-1])


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("110101199003071234", "1101************34"),  # national id: the usual form
        ("P00000000042", "P000******42"),
        ("P0000000042", "P000******2"),
        ("P0012345", "P00****5"),
        ("123456", "12***6"),
        ("12345", "1***5"),
        ("1234", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_id_forms(value, masked):
    from fundguard.contract.masking import mask_id

    assert mask_id(value) == masked


def test_every_door_masks_with_the_one_function():
    from fundguard.contract.masking import mask_id
    from fundguard.realtime import store
    from fundguard.web import pages
    from fundguard.workspace import export, services
    from fundguard.workspace import mask_id as workspace_mask_id

    assert workspace_mask_id is mask_id and services.mask_id is mask_id and export.mask_id is mask_id
    assert pages.templates.env.filters["mask"] is mask_id
    for value in ("1058158", "P0012345", "110101199003071234", "abc"):
        assert store.mask(value) == mask_id(value)  # the real-time log lines
    assert store.mask(None) == "-"


SHORT_PSN, SHORT_MDTRT = "Q7734521", "E90417"  # 8 and 6 characters, as some regions number them


@pytest.fixture(scope="module")
def short_id_app(tmp_path_factory):
    """A real audit of one man billed a women-only item, with short identifiers, and the app over it."""
    from fundguard.api.app import create_app
    from fundguard.engine import run_audit
    from fundguard.workspace import AppConfig, Role, Services

    root = tmp_path_factory.mktemp("shortids")
    when = "2025-03-04 09:00:00"
    tables = build_tables({
        "psn": [{"psn_no": SHORT_PSN, "gend": "1", "brdy": "1980-05-01"}],
        "mdtrt": [{"mdtrt_id": SHORT_MDTRT, "psn_no": SHORT_PSN, "begntime": when, "endtime": when}],
        "feedetl": [{"feedetl_sn": "F1", "mdtrt_id": SHORT_MDTRT, "psn_no": SHORT_PSN, "fee_ocur_time": when,
                     "hilist_code": FEMALE_ONLY, "med_chrgitm_type": "03", "cnt": 1, "pric": 100}],
    })
    run_audit(write_dataset(tables, root / "data"), root / "ws" / "audit", rules=["A01"])
    services = Services(AppConfig(workspace=root / "ws", db_url=f"sqlite:///{root / 'app.db'}"))
    services.users.create("admin_short", PASSWORD, Role.ADMIN)
    return create_app(services.config, services=services)


def test_short_identifiers_are_mostly_hidden_in_lists_pages_and_excel(short_id_app):
    with TestClient(short_id_app) as client:
        assert login(client, "admin_short").status_code == 303
        items = client.get("/api/v1/runs/latest/flags").json()["items"]
        assert items, "the audit should flag the man billed a women-only item"
        assert {f["psn_no"] for f in items} == {"Q77****1"}
        assert {f["mdtrt_id"] for f in items} == {"E9***7"}
        detail = client.get(f"/api/v1/runs/latest/flags/{items[0]['flag_id']}").text
        page = client.get("/runs/latest/flags").text
        wb = load_workbook(io.BytesIO(client.get("/runs/latest/flags.xlsx").content), read_only=True)
        cells = " ".join(str(c) for row in wb["疑点"].iter_rows(values_only=True) for c in row if c is not None)
    for text in (detail, page, cells):
        assert SHORT_PSN not in text and SHORT_MDTRT not in text
        assert "Q773" not in text  # the old form kept 4 + 2 of 8 characters: Q773**21
    assert "Q77****1" in page and "Q77****1" in cells
