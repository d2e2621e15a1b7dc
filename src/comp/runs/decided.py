"""A run's ``decisions.json``: what was fitted on its out-of-fold predictions to turn
probabilities into the hard answers its metric scores (:mod:`comp.targets.decisions`), read
back checked, as every run file is (:mod:`comp.runs.artefacts`).

Keys, each only where the metric needs it: ``cuts`` (QWK: C-1 rising cut points of the
expected grade), ``thresholds`` (F1 of several labels: one per class, in [0, 1]),
``new_index`` and ``new_score`` (MAP@5 with a "new" label: its class index and the score that
replaces its probability). ``{}``: the metric scores the probabilities, or their arg-max.
"""

from __future__ import annotations

import math
from pathlib import Path

from comp.errors import CompError
from comp.runs.artefacts import _read_json  # one JSON reader for every run file

DECISIONS_FILE = "decisions.json"
SUMMARISE_ADVICE = ("delete it and run the same `comp train` again: its finished folds are kept and the "
                    "decisions fitted anew")


def _numbers(value, count: int | None, lo: float, hi: float) -> bool:
    return (isinstance(value, list) and (count is None or len(value) == count)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and lo <= v <= hi
                    for v in value))


def check_decisions(data, where: str, n_classes: int, advice: str = SUMMARISE_ADVICE) -> dict:
    """``data`` as decisions of a run with ``n_classes`` columns, or one line naming the bad key."""
    if not isinstance(data, dict):
        raise CompError(f"{where}: must hold a JSON object of fitted decisions; {advice}")
    checks = {
        "cuts": (lambda v: _numbers(v, n_classes - 1, -math.inf, math.inf) and v == sorted(v),
                 f"{n_classes - 1} rising numbers"),
        "thresholds": (lambda v: _numbers(v, n_classes, 0.0, 1.0), f"{n_classes} numbers from 0 to 1"),
        "new_index": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < n_classes,
                      f"a class index from 0 to {n_classes - 1}"),
        "new_score": (lambda v: _numbers([v], 1, 0.0, 1.0), "a number from 0 to 1"),
    }
    for key, value in data.items():
        if key not in checks:
            raise CompError(f"{where}: unknown key {key!r} (known: {', '.join(checks)}); {advice}")
        ok, wanted = checks[key]
        if not ok(value):
            raise CompError(f"{where}: {key} must be {wanted}. Received: {value!r}; {advice}")
    if ("new_index" in data) != ("new_score" in data):
        raise CompError(f"{where}: new_index and new_score go together; {advice}")
    return data


def read_decisions(run_dir: Path, n_classes: int) -> dict:
    """The run's decisions.json, checked; ``{}`` where the run has none (a run from before them,
    or a metric that needs none)."""
    path = run_dir / DECISIONS_FILE
    if not path.is_file():
        return {}
    return check_decisions(_read_json(path, SUMMARISE_ADVICE), str(path), n_classes)
