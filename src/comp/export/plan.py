"""What ``comp export`` exports, decided and checked before anything is written: the runs (as
``comp predict --ensemble`` takes them, refused by the same rules), their blend weights and
decisions, the TTA level and the selective-TTA share that fits the kernel's time limit
(:mod:`comp.export.timing`), the Kaggle owner and slug."""

from __future__ import annotations

import json
import os
from pathlib import Path

from comp.config.spec import Competition
from comp.errors import CompError
from comp.export.bundle import ExportPlan, slug_of
from comp.export.timing import fit_to_limit, measure

OWNER_HELP = ("comp export needs your Kaggle user name for the dataset's and the kernel's ids: pass --owner NAME, "
              "or set KAGGLE_USERNAME (or keep kaggle.json in ~/.kaggle)")


def kaggle_owner(owner: str | None) -> str:
    """--owner, else KAGGLE_USERNAME, else kaggle.json's username."""
    if owner:
        return owner
    if os.environ.get("KAGGLE_USERNAME"):
        return os.environ["KAGGLE_USERNAME"]
    config = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle")) / "kaggle.json"
    try:
        name = json.loads(config.read_text(encoding="utf-8")).get("username")
    except (OSError, ValueError, AttributeError):
        name = None
    if not name:
        raise CompError(OWNER_HELP)
    return name


def plan_export(competition: Competition, run_ids: list[str], weights: str, owner: str | None, slug: str | None,
                test_images: int | None, say, allow_partial: bool = False) -> ExportPlan:
    """Everything checked and decided, nothing written."""
    from comp.data.demo import ensure_data
    from comp.data.layouts import read_dataset
    from comp.predict.probs import load_model, tta_level, tta_share
    from comp.predict.tta import tta_views
    from comp.runs.listing import latest_run
    from comp.runs.run import open_run
    from comp.submit.submission import check_rules, check_runs_can_submit, run_decisions, run_weights
    from comp.targets.kinds import head

    owner = kaggle_owner(owner)
    runs = [open_run(competition.name, r) for r in run_ids] or [latest_run(competition.name)]
    check_rules(competition, runs)
    ensure_data(competition)
    dataset = read_dataset(competition)
    check_runs_can_submit(runs, dataset, ensemble=True, allow_partial=allow_partial)
    blend, _ = run_weights(runs, weights, competition.metric, say)
    level = tta_level(runs, True, None)
    first = runs[0]
    model = load_model(first.fold_dir(first.finished_folds()[0]) / "model.keras")
    timing = measure(model, list(dataset.test["path"]), tuple(competition.data.image_size),
                     first.recipe.predict.batch_size, head(competition.target.kind))
    n_images = test_images or len(dataset.test)
    n_models = sum(len(r.finished_folds()) for r in runs)
    share = fit_to_limit(timing, competition.platform.kernel_time_limit, n_images, n_models,
                         len(tta_views(level)), tta_share(runs, level, None), say)
    seconds = timing.seconds(1, n_models, len(tta_views(level)), share)
    record = {"seconds_per_image": seconds, "decode_s": timing.decode_s, "predict_s": timing.predict_s,
              "machine": timing.machine, "test_images": n_images}
    return ExportPlan(competition, runs, blend, run_decisions(runs, blend, competition.metric), level, share, owner,
                      slug or slug_of(f"{competition.name}-{'-'.join(r.id for r in runs)}"), record)
