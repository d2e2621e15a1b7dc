"""The ``[target]`` table ``comp init`` infers from the sample's target columns, the train labels and
the metric (the kinds: :mod:`comp.targets.kinds`).

Several target columns in the sample:

- all of them 0/1 columns of the labels CSV (one-hot): ``class-probabilities`` where every row
  holds exactly one 1 and the metric is log_loss, mean_roc_auc or accuracy, else ``multi-label``
  (``target.columns``: the sample's target columns);
- the distinct values of one label column (dog-breed: ``breed``; or the class folders):
  ``class-probabilities`` from that column.

One target column, whose train labels are the labels CSV's column of the same name (else of the same
name in another case, else the one whose name holds it or is held by it, ``Category`` ->
``category_id``, else the one a CSV of the test rows lacks), the class folders, the file names or
the annotations: rmse -> ``regression``; qwk -> ``grade``; map_at_5 -> ``top-k`` (k: the labels per
row of the sample; ``new_label``: a label starting with "new"); roc_auc or log_loss over two labels
-> ``binary`` (positive: the last of the sorted classes); micro_f1, macro_f1 or mean_roc_auc over
cells of space-separated labels -> ``multi-label``; otherwise ``class``. A metric that does not fit
(roc_auc with 120 target columns, rmse over names) stops with one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from comp.data.infer_files import Sample
from comp.data.infer_layout import Layout
from comp.errors import CompError

PROBABILITY_METRICS = ("log_loss", "mean_roc_auc", "accuracy")  # one probability per class, one class per row
MULTI_COLUMN_METRICS = PROBABILITY_METRICS + ("micro_f1", "macro_f1")
ZERO_ONE, ONES = {"0", "1", "0.0", "1.0"}, {"1", "1.0"}
DEFAULT_K = 5


@dataclass
class Target:
    kind: str
    why: str  # "<where the labels come from>: <the rule that chose the kind>"
    classes: list[str]  # printed; empty for a regression
    label_column: str | None = None  # of the labels CSV
    keys: dict = field(default_factory=dict)  # [target] keys beyond kind
    class_names: list[str] | None = None  # data.class_names, where the order or the set must be given
    summary: str = ""  # the classes line where there are none (a regression)


def few(names: list[str], n: int = 5) -> str:
    """``a, b, c, d, e, ...`` (the first ``n``)."""
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


def sort_names(names) -> list[str]:
    """Class names sorted as the readers sort them: as numbers where every one is a number."""
    try:
        return sorted(names, key=float)
    except ValueError:
        return sorted(names)


def _origin(layout: Layout, column: str | None) -> str:
    """Where the train labels come from, as a printed line says it."""
    if layout.labels_csv is not None:
        return f"column '{column}' of {layout.labels_csv.name}"
    if layout.layout == "coco-json":
        return f"the annotations' category_id in {layout.keys['train_metadata']}"
    return f"the {'class folders' if layout.layout == 'class-folders' else 'file names'} of {layout.train.folder}/"


def label_column(target: str, layout: Layout) -> str:
    """The labels CSV's column that holds the sample's ``target`` column (see the module's docstring)."""
    columns = [c for c in layout.table.columns if c != layout.id_column]
    t = target.lower()
    rules = (lambda c: c == target, lambda c: c.lower() == t,
             lambda c: min(len(c), len(t)) >= 3 and (t in c.lower() or c.lower() in t),
             lambda c: bool(layout.test_columns) and c not in layout.test_columns)
    for rule in rules:
        found = [c for c in columns if rule(c)]
        if len(found) == 1:
            return found[0]
    if len(columns) == 1:
        return columns[0]
    raise CompError(f"{layout.labels_csv}: cannot tell which column holds the sample's target '{target}' "
                    f"(candidates: {few(columns, 8)}); set data.label_columns = ['{layout.id_column}', <label column>]")


def _several(metric: str, sample: Sample, layout: Layout) -> Target:
    """The target of a sample with several target columns: one-hot columns, or one label column's classes."""
    targets, n = sample.targets, len(sample.targets)
    if metric not in MULTI_COLUMN_METRICS:
        raise CompError(f"--metric {metric} scores one target column, but {sample.path.name} has {n} target columns "
                        f"({few(targets)}); pass a metric that scores one column per class "
                        f"({', '.join(MULTI_COLUMN_METRICS)}), or set target.kind")
    table = layout.table
    if table is not None and set(targets) <= set(table.columns) and table[targets].isin(ZERO_ONE).all().all():
        single = bool((table[targets].isin(ONES).sum(axis=1) == 1).all())
        kind = "class-probabilities" if single and metric in PROBABILITY_METRICS else "multi-label"
        rows = "exactly one 1 per row" if single else "several 1s in some rows"
        why = (f"{n} columns ({few(targets)}) <- the same columns of {layout.labels_csv.name}: "
               f"{n} target columns of 0/1 labels, {rows} + {metric} -> {kind}")
        keys = {"columns": list(targets)}
        if kind == "multi-label" and any(" " in t for t in targets):  # a row's labels are joined into one cell
            keys["separator"] = "|"
        return Target(kind, why, list(targets), label_column=targets[0], keys=keys)
    columns = [c for c in table.columns if c != layout.id_column] if table is not None else [None]
    found = []
    for column in columns:
        values = table[column] if table is not None else layout.values
        classes = set(values[values.str.strip() != ""])
        if len(classes) >= 2 and classes <= set(targets):
            found.append((len(classes), column, sort_names(classes)))
    if not found:
        where = f"of {layout.labels_csv.name}" if table is not None else "of the train labels"
        raise CompError(f"{sample.path.name}: its {n} target columns ({few(targets)}) are neither 0/1 columns "
                        f"{where} nor the classes of one of its columns; set target.kind and target.columns")
    _, column, classes = max(found, key=lambda f: f[0])
    if metric not in PROBABILITY_METRICS:
        raise CompError(f"--metric {metric} does not score one probability per class, which {sample.path.name}'s "
                        f"{n} class columns ({few(targets)}) ask for; pass one of {', '.join(PROBABILITY_METRICS)}")
    why = (f"{n} columns ({few(targets)}) <- {_origin(layout, column)}: the target columns name its classes "
           f"({len(classes)} of them in the train labels) + {metric} -> class-probabilities")
    return Target("class-probabilities", why, list(targets), label_column=column,
                  class_names=list(targets) if classes != list(targets) else None)


def is_multi_label(values: pd.Series) -> bool:
    """Cells of space-separated labels (not class names that hold a space, "Sugar beet"): some cell holds
    several, and the labels recombine (no more labels than distinct cells, or one alone in a cell too)."""
    cells = set(values)
    several = [c for c in cells if len(c.split()) > 1]
    if not several:
        return False
    alone = {c for c in cells if len(c.split()) == 1}
    tokens = {t for c in cells for t in c.split()}
    return len(tokens) <= len(cells) or any(t in alone for c in several for t in c.split())


def _numbers(values: pd.Series, metric: str, origin: str, what: str, integers: bool = False) -> pd.Series:
    """The labels as numbers (``integers``: whole ones); a label that is not one means the metric does not fit."""
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | ((numbers % 1 != 0) if integers else False)
    if bad.any():
        raise CompError(f"--metric {metric} scores {what}, but {origin} holds {values[bad].iloc[0]!r}; "
                        f"pass the competition's metric, or set target.kind")
    return numbers


def _top_k(sample: Sample, values: pd.Series, classes: list[str], origin: str) -> Target:
    """top-k: k from the sample's cells, new_label where a label starts with "new"."""
    counts = sample.table[sample.targets[0]].str.split().str.len()
    k = int(counts.iloc[0]) if counts.nunique() == 1 and counts.iloc[0] > 1 else DEFAULT_K
    keys = {"k": k, "separator": " "}
    why = f"one column of {len(classes)} labels + map_at_5 -> top-k, k = {k} (labels per row of the sample)"
    new = [c for c in classes if c.lower().startswith("new")]
    if len(new) == 1:
        keys["new_label"] = new[0]
        frequent = " and the most frequent" if values.value_counts().index[0] == new[0] else ""
        why += f", new_label '{new[0]}' (starts with 'new'{frequent})"
    return Target("top-k", f"{origin}: {why}", classes, keys=keys)


def _one(metric: str, sample: Sample, column: str | None, values: pd.Series, origin: str) -> Target:
    """The target of a sample with one target column, from its train labels and the metric."""
    values = values[values.str.strip() != ""]
    classes = sort_names(set(values))
    head = f"'{sample.targets[0]}' <- {origin}"
    if metric == "rmse":
        numbers = _numbers(values, metric, origin, "numbers")
        return Target("regression", f"{head}: one column of numbers + rmse -> regression", [], column,
                      summary=f"none (regression: numbers from {numbers.min():g} to {numbers.max():g})")
    if metric == "qwk":
        _numbers(values, metric, origin, "integer grades", integers=True)
        why = f"{head}: one column of {len(classes)} integer grades ({classes[0]}..{classes[-1]}) + qwk -> grade"
        return Target("grade", why, classes, column)
    if metric == "map_at_5":
        target = _top_k(sample, values, classes, head)
        target.label_column = column
        return target
    if metric in ("roc_auc", "log_loss"):
        if len(classes) != 2:
            raise CompError(f"--metric {metric} over one target column scores two classes, but {origin} holds "
                            f"{len(classes)} ({few(classes)}); pass the competition's metric, or set target.kind")
        why = (f"{head}: one column of {classes[0]}/{classes[1]} labels + {metric} -> binary, positive class "
               f"'{classes[1]}' (the last of the sorted classes)")
        return Target("binary", why, classes, column, {"positive": classes[1]})
    if metric in ("micro_f1", "macro_f1", "mean_roc_auc") and is_multi_label(values):
        example = next(c for c in values if len(c.split()) > 1)
        why = f"{head}: cells of space-separated labels (e.g. {example!r}) + {metric} -> multi-label"
        labels = sort_names({t for c in set(values) for t in c.split()})
        return Target("multi-label", why, labels, column, {"separator": " "})
    if metric == "mean_roc_auc" or len(classes) < 2:
        raise CompError(f"--metric {metric} does not fit {sample.path.name}'s one target column '{sample.targets[0]}' "
                        f"of {len(classes)} class(es) from {origin}; pass the competition's metric, or set target.kind")
    return Target("class", f"{head}: one column of {len(classes)} labels + {metric} -> class", classes, column)


def infer_target(metric: str, sample: Sample, layout: Layout) -> Target:
    """The competition's target (see the module's docstring)."""
    if len(sample.targets) > 1:
        return _several(metric, sample, layout)
    if layout.table is not None:
        column = label_column(sample.targets[0], layout)
        return _one(metric, sample, column, layout.table[column], _origin(layout, column))
    return _one(metric, sample, layout.label_column, layout.values, _origin(layout, None))
