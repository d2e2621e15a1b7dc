"""What is asked of a training: one request object for ``comp train``, every row of ``comp compare``
and every point of ``comp sweep`` (:func:`comp.train.runner.train_run` carries it out).

Example::

    request = TrainRequest(competition, "fast", ["train.epochs=3"], n_folds=5, seeds=3)
    results = train_run(request)  # one SeedResult per seed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from comp.config.spec import Competition
from comp.errors import CompError
from comp.files.paths import check_name


def _silent(msg: str) -> None:
    return None


@dataclass
class TrainRequest:
    competition: Competition
    recipe_ref: str  # a recipe's name or a TOML file's path, as --recipe takes it
    overrides: list[str] = field(default_factory=list)  # --set key=value
    n_folds: int = 5  # --folds; 1: one hold-out split
    val_fraction: float = 0.2  # the hold-out share with --folds 1
    folds: list[int] | None = None  # --fold K: only these folds; None: every fold
    run_id: str | None = None  # --run R (seeds: R, R-seed<S>); None: <prefix>-<folds>f-<config hash>
    run_prefix: str | None = None  # that prefix where not the recipe's name (comp compare's backbone rows)
    restart: bool = False  # --restart: delete the run and start over
    subset: int = 0  # --subset: at most this many training images per class, no test images
    seeds: int = 1  # --seeds N: train.seed, +1, ..., each on the first seed's folds
    distill: list[str] = field(default_factory=list)  # --distill RUN: teacher runs of the training rows
    pseudo_label: list[str] = field(default_factory=list)  # --pseudo-label RUN: teacher runs of the test images
    time_budget_s: float | None = None  # --time-budget
    executor: str = "process"  # inline, process or ray (comp.train.executors)
    gpus: list[str] | None = None  # --gpus
    verbose: int = 2  # Keras' verbosity in each fold
    say: Callable[[str], None] = _silent  # progress lines (stderr)
    label: str = ""  # a comparison row's name: its lines start with [label]
    on_run: Callable[[Any], None] = _silent  # called with each seed's run once it is trained (comp train prints its folder)

    def check(self) -> None:
        """What can be refused before any data is read or run folder made."""
        if not isinstance(self.seeds, int) or isinstance(self.seeds, bool) or self.seeds < 1:
            raise CompError(f"--seeds must be 1 or more. Received: --seeds={self.seeds}")
        bad = [k for k in self.folds or [] if self.n_folds >= 1 and not 0 <= k < self.n_folds]
        if bad:
            raise CompError(f"--fold must be in [0, {self.n_folds - 1}] with --folds {self.n_folds}. "
                            f"Received: --fold={bad[0]}")
        if self.run_id is not None:
            check_name(self.run_id, "--run")

    def tell(self, msg: str) -> None:
        self.say(f"[{self.label}] {msg}" if self.label else msg)
