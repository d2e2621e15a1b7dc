"""Offline comparisons: ``comp compare`` (transfer backbones and whole recipes side by side) and
``comp sweep`` (a grid of recipe settings).

Every row is an ordinary run, trained by the same code as ``comp train``: it resumes, skips
finished folds, and shows in ``comp runs``. The table, best first, goes to
``runs/<competition>/<compare|sweep>-<stamp>/`` as ``table.md`` and ``table.csv``, beside a bar
chart ``chart.png``. Its columns: the row, the model, parameters, out-of-fold accuracy and log
loss (and the competition's metric where it is neither), train seconds (every attempt,
prediction included) and training images per second of epoch time. With ``seeds`` > 1 each row
is that many runs on the same folds (:mod:`comp.runs.seeds`): the score columns are their means, and
``oof_mean``, ``oof_std``, ``seeds`` and ``within_spread`` tell which rows the seed cannot tell apart.

Example::

    rows = backbone_rows(["MobileNetV2", "EfficientNetB0"], ["train.epochs=1"]) + recipe_rows(["fast"], [], competition)
    out_dir, table = run_comparison("compare", TrainRequest(competition, "", n_folds=1, say=print), rows)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from comp import metrics
from comp.files.atomic import write_text
from comp.errors import CompError
from comp.config.recipe import load_recipe, parse_override
from comp.runs.seeds import SeedGroup, flag_within_spread, group_of, seed_groups, spread, spread_note
from comp.train.request import TrainRequest
from comp.config.spec import Competition

# --------------------------------------------------------------------------- rows


@dataclass
class Row:
    label: str  # the table's name for the row: a backbone, a recipe, or a grid point
    recipe_ref: str  # recipe name or path, as --recipe takes it
    overrides: list[str]  # --set overrides of this row
    settings: dict = field(default_factory=dict)  # sweep: grid key -> value (one column each)
    run_prefix: str | None = None  # run id = <prefix>-<folds>f-<config hash>; None: comp train's default id


def split_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``: the --backbones and --recipes lists."""
    return [part.strip() for part in text.split(",") if part.strip()]


def backbone_rows(backbones: list[str], overrides: list[str], recipe_ref: str = "transfer") -> list[Row]:
    """One row per backbone of the transfer recipe (``model.backbone=<name>``)."""
    rows = []
    for name in backbones:
        recipe_name = Path(recipe_ref).stem
        rows.append(Row(name, recipe_ref, [*overrides, f"model.backbone={name}"], run_prefix=f"{recipe_name}-{name}"))
    return rows


def recipe_rows(recipes: list[str], overrides: list[str], competition: Competition, say=None) -> list[Row]:
    """One row per recipe, as it is. A ``model.<key>`` override is another model's option (the
    backbones' ``model.weights=none``), so it only goes to recipes whose model has that key."""
    from comp.models import model_info

    rows = []
    for ref in recipes:
        options = set(model_info(load_recipe(ref, (), competition).model_name)["options"]) | {"name"}
        kept = [o for o in overrides if not _is_model_key(o) or _key(o).split(".")[1] in options]
        skipped = [o for o in overrides if o not in kept]
        if skipped and say is not None:
            say(f"recipe {ref}: {', '.join(skipped)} not applied (its model has no such option)")
        rows.append(Row(Path(ref).stem, ref, kept))
    return rows


def _key(override: str) -> str:
    return override.partition("=")[0].strip()


def _is_model_key(override: str) -> bool:
    return _key(override).startswith("model.") and _key(override).count(".") == 1


def split_values(text: str) -> list[str]:
    """Split ``v1,v2`` at the commas outside brackets and quotes: ``[8,16],[16,32]`` is two values."""
    values, depth, quote, current = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            values.append(current.strip())
            current = ""
            continue
        current += ch
    values.append(current.strip())
    return values


