"""comp train --time-budget: the parser, the planner's maths, the run's split of the budget, a
resumed plan, the planned schedule, and a budgeted run of the tiny competition end to end."""

from __future__ import annotations

import json
import time
import tomllib
from types import SimpleNamespace

import pandas as pd
import pytest

from comp.errors import CompError
from comp.train.time_budget import (TimePlan, epoch_estimate, estimate_known, first_step_cost, fold_share,
                                    parse_duration, plan_epochs, read_plan, start_plan)

# --------------------------------------------------------------------------- the parser


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("45m", 2700), ("2h", 7200), ("1h30m", 5400), ("1.5h", 5400), ("1h 30m 15s", 5415),
    (" 2H ", 7200), ("0.5s", 0.5),
])
def test_durations_parse_to_seconds(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "90", "2 hours", "30m1h", "1d", "-5m", "h", "1h30", "1.2.3s"])
def test_a_bad_duration_says_what_is_accepted(text):
    with pytest.raises(CompError, match=r"expected a duration such as 90s, 45m, 2h or 1h30m") as info:
        parse_duration(text)
    assert "\n" not in str(info.value)


def test_a_zero_budget_is_refused():
    with pytest.raises(CompError, match="more than 0 seconds"):
        parse_duration("0m")


@pytest.mark.parametrize("text", ["8785h", "9" * 400 + "h", "527041m"])
def test_a_budget_over_a_year_is_refused(text):
    """A duration that long is a typo, and one of 400 digits is an infinite float the planner cannot floor."""
    with pytest.raises(CompError, match=r"--time-budget '.*': at most 366 days \(8784h\)"):
        parse_duration(text)
    assert parse_duration("8784h") == 8784 * 3600


def test_the_cli_refuses_a_bad_budget_in_one_line(tiny_competition, cli):
    res = cli("train", "-c", "tiny", "-r", "tiny", "--time-budget", "2x", "-q", catch=True)
    assert res.exit_code == 2
    assert "expected a duration such as 90s, 45m, 2h or 1h30m" in res.stderr
    assert not (tiny_competition / "runs").exists()


# --------------------------------------------------------------------------- the planner


def test_the_plan_is_what_the_time_left_holds():
    assert plan_epochs(done=1, previous=24, seconds_left=1000, estimate=100, max_epochs=24) == 11
    assert plan_epochs(1, 24, 10_000, 100, 24) == 24  # never more than train.epochs
    assert plan_epochs(5, 24, -50, 100, 24) == 6  # the budget is spent: one more epoch, the schedule's end
    assert plan_epochs(5, 24, 0, 0.0, 24) == 24  # no estimate yet: the recipe's epochs


def test_a_plan_that_has_ended_stays_ended():
    assert plan_epochs(done=9, previous=9, seconds_left=5000, estimate=10, max_epochs=24) == 9


def test_a_plan_within_one_epoch_of_the_last_is_kept():
    assert plan_epochs(done=3, previous=12, seconds_left=790, estimate=100, max_epochs=24) == 10  # 3 + 7: moves
    assert plan_epochs(3, 12, 850, 100, 24) == 12  # 3 + 8 = 11: within one, kept
    assert plan_epochs(3, 12, 950, 100, 24) == 12  # 3 + 9 = 12
    assert plan_epochs(3, 12, 1050, 100, 24) == 12  # 13: within one, kept
    assert plan_epochs(3, 12, 1150, 100, 24) == 14
    assert plan_epochs(3, 4, 1000, 100, 24) == 13  # the next epoch was the last: no hysteresis then


def test_the_epoch_estimate_leaves_the_tracing_out():
    # after the first epoch alone: its time less the measured first-step cost
    assert epoch_estimate([12.0], [4.0]) == pytest.approx(8.0)
    # the first-step cost unknown (-1): the whole epoch, an upper bound, and not yet known
    assert epoch_estimate([12.0], [-1.0]) == pytest.approx(12.0)
    assert not estimate_known([-1.0]) and estimate_known([4.0]) and estimate_known([-1.0, None])
    # then the mean of the epochs that opened no fit call
    assert epoch_estimate([12.0, 7.0, 9.0], [4.0, None, None]) == pytest.approx(8.0)
    assert epoch_estimate([12.0, 7.0, 11.0, 9.0], [4.0, None, 3.0, None]) == pytest.approx(8.0)


def test_the_first_step_cost_is_the_first_step_less_the_median_step():
    assert first_step_cost([0.0, 5.0, 6.0, 7.1, 8.0]) == pytest.approx(4.0)  # steps 5, 1, 1.1, 0.9
    assert first_step_cost([0.0, 1.0, 2.0, 3.0]) == pytest.approx(0.0)
    assert first_step_cost([0.0, 5.0]) == -1.0  # too few steps to tell


# --------------------------------------------------------------------------- the run's split, resume


