"""``comp export``: runs written as a Kaggle dataset and an offline inference kernel.

``DIR/dataset/`` (the Kaggle dataset the kernel attaches): ``models/<run>/fold-<k>.keras``,
``export.json`` (the resolved spec, each run's class map, folds, TTA level and share, blend
weight; the decisions fitted out of fold; a regression's scale; the library versions it was
trained with; the measured prediction time), ``lib/comp/`` (comp's own modules: the kernel puts
``lib`` on ``sys.path``, so nothing is installed and nothing downloaded) and ``dataset-metadata.json``.

``DIR/kernel/``: ``kernel.py`` (:mod:`comp.export.kernel_script`) and ``kernel-metadata.json``
(``enable_internet: false``, the dataset and the competition as its sources).

The runs are those ``comp predict --ensemble`` would use (every fold of each; ``--weights``
equal or fitted out of fold), checked the same way before anything is written; the folder is
built under a temporary name and renamed into place whole.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import comp
from comp import __version__
from comp.config.spec import Competition, to_dict
from comp.errors import CompError
from comp.export.kernel_script import kernel_script
from comp.export.offline import EXPORT_FILE, FORMAT, installed_versions
from comp.files.atomic import atomic_dir
from comp.targets.kinds import regression_scale

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{4,48}[a-z0-9]")  # Kaggle's dataset and kernel slugs: 6-50 characters


@dataclass
class ExportPlan:
    """What an export holds, decided and checked before anything is written."""

    competition: Competition
    runs: list
    weights: list[float]
    decisions: dict
    level: str
    share: float
    owner: str
    slug: str
    timing: dict


def slug_of(text: str) -> str:
    """A Kaggle slug from a name: lowercase letters, digits and '-', 6 to 50 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:50].strip("-")
    slug = slug if len(slug) >= 6 else f"{slug}-comp-export"[:50]
    if not SLUG.fullmatch(slug):
        raise CompError(f"cannot make a Kaggle slug of {text!r}; pass --slug (lowercase letters, digits, '-', 6-50)")
    return slug


def run_record(run, weight: float, level: str, share: float) -> dict:
    """One run of ``export.json``: its class map, fold models, TTA and blend weight."""
    folds = run.finished_folds()
    return {"id": run.id, "recipe": run.recipe_name, "class_names": run.class_names, "folds": folds,
            "models": [f"models/{run.id}/fold-{k}.keras" for k in folds], "weight": float(weight), "tta": level,
            "tta_share": float(share), "crop": float(run.recipe.predict.crop),
            "batch_size": int(run.recipe.predict.batch_size), "pretrained": bool(run.pretrained)}


def export_table(plan: ExportPlan) -> dict:
    """``export.json``."""
    competition, first = plan.competition, plan.runs[0]
    scale = None if competition.target.kind != "regression" else \
        list(regression_scale(first.fold_table()["label"], f"{first.dir}/folds.csv"))
    spec = to_dict(competition)
    spec["data"]["root"] = ""  # where the kernel finds the files: /kaggle/input/<competition>
    return {"format": FORMAT, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "created_by": f"comp {__version__}", "competition": spec,
            "kaggle_competition": competition.platform.kaggle,
            "runs": [run_record(r, w, plan.level, plan.share) for r, w in zip(plan.runs, plan.weights)],
            "decisions": plan.decisions,
            "regression_scale": scale,
            "versions": installed_versions(), "timing": plan.timing}


def copy_comp(lib: Path) -> None:
    """comp's own modules (every .py file of the package) under ``lib/comp/``: the kernel puts
    ``lib`` on ``sys.path``. A folder, not a zip: Kaggle unpacks the zips of a dataset."""
    root = Path(comp.__file__).resolve().parent
    for source in sorted(root.rglob("*.py")):
        target = lib / "comp" / source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def write_dataset(plan: ExportPlan, folder: Path) -> None:
    """``dataset/``: models, export.json, lib/comp/, dataset-metadata.json."""
    folder.mkdir()
    for run in plan.runs:
        (folder / "models" / run.id).mkdir(parents=True)
        for k in run.finished_folds():
            shutil.copy2(run.fold_dir(k) / "model.keras", folder / "models" / run.id / f"fold-{k}.keras")
    (folder / EXPORT_FILE).write_text(json.dumps(export_table(plan), indent=2) + "\n", encoding="utf-8")
    copy_comp(folder / "lib")
    metadata = {"title": f"{plan.competition.name} models (comp)"[:50], "id": f"{plan.owner}/{plan.slug}",
                "licenses": [{"name": "CC0-1.0"}]}
    (folder / "dataset-metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")


def write_kernel(plan: ExportPlan, folder: Path) -> None:
    """``kernel/``: kernel.py and kernel-metadata.json."""
    folder.mkdir()
    slug = plan.competition.platform.kaggle or plan.competition.name
    (folder / "kernel.py").write_text(kernel_script(slug, plan.slug), encoding="utf-8")
    kernel = f"{plan.slug[:43].strip('-')}-kernel"  # Kaggle derives a kernel's slug from its title: keep them one
    metadata = {"id": f"{plan.owner}/{kernel}", "title": kernel.replace("-", " "),
                "code_file": "kernel.py", "language": "python", "kernel_type": "script", "is_private": True,
                "enable_gpu": bool(plan.competition.platform.kernel_gpu), "enable_internet": False,
                "dataset_sources": [f"{plan.owner}/{plan.slug}"],
                "competition_sources": [slug], "kernel_sources": []}
    (folder / "kernel-metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")


def write_export(plan: ExportPlan, out: Path, force: bool) -> Path:
    """The export folder, built under a temporary name and renamed into place (replacing ``out``
    only with ``force``, and only once the new one is complete)."""
    if (out.exists() or out.is_symlink()) and not force:
        raise CompError(f"--out {out}: already exists; pass --force to replace it")
    aside = out.with_name(f".{out.name}.replaced")
    with atomic_dir(aside if out.exists() else out, "the export folder") as tmp:
        write_dataset(plan, tmp / "dataset")
        write_kernel(plan, tmp / "kernel")
    if aside.exists():
        old = out.with_name(f".{out.name}.old")
        out.rename(old)
        aside.rename(out)
        shutil.rmtree(old)
    return out
