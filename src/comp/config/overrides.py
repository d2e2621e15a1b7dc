"""``--set key=value`` overrides: parsing them (:func:`parse_override`) and setting them into a
recipe's table (:func:`merge_overrides`); :func:`deep_merge` lays one table over another (a
competition's ``[recipe]`` keys over a recipe's). :mod:`comp.config.recipe` imports them back.

Example::

    merge_overrides({"train": {"epochs": 30}}, ["train.epochs=2"])  # {"train": {"epochs": 2}}
"""

from __future__ import annotations

import copy
import tomllib
from typing import Any

from comp.errors import CompError


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``key.sub=value``; the value is read as TOML, else taken as a bare string.

    >>> parse_override("train.epochs=3")
    (['train', 'epochs'], 3)
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise CompError(f"--set {text!r}: expected key=value, for example --set train.epochs=30")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if raw[:1] in "[{\"'":
            raise CompError(f"--set {text!r}: the value {raw!r} does not parse as TOML") from None
        value = raw  # a bare word: model.name=resnet
    return key.split("."), value


def merge_overrides(table: dict, overrides: list[str]) -> dict:
    """A deep copy of ``table`` with each ``key=value`` override set in it."""
    table = copy.deepcopy(table)
    for text in overrides:
        parts, value = parse_override(text)
        node = table
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise CompError(f"--set {text!r}: {part} is not a table")
        node[parts[-1]] = value
    return table


def deep_merge(base: dict, top: dict) -> dict:
    """A deep copy of ``base`` with ``top``'s keys laid over it, table into table."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
