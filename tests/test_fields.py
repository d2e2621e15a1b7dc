"""comp.config.fields: every range a Recipe or Competition field declares is checked as the
recipe or spec is built (a value just outside it, NaN and infinities refused with the key
named; a value just inside accepted), every number has a range, and the wording of each
constraint says what is allowed."""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest

from comp.config.fields import Integral, Interval, Pair, Real, build_dataclass, constraint, setting
from comp.config.recipe import Recipe, recipe_from_dict
from comp.config.spec import Competition, competition_from_dict
from comp.errors import CompError

ROOTS = {Recipe: ({"model": {"name": "vgg"}}, recipe_from_dict),
         Competition: ({"name": "zoo", "data": {"root": "d"}}, competition_from_dict)}


def walk(cls: type, prefix: tuple = ()):
    """(path, field, annotation) of every leaf field of ``cls``, its nested dataclasses' too."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from walk(tp, prefix + (f.name,))
        else:
            yield prefix + (f.name,), f, tp


def classes(cls: type) -> set[type]:
    """``cls`` and the dataclasses nested in it."""
    hints = typing.get_type_hints(cls)
    return {cls}.union(*(classes(hints[f.name]) for f in dataclasses.fields(cls) if dataclasses.is_dataclass(hints[f.name])))


def numeric(tp) -> type | None:
    """int or float where the annotation holds numbers (also in a list or with None), else None."""
    if tp in (int, float):
        return tp
    return next((t for t in map(numeric, typing.get_args(tp)) if t is not None), None)


LEAVES = [(root, path, f, tp) for root in ROOTS for path, f, tp in walk(root)]
CONSTRAINED = [(root, path, f, tp) for root, path, f, tp in LEAVES if constraint(f) is not None]


def _id(case) -> str:
    return ".".join(case[1])


# --------------------------------------------------------------------------- values near a constraint


def interval_values(iv: Interval) -> tuple[list, list]:
    """(just inside, just outside) ``iv``; NaN and the infinities outside a real one."""
    inside, outside = [], []
    if iv.kind is Integral:
        if iv.lo is not None:
            lo = iv.lo if iv.lo_closed else iv.lo + 1
            inside += [lo]
            outside += [lo - 1]
        if iv.hi is not None:
            hi = iv.hi if iv.hi_closed else iv.hi - 1
            inside += [hi]
            outside += [hi + 1]
        if iv.hi is None:
            inside += [inside[0] + 10**6]
        return inside, outside
    for end, closed, away in ((iv.lo, iv.lo_closed, -math.inf), (iv.hi, iv.hi_closed, math.inf)):
        if end is None:  # any finite number on this side
            inside.append(math.copysign(1e300, away))
        else:
            edge = float(end)
            inside.append(edge if closed else math.nextafter(edge, -away))
            outside.append(math.nextafter(edge, away) if closed else edge)
    return inside, outside + [math.nan, math.inf, -math.inf]


def pair_values(pair: Pair, default: list) -> tuple[list, list]:
    if pair.item is None:
        inside, item_out = [list(default)], []
        sample = default[0]
    else:
        item_in, item_out = interval_values(pair.item)
        sample = item_in[0]
        inside = [[a, b] for a in item_in for b in item_in if not pair.ordered or a <= b]
        if pair.ordered:
            lo, hi = min(item_in), max(item_in)
            assert lo < hi
    outside = [[], [sample], [sample] * 3]
    outside += [[bad, sample] for bad in item_out] + [[sample, bad] for bad in item_out]
    if pair.ordered:
        outside.append([hi, lo])
    return inside, outside


def near(f: dataclasses.Field) -> tuple[list, list]:
    allowed = constraint(f)
    if isinstance(allowed, Pair):
        return pair_values(allowed, f.default_factory())
    return interval_values(allowed)


def build(root: type, path: tuple, value):
    base, from_dict = ROOTS[root]
    table = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    node = table
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return from_dict(table, "walk.toml")


# --------------------------------------------------------------------------- the walk


@pytest.mark.parametrize("case", CONSTRAINED, ids=_id)
def test_a_value_just_outside_a_declared_range_is_refused_naming_the_key(case):
    root, path, f, tp = case
    key = ".".join(path)
    _, outside = near(f)
    assert outside
    for value in outside:
        with pytest.raises(CompError) as e:
            build(root, path, value)
        msg = str(e.value)
        allowed = constraint(f).describe(value)
        assert msg == f"walk.toml: {key} must be {allowed}. Received: {key}={value!r}", value


@pytest.mark.parametrize("case", CONSTRAINED, ids=_id)
def test_a_value_just_inside_a_declared_range_is_accepted(case):
    root, path, f, tp = case
    inside, _ = near(f)
    assert inside
    for value in inside:
        built = build(root, path, value)
        for part in path:
            built = getattr(built, part)
        assert built == value


@pytest.mark.parametrize("case", LEAVES, ids=_id)
def test_every_number_has_a_declared_range_of_its_kind(case):
    root, path, f, tp = case
    kind = numeric(tp)
    allowed = constraint(f)
    if kind is None:
        assert allowed is None or (isinstance(allowed, Pair) and allowed.item is None)
        return
    assert allowed is not None, f"{'.'.join(path)} is a number without a declared range (comp.config.fields.setting)"
    iv = allowed.item if isinstance(allowed, Pair) else allowed
    assert iv is not None and iv.kind is {int: Integral, float: Real}[kind]
    if kind is int:  # every count has an upper bound (a platform's id is no count)
        assert iv.lo is not None and (iv.hi is not None or path == ("platform", "dacon")), \
            f"{'.'.join(path)}: a count needs an upper bound"


@pytest.mark.parametrize("case", CONSTRAINED, ids=_id)
def test_every_default_lies_in_its_range(case):
    root, path, f, tp = case
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default
    assert default is None or default in constraint(f)


def test_no_config_class_keeps_a_checks_method():
    assert [c.__name__ for root in ROOTS for c in classes(root) if hasattr(c, "checks")] == []


# --------------------------------------------------------------------------- the wording


@pytest.mark.parametrize("interval, value, wording", [
    (Interval(Integral, 1), 0, "at least 1"),
    (Interval(Integral, 1, 100_000), 0, "at least 1"),
    (Interval(Integral, 1, 100_000), 100_001, "at most 100000"),
    (Interval(Integral, 1, 100_000), None, "at least 1 and at most 100000"),
    (Interval(Integral, 0, 9, closed="neither"), 0, "at least 1"),
    (Interval(Integral, 0), -1, "0 or more"),
    (Interval(Real, 0, None, closed="neither"), 0.0, "positive"),
    (Interval(Real, 0, None, closed="neither"), math.inf, "finite and positive"),
    (Interval(Real, 0), -1.0, "0 or more"),
    (Interval(Real, 0, 1, closed="left"), 1.0, "in [0, 1)"),
    (Interval(Real, 0, 1, closed="left"), math.nan, "in [0, 1)"),
    (Interval(Real, 0, 1, closed="right"), 0.0, "in (0, 1]"),
    (Interval(Real, 0, 1, closed="neither"), 1.5, "in (0, 1)"),
    (Interval(Real, 0.5, None, closed="neither"), 0.5, "above 0.5"),
    (Interval(Real, None, 3), 4.0, "at most 3"),
    (Interval(Integral, 1, text="an id, 1 or more"), 0, "an id, 1 or more"),
])
def test_an_interval_says_what_is_allowed(interval, value, wording):
    assert interval.describe(value) == wording
    assert value is None or value not in interval


@pytest.mark.parametrize("pair, value, wording", [
    (Pair(("min", "max"), Interval(Real, 0, 1, closed="right"), ordered=True), [0.5], "[min, max] with 0 < min <= max <= 1"),
    (Pair(("min", "max"), Interval(Real, 0, None, closed="neither"), ordered=True), [2.0, 1.0],
     "[min, max] with 0 < min <= max"),
    (Pair(("height", "width"), Interval(Integral, 8, 64)), [4, 4], "[height, width], each at least 8"),
    (Pair(("height", "width"), Interval(Integral, 8, 64)), [8, 99], "[height, width], each at most 64"),
    (Pair(("id", "label"), of="column names"), ["id"], "two column names [id, label]"),
])
def test_a_pair_says_what_is_allowed(pair, value, wording):
    assert pair.describe(value) == wording
    assert value not in pair


def test_nan_and_the_infinities_are_never_in_an_interval():
    for iv in (Interval(Real, None, 1), Interval(Real, 0), Interval(Real, -math.inf, math.inf)):
        assert not any(v in iv for v in (math.nan, math.inf, -math.inf))
    assert 10**400 not in Interval(Integral, 0, 10) and 10**400 in Interval(Integral, 0)


def test_build_dataclass_checks_type_then_choices_then_range():
    @dataclasses.dataclass
    class Cfg:
        n: int = setting(1, Interval(Integral, 0, 9), choices=(0, 1, 2, 99))

    assert build_dataclass(Cfg, {"n": 2}, "c.toml").n == 2
    with pytest.raises(CompError, match=r"^c\.toml: n must be an integer\. Received: n='x'$"):
        build_dataclass(Cfg, {"n": "x"}, "c.toml")
    with pytest.raises(CompError, match=r"^c\.toml: n must be one of 0, 1, 2, 99\. Received: n=5\.$"):
        build_dataclass(Cfg, {"n": 5}, "c.toml")
    with pytest.raises(CompError, match=r"^c\.toml: n must be at most 9\. Received: n=99$"):
        build_dataclass(Cfg, {"n": 99}, "c.toml")


def test_a_list_default_is_copied_for_each_instance():
    @dataclasses.dataclass
    class Cfg:
        size: list[int] = setting([8, 8], Pair(("h", "w"), Interval(Integral, 1, 9)))

    a, b = Cfg(), Cfg()
    a.size.append(1)
    assert b.size == [8, 8]
