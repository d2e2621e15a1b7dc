"""A fold under a time budget (:mod:`comp.train.time_budget`): the callback that re-plans after
every epoch, and the ``fit`` loop that follows the plan.

The schedule reads its total steps from a variable (:class:`comp.train.optim.WarmupDecay`), set
here from the plan; Lookahead's total is set with it. ``augment.mix_off_epochs`` is a number
the training dataset is built with: where a re-plan moves the last mixed epoch, the callback
ends the ``fit`` call after the epoch's backup and the loop builds the dataset again, so every
batch is the one a resumed fold would build. Only the next epoch's turn is checked: a dataset
built with an older plan is kept as long as it mixes the next epoch as the plan does.
"""

from __future__ import annotations

from pathlib import Path

from comp.tf_quiet import keras, tf
from comp.train.time_budget import (TimePlan, epoch_estimate, estimate_known, first_step_cost, now, plan_epochs,
                                    start_plan)


class TimeBudget(keras.callbacks.Callback):
    """Re-plans the fold's epochs after each one (after CSVLogger, before BackupAndRestore).

    Time is wall time from the fold's start (``started``): model building, tracing, checkpoints
    and backups count. An epoch's time runs from its start to the next epoch's (or the end of
    its ``fit`` call), so its checkpoint and backup count too; at its own end that part is
    estimated from the epochs before it.
    """

    def __init__(self, plan: TimePlan, fold_dir: Path, steps: int, updates: int, total_steps=None,
                 mix_off: int = 0, predict_factor: float = 1.0, log=lambda msg: None, started: float | None = None):
        super().__init__()
        self.plan, self.fold_dir, self.steps, self.updates = plan, fold_dir, steps, updates
        self.total_steps, self.mix_off, self.predict_factor, self.log = total_steps, mix_off, predict_factor, log
        self.lookahead = None  # the fold's Lookahead callback, if any
        self.dataset_epochs = plan.planned  # the plan the current training dataset was built with
        self.started, self.spent_before = now() if started is None else started, plan.spent_s
        self._val, self._after_end, self._logged = {"seconds": 0.0, "first_step": 0.0}, [], None

    def apply(self, planned: int) -> None:
        if self.total_steps is not None:
            self.total_steps.assign(float(planned * self.updates))
        if self.lookahead is not None:
            self.lookahead.total_steps = planned * self.steps

    def spent(self) -> float:
        return self.spent_before + now() - self.started

    def on_train_begin(self, logs=None):
        self.apply(self.plan.planned)
        self._first, self._train_begins, self._test_begins, self._begin = True, [], [], None

    def _close_epoch(self, t: float) -> None:
        """The epoch before ``t`` took until ``t``: its checkpoint and backup are in."""
        if self._begin is not None:
            self._after_end.append(t - self._begin - self._to_end)
            self.plan.seconds[-1] = t - self._begin

    def on_epoch_begin(self, epoch, logs=None):
        t = now()
        self._close_epoch(t)
        self._begin = t

    def on_train_end(self, logs=None):
        self._close_epoch(now())
        self._begin = None
        self.plan.spent_s = round(self.spent(), 3)
        self.plan.save(self.fold_dir)

    def on_train_batch_begin(self, batch, logs=None):
        if self._first:
            self._train_begins.append(now())

    def on_test_begin(self, logs=None):
        self._test_start = now()

    def on_test_batch_begin(self, batch, logs=None):
        if self._first:
            self._test_begins.append(now())

    def on_test_end(self, logs=None):
        self._test_seconds = now() - self._test_start

    def reserve(self) -> float:
        """The final prediction's seconds: validation's time, scaled to its views and rows, and
        one more first-step cost (the prediction's tracing)."""
        test_seconds = getattr(self, "_test_seconds", 0.0)
        if self._first:
            extra = max(first_step_cost(self._test_begins), 0.0)
            self._val = {"seconds": max(test_seconds - extra, 0.0), "first_step": extra}
        else:
            self._val["seconds"] = test_seconds
        return self.predict_factor * self._val["seconds"] + self._val["first_step"]

    def on_epoch_end(self, epoch, logs=None):
        plan, t = self.plan, now()
        self._to_end = t - self._begin
        after_end = sum(self._after_end) / len(self._after_end) if self._after_end else 0.0
        extra = self._first_step() if self._first else None
        plan.seconds.append(self._to_end + after_end)
        plan.first_step.append(extra)
        plan.reserve_s = round(self.reserve(), 3)
        self._first = False
        previous, estimate = plan.planned, epoch_estimate(plan.seconds, plan.first_step)
        plan.spent_s = round(self.spent() + after_end, 3)
        left = plan.budget_s - plan.spent_s - plan.reserve_s
        planned = plan_epochs(plan.done, previous, left, estimate, plan.max_epochs)
        if planned < previous and not estimate_known(plan.first_step) and left > 2 * estimate:
            planned = previous  # the epoch's tracing could not be told apart: wait for a plain epoch
        plan.plans.append({"after_epoch": plan.done, "planned": planned, "estimate_s": round(estimate, 3)})
        plan.save(self.fold_dir)
        self._say(planned, estimate, left)
        self.apply(planned)
        # the next epoch mixes under the new plan and not under the dataset's, or the other way
        # round: the dataset is built again (a later epoch's turn is checked before it runs)
        moved = self.mix_off and (plan.done < planned - self.mix_off) != (plan.done < self.dataset_epochs - self.mix_off)
        if plan.done >= planned or moved:
            self.model.stop_training = True

    def _first_step(self) -> float:
        """The first-step costs of training and validation (-1 where training's is unknown)."""
        train = first_step_cost(self._train_begins)
        return train if train < 0 else train + max(first_step_cost(self._test_begins), 0.0)

    def _say(self, planned: int, estimate: float, left: float) -> None:
        """The plan after the first two epochs, and when it moves by a tenth from the one last said."""
        plan = self.plan
        if plan.done > 2 and self._logged and abs(planned - self._logged) < max(2, 0.1 * self._logged):
            return
        self._logged = planned
        self.log(f"time budget {plan.budget_s:,.0f} s: {planned} of {plan.max_epochs} epochs planned "
                 f"after epoch {plan.done} ({estimate:.2f} s an epoch, {max(left, 0):,.0f} s left)")


