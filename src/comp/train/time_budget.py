"""Time budgets (``comp train --time-budget 2h``): each fold's epochs shortened so that its
learning-rate schedule still runs to its end.

**The run.** The budget counts the folds' seconds (their ``metrics.json`` ``seconds``: epochs
and the final prediction, the run summary's ``seconds``). A fold that starts gets an equal
share of what is left (:func:`fold_share`): the budget less the seconds of the finished folds
and the shares of folds that hold a plan of their own, over the folds without one. A fast early
fold leaves more to the later ones.

**The fold.** Its plan (:class:`TimePlan`, ``fold-<k>/time_budget.json``) starts at
``train.epochs``. After every epoch :class:`TimeBudget` re-plans (:func:`plan_epochs`): the
epochs that fit in the fold's share less what it spent and a reserve for the final prediction,
at the mean epoch time (:func:`epoch_estimate`). The plan never exceeds ``train.epochs``, and
the next epoch of a plan not yet finished always runs, so the epoch a plan names as its last
runs knowing it: the schedule's total steps (a variable that :class:`comp.train.optim.WarmupDecay`
reads), Lookahead's total and ``augment.mix_off_epochs`` follow the plan, and the fold stops
where its plan ends, with the schedule at its final learning rate.

**Tracing.** The first epoch of every ``fit`` call holds the graph tracing (and the first
fill of the input pipeline). Its first-step cost is measured (the first step's time less the
median step's, in training and in validation); the estimate is the mean of the other epochs,
or, after the first epoch alone, that epoch less its first-step cost.

**Resume.** The plan after each epoch is saved in the fold folder before the epoch's backup;
a resumed fold drops the entries after its backed-up epoch and continues the plan that was in
force there.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from comp.files.atomic import write_json
from comp.errors import CompError

PLAN_FILE = "time_budget.json"
MAX_BUDGET_S = 366 * 24 * 3600
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def parse_duration(text: str) -> float:
    """Seconds of ``90s``, ``45m``, ``2h``, ``1h30m``, ``1.5h`` (h, m and s in that order)."""
    raw = str(text).strip().lower().replace(" ", "")
    match = _DURATION.fullmatch(raw)
    if not raw or match is None or not any(match.groups()):
        raise CompError(f"--time-budget {text!r}: expected a duration such as 90s, 45m, 2h or 1h30m "
                        f"(hours h, minutes m, seconds s, in that order)")
    hours, minutes, seconds = (float(g or 0) for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise CompError(f"--time-budget {text!r}: the budget must be more than 0 seconds")
    if not total <= MAX_BUDGET_S:  # also an infinite float (hundreds of digits)
        raise CompError(f"--time-budget {text!r}: at most 366 days (8784h)")
    return total


def plan_epochs(done: int, previous: int, seconds_left: float, estimate: float, max_epochs: int) -> int:
    """The fold's planned total epochs after ``done`` epochs, under the plan ``previous``.

    A plan that has reached its end stays there (its schedule has decayed: no epoch can be
    added). Otherwise: the epochs that ``seconds_left`` holds at ``estimate`` seconds each, at
    least one more (the next epoch knows it is the last) and at most ``max_epochs``. A new plan
    within one epoch of ``previous`` keeps ``previous`` (timing noise would move the schedule's
    end back and forth by an epoch).
    """
    if done >= previous:
        return done
    more = math.floor(seconds_left / estimate) if estimate > 0 else max_epochs
    planned = max(min(done + more, max_epochs), done + 1, 1)
    return previous if abs(planned - previous) <= 1 and previous > done + 1 else planned


def epoch_estimate(seconds: list[float], first_step: list) -> float:
    """Seconds an epoch takes: the mean of the epochs that opened no ``fit`` call (``first_step``
    is None for them), else the mean of those epochs less their first-step cost (-1: unknown, 0)."""
    plain = [s for s, extra in zip(seconds, first_step) if extra is None]
    if plain:
        return sum(plain) / len(plain)
    cleaned = [max(s - max(extra, 0.0), 0.1 * s) for s, extra in zip(seconds, first_step)]
    return sum(cleaned) / len(cleaned) if cleaned else 0.0


def estimate_known(first_step: list) -> bool:
    """Whether an epoch time without tracing is known: an epoch that opened no fit call, or a
    measured first-step cost. Before that a plan is not cut unless the budget is nearly spent."""
    return any(extra is None or extra >= 0 for extra in first_step)


def first_step_cost(begins: list[float]) -> float:
    """The extra time of a loop's first step, from the times its steps began: the first step's
    duration less the median of the others' (-1, unknown, where fewer than three steps began)."""
    steps = [b - a for a, b in zip(begins, begins[1:])]
    if len(steps) < 2:
        return -1.0
    rest = sorted(steps[1:])
    return max(steps[0] - rest[len(rest) // 2], 0.0)


@dataclass
class TimePlan:
    """A fold's time plan, saved as ``time_budget.json`` in its folder."""

    budget_s: float  # the fold's share of the run's budget
    max_epochs: int  # train.epochs
    plans: list[dict] = field(default_factory=list)  # {"after_epoch": d, "planned": P}, P in force for epoch d + 1
    seconds: list[float] = field(default_factory=list)  # each epoch's wall time, its checkpoint and backup too
    first_step: list = field(default_factory=list)  # its first-step cost where it opened a fit call, else None
    reserve_s: float = 0.0  # the final prediction's estimated seconds
    spent_s: float = 0.0  # the fold's wall time so far, over its attempts (up to its last saved epoch)

    @property
    def planned(self) -> int:
        return int(self.plans[-1]["planned"]) if self.plans else self.max_epochs

    @property
    def done(self) -> int:
        return len(self.seconds)

    def save(self, fold_dir: Path) -> None:
        write_json(fold_dir / PLAN_FILE, asdict(self))


def read_plan(fold_dir: Path) -> TimePlan | None:
    path = fold_dir / PLAN_FILE
    if not path.is_file():
        return None
    try:
        return TimePlan(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None  # damaged: the fold plans afresh


def start_plan(fold_dir: Path, share: float, max_epochs: int, past_seconds: list[float]) -> TimePlan:
    """The fold's plan: a resumed fold's saved one, cut back to its backed-up epochs (the
    ``past_seconds`` of its history.csv); else a new one with ``share`` seconds."""
    done = len(past_seconds)
    plan = read_plan(fold_dir) if done else None
    if plan is None or plan.done < done or plan.max_epochs != max_epochs:
        plan = TimePlan(float(share), int(max_epochs), [{"after_epoch": 0, "planned": int(max_epochs)}],
                        [float(s) for s in past_seconds], ([-1.0] + [None] * (done - 1))[:done],
                        spent_s=float(sum(past_seconds)))
    plan.seconds, plan.first_step = plan.seconds[:done], plan.first_step[:done]
    plan.plans = [p for p in plan.plans if p["after_epoch"] <= done] or [{"after_epoch": 0, "planned": max_epochs}]
    plan.save(fold_dir)
    return plan


def fold_share(run, k: int) -> float | None:
    """Fold ``k``'s share of the run's ``time_budget_s`` (None without a budget): what is left
    after the finished folds' seconds and the other planned folds' shares, over the folds that
    still need a share (``k`` among them)."""
    budget = run.time_budget_s
    if not budget:
        return None
    left, open_folds = float(budget), 1
    for j in range(run.n_folds):
        if j == k:
            continue
        plan = read_plan(run.fold_dir(j))
        if run.fold_done(j):
            done = run.fold_metrics(j)
            left -= float(done.get("budget_used_s", done["seconds"]))
        elif plan is not None:
            left -= plan.budget_s
        else:
            open_folds += 1
    return max(left, 0.0) / open_folds


def budget_line(run, todo: list[int]) -> str:
    """The line ``comp train`` says before its folds: the run's budget is shared by all its folds,
    also where ``--fold`` trains one of them, and what the first fold to train gets."""
    k, total = todo[0], float(run.time_budget_s)
    share = fold_share(run, k)
    return (f"time budget {total:,.0f} s for the run's {run.n_folds} folds (also with --fold; each gets an equal "
            f"share of what is left): fold {k} gets {share:,.0f} s")


def plan_record(plan: TimePlan | None, finish_seconds: float) -> dict:
    """What a fold's metrics.json says about its budget: its share, the epochs of its last plan,
    and the seconds the budget counts (training as the plan measured it, then the prediction)."""
    if plan is None:
        return {}
    return {"time_budget_s": round(plan.budget_s, 1), "planned_epochs": plan.planned,
            "budget_used_s": round(plan.spent_s + finish_seconds, 1)}


def budget_summary(run, per_fold: list[dict]) -> dict:
    """The run summary's budget keys: the budget, and the seconds its finished folds used."""
    if not run.time_budget_s:
        return {}
    used = sum(f.get("budget_used_s", f["seconds"]) for f in per_fold)
    return {"time_budget_s": run.time_budget_s, "budget_used_s": round(used, 1)}


def check_budget_recipe(recipe) -> None:
    """A budget shortens one schedule; a pretrained backbone's two phases have two."""
    from comp.runs.config import uses_pretrained_weights

    if uses_pretrained_weights(recipe):
        raise CompError("--time-budget does not apply to a pretrained backbone's two-phase fine-tuning; "
                        "set train.epochs instead")


def now() -> float:
    return time.perf_counter()
