"""The project's error class and the checks that build its messages.

Library code raises :class:`CompError` for bad input (a file, key or value the user can fix);
the CLI prints its message as one line and exits with status 2. Anything else is a bug and
exits with status 1.

The helpers here are shared by every module that checks user input (specs, recipes, model
options, TTA levels, presets): an unknown name suggests the closest known one, and a value of
the wrong type names the key, the type expected and the value received.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any


class CompError(ValueError):
    """Bad input: the message names the file, key or value and what would be accepted."""


def unknown_key_error(where: str, key: str, known: list[str]) -> CompError:
    """A CompError for an unknown key, suggesting the closest known one."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    hint = f" Did you mean '{close[0]}'?" if close else f" Known keys: {', '.join(sorted(known))}."
    return CompError(f"{where}: unknown key '{key}'.{hint}")


def unknown_name_error(what: str, name: str, known: list[str]) -> CompError:
    """A CompError for an unknown recipe, model, preset...: "Did you mean" plus what exists."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return CompError(f"unknown {what} '{name}'.{hint} Available: {', '.join(sorted(known)) or 'none'}")


def type_name(tp: Any) -> str:
    """An annotation as a message says it: ``list[int]`` -> "a list of integers"."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(type_name(a) for a in typing.get_args(tp))
    if origin is list:
        elem = typing.get_args(tp)[0]
        return "a list of " + {str: "strings", int: "integers", float: "numbers", bool: "booleans"}.get(elem, str(elem))
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            dict: "a table", type(None): "absent"}.get(tp, str(tp))


def coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted where floats are."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        for arg in typing.get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            try:
                return coerce(value, arg, key, where)
            except CompError:
                pass
    elif origin is list and isinstance(value, list):
        (elem,) = typing.get_args(tp)
        try:
            return [coerce(v, elem, key, where) for v in value]
        except CompError:
            pass
    elif tp is bool and isinstance(value, bool):
        return value
    elif tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    elif tp is str and isinstance(value, str):
        return value
    elif tp is dict and isinstance(value, dict):
        return value
    raise CompError(f"{where}: {key} must be {type_name(tp)}. Received: {key}={value!r}")
