"""YAML as rule authors write it: a key given twice in one mapping is an error (PyYAML keeps the last
one silently), and a syntax error says where in Chinese."""

from __future__ import annotations

from typing import Any

import yaml


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key given twice in one mapping."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"重复的键 {key!r} (第 {key_node.start_mark.line + 1} 行)", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)

#: PyYAML's most common problems in the words of a rule author (others keep PyYAML's English text)
_PROBLEMS = {
    "could not find expected ':'": "缺少冒号 ':'",
    "mapping values are not allowed here": "此处不能出现 '键: 值' (缩进或冒号有误; 含冒号的文本请加引号)",
    "found character '\\t' that cannot start any token": "含制表符 (YAML 缩进只能用空格)",
    "expected <block end>, but found '<block mapping start>'": "缩进不一致",
    "expected <block end>, but found '<block sequence start>'": "缩进不一致",
    "expected <block end>, but found '-'": "列表项 '-' 的缩进不一致",
    "found unexpected end of stream": "文件意外结束 (引号或括号未闭合)",
    "found undefined alias": "未定义的别名 (*)",
}


def load(text: str | bytes) -> Any:
    """The document, or yaml.YAMLError (see `problem`)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def problem(exc: yaml.YAMLError) -> str:
    """`第 N 行第 M 列: <what>` for a YAML error."""
    mark = getattr(exc, "problem_mark", None)
    where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列: " if mark else ""
    text = getattr(exc, "problem", None) or str(exc)
    for english, chinese in _PROBLEMS.items():
        if text.startswith(english):
            text = chinese
            break
    return f"{where}{text}"
