"""The runs of a competition, found on disk: ``list_runs``, ``latest_run``."""

from __future__ import annotations

from comp.errors import CompError
from comp.runs.config import read_run_config
from comp.runs.run import RUNS_DIR, Run


def list_runs(competition: str | None = None) -> list[Run]:
    """Runs sorted by creation time (oldest first)."""
    pattern = f"{competition}/*/config.toml" if competition else "*/*/config.toml"
    runs = []
    for cfg in RUNS_DIR.glob(pattern):
        if cfg.parent.name.startswith("."):  # a run being created
            continue
        try:
            runs.append(Run(cfg.parent, read_run_config(cfg)))
        except CompError:  # unreadable or damaged: `comp report RUN` / `comp train --run RUN` say why
            continue
    return sorted(runs, key=lambda r: (r.created, r.id))


def latest_run(competition: str) -> Run:
    runs = list_runs(competition)
    if not runs:
        raise CompError(f"no runs of '{competition}' in {RUNS_DIR / competition}; train one with "
                        f"`comp train --competition {competition}`")
    return runs[-1]
