"""What a spec or recipe key may hold, declared on its dataclass field, and the one place that checks it.

A field declares its allowed values next to its default: a set of choices (:func:`choice_field`)
or a range (:func:`setting` with an :class:`Interval` for a number, a :class:`Pair` for a
two-item list). :func:`build_dataclass` builds a dataclass from a TOML table and checks each
key it is given, in order: known key, type (:func:`comp.errors.coerce`), choices, range. A
value outside raises :class:`~comp.errors.CompError` whose wording comes from the constraint::

    epochs: int = setting(30, range=Interval(Integral, 1, 100_000))
    lr: float = setting(0.1, range=Interval(Real, 0, None, closed="neither"))
    # lr = -1: "r.toml: train.lr must be positive. Received: train.lr=-1.0"
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

from comp.errors import CompError, coerce, unknown_key_error

__all__ = ["Integral", "Real", "Interval", "Pair", "choice_field", "setting", "constraint", "check_value",
           "build_dataclass", "to_dict"]

CLOSED = ("both", "left", "right", "neither")


def _num(x: float) -> str:
    """A bound as a message writes it: 1 for 1.0, 0.5 for 0.5."""
    return str(x) if isinstance(x, int) or not float(x).is_integer() else str(int(x))


@dataclass(frozen=True)
class Interval:
    """Numbers of ``kind`` (``Integral`` or ``Real``) from ``lo`` to ``hi`` (None: no bound on
    that side); ``closed`` says which ends belong: "both", "left", "right" or "neither". NaN and
    infinities never do. ``text`` replaces the wording where the range means more than numbers.

    An integer interval's upper end is usually a sanity bound: a value beyond one end is told
    that end only ("at least 1", "at most 100000"). A real interval with both ends says both ("in [0, 1)").
    """

    kind: type
    lo: float | None
    hi: float | None = None
    closed: str = "both"
    text: str = ""

    def __post_init__(self) -> None:
        assert self.kind in (Integral, Real) and self.closed in CLOSED, self
        assert self.lo is not None or self.hi is not None, "an Interval needs a bound"

    @property
    def lo_closed(self) -> bool:
        return self.closed in ("both", "left")

    @property
    def hi_closed(self) -> bool:
        return self.closed in ("both", "right")

    def below(self, value: Any) -> bool:
        return self.lo is not None and (value < self.lo if self.lo_closed else value <= self.lo)

    def above(self, value: Any) -> bool:
        return self.hi is not None and (value > self.hi if self.hi_closed else value >= self.hi)

    def __contains__(self, value: Any) -> bool:
        finite = isinstance(value, int) or math.isfinite(value)  # an int may be too large for a float
        return finite and not self.below(value) and not self.above(value)

    def _lower(self) -> str:
        if self.kind is Integral and not self.lo_closed:  # an integer above lo is at least lo + 1
            return Interval(Integral, self.lo + 1)._lower()
        if self.lo == 0:
            return "0 or more" if self.lo_closed else "positive"
        return f"{'at least' if self.lo_closed else 'above'} {_num(self.lo)}"

    def _upper(self) -> str:
        if self.kind is Integral and not self.hi_closed:
            return Interval(Integral, None, self.hi - 1)._upper()
        return f"{'at most' if self.hi_closed else 'below'} {_num(self.hi)}"

    def describe(self, value: Any = None) -> str:
        """What is allowed, as a message says it; ``value`` (one outside) picks the end it broke."""
        if self.text:
            return self.text
        if self.lo is None or self.hi is None:
            wording = self._lower() if self.hi is None else self._upper()
            return wording if value is None or isinstance(value, int) or math.isfinite(value) else "finite and " + wording
        if self.kind is Real:
            return f"in {'[' if self.lo_closed else '('}{_num(self.lo)}, {_num(self.hi)}{']' if self.hi_closed else ')'}"
        if value is not None and self.below(value):
            return self._lower()
        if value is not None and self.above(value):
            return self._upper()
        return f"{self._lower()} and {self._upper()}"


@dataclass(frozen=True)
class Pair:
    """A list of two values named ``names``, each in ``item`` (None: any value of the field's
    type); ``ordered``: the first at most the second. ``of`` names what the two are."""

    names: tuple[str, str]
    item: Interval | None = None
    ordered: bool = False
    of: str = ""

    def __contains__(self, value: Any) -> bool:
        if not isinstance(value, list) or len(value) != 2:
            return False
        if self.item is not None and not all(v in self.item for v in value):
            return False
        return not self.ordered or value[0] <= value[1]

    def describe(self, value: Any = None) -> str:
        a, b = self.names
        head = (f"two {self.of} " if self.of else "") + f"[{a}, {b}]"
        item = self.item
        if item is None:
            return head + (f" with {a} <= {b}" if self.ordered else "")
        if self.ordered:
            assert not item.text and item.kind is Real, "an ordered Pair words a plain real Interval"
            lo = "" if item.lo is None else f"{_num(item.lo)} {'<=' if item.lo_closed else '<'} "
            hi = "" if item.hi is None else f" {'<=' if item.hi_closed else '<'} {_num(item.hi)}"
            return f"{head} with {lo}{a} <= {b}{hi}"
        bad = [v for v in value if v not in item] if isinstance(value, list) and len(value) == 2 else []
        return f"{head}, each {item.describe(bad[0] if bad else None)}"


Constraint = Interval | Pair


def choice_field(default: Any, choices: tuple, doc: str = "") -> Any:
    """A field whose value is one of ``choices`` (None among them: the key may be absent)."""
    return setting(default, choices=choices, doc=doc)


def setting(default: Any, range: Constraint | None = None, choices: tuple | None = None, doc: str = "") -> Any:
    """A dataclass field with what it may hold: ``choices`` and/or a ``range``. A list default is
    copied for each instance."""
    metadata = {"choices": choices, "range": range, "doc": doc}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def constraint(f: dataclasses.Field) -> Constraint | None:
    """The range a field declares (None: none)."""
    return f.metadata.get("range")


# --------------------------------------------------------------------------- building and checking


def check_value(f: dataclasses.Field, value: Any, key: str, where: str) -> None:
    """Raise a CompError if ``value`` (already of the field's type) is outside its choices or range."""
    choices = f.metadata.get("choices")
    if choices is not None and value not in choices:
        allowed = ", ".join(repr(c) if c is not None else "absent" for c in choices)
        close = difflib.get_close_matches(value, [c for c in choices if isinstance(c, str)], n=1, cutoff=0.5) \
            if isinstance(value, str) else []
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise CompError(f"{where}: {key} must be one of {allowed}. Received: {key}={value!r}.{hint}")
    allowed = constraint(f)
    if allowed is not None and value is not None and value not in allowed:
        raise CompError(f"{where}: {key} must be {allowed.describe(value)}. Received: {key}={value!r}")


def build_dataclass(cls: type, table: dict, where: str, prefix: str = "") -> Any:
    """``cls`` from a TOML table, every key checked: known, of the field's type, in its choices and range."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in table.items():
        full = prefix + key
        if key not in fields:
            raise unknown_key_error(where, full, [prefix + k for k in fields])
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise CompError(f"{where}: {full} must be a table. Received: {full}={value!r}")
            kwargs[key] = build_dataclass(tp, value, where, full + ".")
            continue
        value = coerce(value, tp, full, where)
        check_value(fields[key], value, full, where)
        kwargs[key] = value
    return cls(**kwargs)


def to_dict(obj: Any) -> dict:
    """A dataclass as a plain TOML-ready dict (None values dropped, as TOML has no null)."""

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not None}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return clean(dataclasses.asdict(obj))