def history_seconds(path: Path) -> list[float]:
    """Each logged epoch's seconds (history.csv, trimmed to the backed-up epochs on resume)."""
    import pandas as pd

    if not path.is_file() or path.stat().st_size == 0:
        return []
    return [float(s) for s in pd.read_csv(path)["seconds"]]


def attach_plan(trainer, share: float, log, started: float | None = None) -> TimePlan:
    """Give ``trainer`` (a :class:`comp.train.fold.FoldTrainer`) its plan: the total-steps
    variable its schedule reads, the epochs its dataset mixes for, and the callback."""
    from comp.predict.tta import tta_views

    cfg, predict = trainer.recipe.train, trainer.recipe.predict
    plan = start_plan(trainer.fold_dir, share, cfg.epochs, history_seconds(trainer.history_path))
    views = 1 + (len(tta_views(predict.tta, predict.crop)) - 1) * predict.tta_share  # selective TTA: a share
    n_test = 0 if trainer.data.x_test is None else len(trainer.data.x_test)
    updates = trainer.steps  # the schedule's steps an epoch: batches, also under train.accumulate (train.optim)
    with trainer.scope():
        total = tf.Variable(float(plan.planned * updates), trainable=False, dtype=tf.float32,
                            name="planned_total_steps")
    n_val = max(len(trainer.data.x_val), 1)
    mixing = trainer.recipe.augment.mixup_alpha > 0 or trainer.recipe.augment.cutmix_alpha > 0
    trainer.plan, trainer.total_steps, trainer.mix_epochs = plan, total, plan.planned
    trainer.budget = TimeBudget(plan, trainer.fold_dir, trainer.steps, updates,
                                None if cfg.schedule == "plateau" else total,
                                trainer.recipe.augment.mix_off_epochs if mixing else 0,
                                views * (n_val + n_test) / n_val, log, started)
    if plan.done:
        log(f"time budget {plan.budget_s:,.0f} s: continuing its plan of {plan.planned} of {cfg.epochs} epochs")
    else:
        log(f"time budget {plan.budget_s:,.0f} s for this fold: up to {cfg.epochs} epochs, re-planned after each")
    return plan


def fit_to_plan(trainer, fit) -> None:
    """``fit`` until the plan's last epoch; again where a re-plan moved the last mixed epoch."""
    plan = trainer.plan
    while plan.done < plan.planned:
        start = plan.done
        trainer.mix_epochs = trainer.budget.dataset_epochs = plan.planned
        fit(start, plan.max_epochs)
        if plan.done == start:
            break  # nothing trained (cannot happen with a plan not reached): never loop for ever