def parse_grid(text: str) -> tuple[str, list[str], list]:
    """``train.epochs=10,20`` -> (key, the values as typed, the values as TOML reads them)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    values = split_values(raw) if sep else []
    if not key or not values or any(not v for v in values):
        raise CompError(f"--grid expects key=value1,value2,..., for example --grid train.epochs=10,20. "
                        f"Received: --grid {text!r}")
    parsed = [parse_override(f"{key}={v}")[1] for v in values]
    return key, values, parsed


def grid_rows(recipe_ref: str, grids: list[str], overrides: list[str]) -> list[Row]:
    """One row per point of the grid (the product of every --grid's values)."""
    axes = [parse_grid(g) for g in grids]
    keys = [k for k, _, _ in axes]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise CompError(f"--grid names {repeated[0]} twice; give all its values in one --grid. "
                        f"Received: {', '.join(grids)}")
    rows = []
    for point in itertools.product(*[list(zip(raws, values)) for _, raws, values in axes]):
        sets = [f"{k}={raw}" for k, (raw, _) in zip(keys, point)]
        rows.append(Row(" ".join(sets), recipe_ref, [*overrides, *sets],
                        settings={k: value for k, (_, value) in zip(keys, point)}))
    return rows


# --------------------------------------------------------------------------- training the rows


def check_rows(competition: Competition, rows: list[Row]) -> None:
    """Every row's recipe, overrides and model options, checked before anything trains."""
    from comp.train.kfold import check_recipe

    if not rows:
        raise CompError("nothing to compare: pass --backbones and/or --recipes (or --grid for comp sweep)")
    labels = [r.label for r in rows]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise CompError(f"'{twice[0]}' is listed twice. Received rows: {', '.join(labels)}")
    for row in rows:
        check_recipe(load_recipe(row.recipe_ref, row.overrides, competition))


def _epoch_seconds(run, fold: int) -> float:
    """The fold's epoch seconds (its history.csv, checked); NaN where a person deleted it."""
    from comp.report.plots import fold_history

    hist = fold_history(run, fold)
    return float("nan") if hist is None else float(hist["seconds"].sum())


def result_row(row: Row, run, summary: dict) -> dict:
    """One line of the table."""
    per_fold = summary["per_fold"]
    images = sum(f["n_train"] * f["epochs"] for f in per_fold)
    seconds = sum(_epoch_seconds(run, f["fold"]) for f in per_fold)
    out = {"row": row.label, **row.settings, "model": run.model_label, "params": int(summary["params"])}
    if summary["metric"] not in ("accuracy", "log_loss"):
        out[f"oof_{summary['metric']}"] = summary["oof_score"]
    out.update({"oof_accuracy": summary.get("oof_accuracy", float("nan")),
                "oof_log_loss": summary.get("oof_log_loss", float("nan")),
                "train_seconds": summary["seconds"],
                "images_per_second": round(images / seconds, 1) if seconds > 0 else float("nan"),
                "run": run.id})
    return out


def score_column(metric: str) -> str:
    """The table's column of the competition's metric."""
    return f"oof_{metric}"


def sort_best_first(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Best first by the competition's metric, ties by lower log loss."""
    column = score_column(metric)
    higher = metrics.higher_is_better(metric)
    return table.sort_values([column, "oof_log_loss"], ascending=[not higher, True],
                             kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- outputs


def write_outputs(table: pd.DataFrame, kind: str, competition: Competition, n_folds: int, header: str,
                  footer: str = "") -> Path:
    """table.md, table.csv and chart.png in runs/<competition>/<kind>-<stamp>/ (each written atomically)."""
    from comp.report.plots import markdown_table, plot_comparison
    from comp.runs.run import RUNS_DIR

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out_dir, n = RUNS_DIR / competition.name / f"{kind}-{stamp}", 2
    while out_dir.exists():  # a second comparison within the same second keeps its own folder
        out_dir, n = RUNS_DIR / competition.name / f"{kind}-{stamp}-{n}", n + 1
    title = f"{competition.name}: {kind} ({n_folds} fold{'s' if n_folds > 1 else ''}, best first)"
    write_text(out_dir / "table.md", f"# {title}\n\n{header}\n\n{markdown_table(table)}\n"
               + (f"\n{footer}\n" if footer else ""))
    write_text(out_dir / "table.csv", table.to_csv(index=False))
    plot_comparison(table, competition.metric, title, out_dir / "chart.png")
    return out_dir


def run_comparison(kind: str, base: TrainRequest, rows: list[Row], header: str = "") -> tuple[Path, pd.DataFrame]:
    """Check every row, train each in turn, write the table and chart; returns (folder, table).

    ``base``: what every row shares (competition, folds, ``--subset``, ``--seeds``, executor...);
    each row adds its recipe, overrides and run prefix and is trained by
    :func:`comp.train.runner.train_run`, as ``comp train`` would. With seeds, where a row's seed
    spread is known (N >= 2, or its run's seed group in ``comp runs``) the table gets oof_mean,
    oof_std, seeds and within_spread columns, and a line naming the rows within the spread of the best.
    """
    from comp.runs.listing import list_runs
    from comp.train.runner import plan_seeds, train_run

    competition = base.competition
    check_rows(competition, rows)
    plan_seeds(0, base.seeds)  # --seeds checked before anything trains
    per_row = []
    for i, row in enumerate(rows, start=1):
        base.say(f"{kind} {i}/{len(rows)}: {row.label}")
        request = replace(base, recipe_ref=row.recipe_ref, overrides=list(row.overrides), run_prefix=row.run_prefix,
                          label=row.label)
        per_row.append([result_row(row, r.run, r.summary) for r in train_run(request)])
    groups = seed_groups(list_runs(competition.name))
    results = [seed_result(seeded, score_column(competition.metric),
                           group_of(groups, competition.name, seeded[0]["run"]))
               for seeded in per_row]
    table = sort_best_first(pd.DataFrame(results), competition.metric)
    if table["oof_std"].isna().all():  # no spread known: the table as without --seeds
        table = table.drop(columns=["oof_mean", "oof_std", "seeds"])
    table = flag_within_spread(table, score_column(competition.metric))
    return write_outputs(table, kind, competition, base.n_folds, header, spread_note(table)), table


def seed_result(seeded: list[dict], column: str, group: SeedGroup | None = None) -> dict:
    """The table's line for a row trained with one or more seeds: the oof_ columns and
    images_per_second averaged over the seeds, train_seconds summed, every seed's run id; and
    oof_mean, oof_std, seeds from the seeds' scores in ``column`` (the competition's metric), or
    for one seed from its seed group (seeds another command trained of the same config), if any."""
    mean, std, n = ((group.mean, group.std, group.n) if len(seeded) == 1 and group is not None
                    else spread([r[column] for r in seeded]))
    out = {}
    for key, value in seeded[0].items():
        if key == "train_seconds":
            out.update({"oof_mean": mean, "oof_std": std, "seeds": n, key: sum(r[key] for r in seeded)})
        elif key.startswith("oof_") or key == "images_per_second":
            out[key] = float(pd.Series([r[key] for r in seeded], dtype=float).mean())
        elif key == "run":
            out[key] = ", ".join(r["run"] for r in seeded)
        else:
            out[key] = value
    return out
