"""The workspace layer: wires audit runs, datasets, the knowledge edition, the rule library and the stores
(users, flag indexes) for the doors above it (API, web pages, CLI)."""

from fundguard.workspace.export import EXPORT_LIMIT, write_flags_xlsx
from fundguard.workspace.flagindex import (
    SORTS,
    CursorError,
    FlagFilter,
    FlagIndex,
    FlagPage,
    Scope,
    build_index,
    cents_to_decimal,
)
from fundguard.workspace.runs import (
    CATEGORY_LABELS,
    GRANULARITY_LABELS,
    SCENE_LABELS,
    SEVERITY_LABELS,
    Run,
    Workspace,
    category_label,
    rule_doc,
)
from fundguard.workspace.services import (
    NO_AUTH_PRINCIPAL,
    SESSION_COOKIE,
    AppConfig,
    Principal,
    Services,
    csrf_ok,
    csrf_token,
    log_in,
    mask_flag,
    mask_id,
)
from fundguard.workspace.users import Role, User, UserError, UserStore, generate_password, migrate

__all__ = [
    "CATEGORY_LABELS",
    "EXPORT_LIMIT",
    "GRANULARITY_LABELS",
    "NO_AUTH_PRINCIPAL",
    "SCENE_LABELS",
    "SESSION_COOKIE",
    "SEVERITY_LABELS",
    "SORTS",
    "AppConfig",
    "CursorError",
    "FlagFilter",
    "FlagIndex",
    "FlagPage",
    "Principal",
    "Role",
    "Run",
    "Scope",
    "Services",
    "User",
    "UserError",
    "UserStore",
    "Workspace",
    "build_index",
    "category_label",
    "cents_to_decimal",
    "csrf_ok",
    "csrf_token",
    "generate_password",
    "log_in",
    "mask_flag",
    "mask_id",
    "migrate",
    "rule_doc",
    "write_flags_xlsx",
]