def _run(tmp_path, budget, n_folds, done=None, planned=None):
    """A stand-in for comp.runs.run.Run: finished folds with their budget_used_s, planned folds with a share."""
    done, planned = done or {}, planned or {}
    for k, share in planned.items():
        (tmp_path / f"fold-{k}").mkdir(parents=True, exist_ok=True)
        TimePlan(share, 30).save(tmp_path / f"fold-{k}")
    return SimpleNamespace(time_budget_s=budget, n_folds=n_folds,
                           fold_done=lambda k: k in done, fold_metrics=lambda k: {"seconds": 1.0, **done[k]},
                           fold_dir=lambda k: tmp_path / f"fold-{k}")


def test_each_fold_gets_an_equal_share_of_what_is_left(tmp_path):
    assert fold_share(_run(tmp_path, 100.0, 4), 0) == pytest.approx(25.0)
    # fold 0 finished fast (10 s of its 25): the three others share the 90 s left
    assert fold_share(_run(tmp_path, 100.0, 4, done={0: {"budget_used_s": 10.0}}), 1) == pytest.approx(30.0)
    # fold 2 holds a plan of 40 s (it started elsewhere, or was interrupted): 50 s for folds 1 and 3
    run = _run(tmp_path, 100.0, 4, done={0: {"budget_used_s": 10.0}}, planned={2: 40.0})
    assert fold_share(run, 1) == pytest.approx(25.0)
    assert fold_share(_run(tmp_path, 10.0, 2, done={0: {"budget_used_s": 30.0}}), 1) == 0.0  # overspent: 0, 1 epoch
    assert fold_share(SimpleNamespace(time_budget_s=None), 0) is None  # no budget


def test_comp_train_says_the_budget_is_the_runs_and_what_the_fold_gets(tmp_path):
    from comp.train.time_budget import budget_line

    # --fold 0 of a 5-fold run budgeted 265m: the fold gets a fifth, and the line says so
    line = budget_line(_run(tmp_path, 265 * 60.0, 5), [0])
    assert line == ("time budget 15,900 s for the run's 5 folds (also with --fold; each gets an equal share "
                    "of what is left): fold 0 gets 3,180 s")
    assert budget_line(_run(tmp_path, 100.0, 4, done={0: {"budget_used_s": 10.0}}), [2, 3]).endswith("fold 2 gets 30 s")


def test_a_resumed_fold_continues_its_plan(tmp_path):
    plan = TimePlan(600.0, 24, [{"after_epoch": 0, "planned": 24}, {"after_epoch": 1, "planned": 10},
                                {"after_epoch": 2, "planned": 12}, {"after_epoch": 3, "planned": 11}],
                    [70.0, 50.0, 51.0], [20.0, None, None], reserve_s=5.0, spent_s=171.0)
    plan.save(tmp_path)
    resumed = start_plan(tmp_path, share=999.0, max_epochs=24, past_seconds=[70.0, 50.0])  # backup after epoch 2
    assert resumed.budget_s == 600.0  # its own share, not a new one
    assert resumed.planned == 12 and resumed.done == 2  # the plan in force after epoch 2
    assert resumed.seconds == [70.0, 50.0] and resumed.first_step == [20.0, None]
    assert resumed.spent_s == 171.0  # the time the killed attempt spent counts
    assert read_plan(tmp_path).planned == 12  # saved cut back
    fresh = start_plan(tmp_path, share=300.0, max_epochs=24, past_seconds=[])  # no backup: a new plan
    assert fresh.budget_s == 300.0 and fresh.planned == 24 and fresh.done == 0


# --------------------------------------------------------------------------- the planned schedule


def test_the_schedule_follows_its_planned_total():
    from comp.tf_quiet import tf
    from comp.train.optim import WarmupDecay

    fixed = WarmupDecay(0.1, 100, 10, 0.1, 0.05, "cosine")
    total = tf.Variable(100.0)
    planned = WarmupDecay(0.1, total, 10, 0.1, 0.05, "cosine")
    for step in (0, 5, 10, 40, 99, 100):
        assert float(planned(step)) == pytest.approx(float(fixed(step)), rel=1e-6)
    total.assign(40.0)  # re-planned: the decay ends at step 40
    assert float(planned(40)) == pytest.approx(0.1 * 0.05)
    assert float(planned(25)) == pytest.approx(float(WarmupDecay(0.1, 40, 10, 0.1, 0.05, "cosine")(25)))
    total.assign(12.0)  # shorter than twice the warm-up: the warm-up takes half
    assert float(planned(6)) == pytest.approx(0.1) and float(planned(12)) == pytest.approx(0.005)
    assert WarmupDecay.from_config(planned.get_config()).total_steps == 12


