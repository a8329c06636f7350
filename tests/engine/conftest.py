from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fundguard.contract.factories import build_tables, write_dataset

GIVEN = {
    "psn": [{"psn_no": "P1", "gend": "1"}, {"psn_no": "P2", "gend": "2", "brdy": "2010-05-01"}],
    "mdtrt": [
        {"mdtrt_id": "M1", "psn_no": "P1", "med_type": "21", "begntime": "2025-03-01 08:00:00", "endtime": "2025-03-04 08:00:00"},
        {"mdtrt_id": "M2", "psn_no": "P2"},
    ],
    "diag": [{"mdtrt_id": "M2", "diag_code": "N40.x00"}],
    "feedetl": [
        {"feedetl_sn": "F1", "mdtrt_id": "M1", "hilist_code": "XG02BAA001", "cnt": 1, "pric": 380},
        {"feedetl_sn": "F2", "mdtrt_id": "M1", "med_chrgitm_type": "01", "cnt": 5, "pric": 50, "fee_ocur_time": "2025-03-03 08:00:00"},
        {"feedetl_sn": "F3", "mdtrt_id": "M2", "hilist_code": "003101000010000", "cnt": 2, "pric": 25},
    ],
}


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ds")
    write_dataset(build_tables(GIVEN), out)
    return out


@pytest.fixture(scope="session")
def kb_edition(tmp_path_factory) -> Path:
    """A small knowledge edition built by the kb package from an overlay of test rows."""
    from fundguard import kb

    return Path(kb.default_edition_path())


@pytest.fixture(scope="session")
def library(tmp_path_factory):
    """The A and B rules as their own registry (independent of categories being written elsewhere)."""
    from fundguard.engine import load_registry
    from fundguard.engine.registry import rules_root

    root = tmp_path_factory.mktemp("lib")
    for cat in ("a_restrictions", "b_charging"):
        shutil.copytree(rules_root() / cat, root / cat)
    return load_registry(root)


@pytest.fixture
def bad_rules_root(tmp_path) -> Path:
    from fundguard.engine.registry import rules_root

    root = tmp_path / "rules"
    shutil.copytree(rules_root() / "a_restrictions", root / "a_restrictions")
    return root