# --------------------------------------------------------------------------- a budgeted run


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_budgeted_run_ends_near_its_budget_with_every_schedule_complete(tiny_competition, cli):
    budget, epochs = 24.0, 400
    args = ["train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--run", "tb", "--executor", "inline", "-q",
            "--time-budget", f"{budget:g}s", "--set", f"train.epochs={epochs}", "--set", "train.final_fraction=0.05"]
    # no augment.mix_off_epochs here: its fit restart rebuilds the dataset, which on a loaded CPU
    # (two pytest workers) once took 10 s the plan cannot foresee; the restart itself is tested on
    # a fake clock (test_the_callback_moves_the_schedule_lookahead_and_mixing_with_the_plan)
    start = time.perf_counter()
    res = cli(*args, catch=True)
    wall = time.perf_counter() - start
    assert res.exit_code == 0, res.output
    assert "epochs planned after epoch 1" in res.stderr
    assert "time budget 24 s for the run's 2 folds (also with --fold" in res.stderr
    run_dir = tiny_competition / "runs/tiny/tb"
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert summary["time_budget_s"] == budget
    assert summary["budget_used_s"] == pytest.approx(budget, rel=0.10)  # the folds' seconds, as budgeted
    # the wall time adds start-up, predictions and plots, which under two loaded pytest workers took
    # up to 20 s; this bound only catches a run that ignores its plan (its 400 epochs take minutes)
    assert wall < budget * 2 + 20
    for fold in summary["per_fold"]:
        hist = pd.read_csv(run_dir / f"fold-{fold['fold']}" / "history.csv")
        assert fold["epochs"] == fold["planned_epochs"] == len(hist) < epochs
        assert hist["lr"].iloc[-1] == pytest.approx(0.02 * 0.05, rel=1e-4)  # the schedule ran to its end
        # and decayed on the way, not before: the epoch before the middle (with two epochs, the
        # first: a loaded CPU once fitted only two in the budget, and the second ends the schedule)
        assert len(hist) >= 2 and hist["lr"].iloc[(len(hist) - 1) // 2] > 0.02 * 0.05 * 2
        assert 0 < fold["time_budget_s"] <= budget
        plan = read_plan(run_dir / f"fold-{fold['fold']}")
        assert plan.planned == fold["epochs"] and plan.done == len(hist)
    with (run_dir / "config.toml").open("rb") as f:
        assert tomllib.load(f)["run"]["time_budget_s"] == budget


def test_a_budget_refuses_two_phase_fine_tuning():
    from comp.config.recipe import load_recipe
    from comp.train.time_budget import check_budget_recipe

    with pytest.raises(CompError, match="does not apply to a pretrained backbone"):
        check_budget_recipe(load_recipe("transfer"))
    check_budget_recipe(load_recipe("transfer", ["model.weights=none"]))  # from scratch: one schedule


def test_the_callback_moves_the_schedule_lookahead_and_mixing_with_the_plan(tmp_path, monkeypatch):
    """Epochs of 7 s (the first 10 s, 3 of them tracing) in a 100 s share: 13 epochs fit. The
    schedule's total and Lookahead's follow the plan; the fit call ends where the next epoch's
    mixing changes (mix_off_epochs 2: after epoch 11) and where the plan ends (epoch 13)."""
    from comp.tf_quiet import tf
    from comp.train import time_budget_fit

    clock = [0.0]
    monkeypatch.setattr(time_budget_fit, "now", lambda: clock[0])
    plan = start_plan(tmp_path, 100.0, 20, [])
    total = tf.Variable(0.0)
    callback = time_budget_fit.TimeBudget(plan, tmp_path, steps=10, updates=5, total_steps=total, mix_off=2, started=0.0)
    callback.lookahead = SimpleNamespace(total_steps=0)
    callback.set_model(SimpleNamespace(stop_training=False))
    stops = []
    while plan.done < plan.planned:
        callback.dataset_epochs = plan.planned  # what fit_to_plan does before each fit call
        callback.on_train_begin()
        assert float(total.numpy()) == plan.planned * 5 and callback.lookahead.total_steps == plan.planned * 10
        callback.model.stop_training = False
        while not callback.model.stop_training:
            start = clock[0]
            callback.on_epoch_begin(plan.done)
            batch_begins = (0.0, 4.0, 5.0, 6.0) if plan.done == 0 else (0.0, 1.0, 2.0)  # the first step traces
            for t in batch_begins:
                clock[0] = start + t
                callback.on_train_batch_begin(0)
            clock[0] = start + (10.0 if plan.done == 0 else 7.0)
            callback.on_epoch_end(plan.done, {"seconds": 0.0})
        callback.on_train_end()
        stops.append(plan.done)
    assert plan.plans[1]["planned"] == 13 and plan.first_step[0] == pytest.approx(3.0)
    assert stops == [11, 13] and plan.planned == 13
    assert float(total.numpy()) == 13 * 5 and callback.lookahead.total_steps == 130
    assert plan.spent_s == pytest.approx(10 + 12 * 7) and read_plan(tmp_path).done == 13
