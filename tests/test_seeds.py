"""Seed ensembles and the seed spread (comp.runs.seeds): ``--seeds N`` trains N runs on the same folds,
``comp runs`` lists their seed groups, and ``comp compare`` / ``comp sweep`` flag rows the seed
cannot tell apart."""

from __future__ import annotations

import json
import statistics
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w

from comp.data.folds import make_folds
from comp.errors import CompError
from comp.runs.config import build_run_config, read_run_config
from comp.runs.run import Run
from comp.runs.seeds import flag_within_spread, seed_groups, spread_note
from comp.train.compare import seed_result
from comp.train.runner import plan_seeds

QUICK = ["-c", "tiny", "-r", "tiny", "--executor", "inline", "-q", "--set", "train.epochs=1"]


def config_of(run_dir: Path) -> dict:
    return tomllib.loads((run_dir / "config.toml").read_text())


def fold_codes(run_dir: Path) -> np.ndarray:
    """folds.csv's labels as the integer codes make_folds saw (the class map's order)."""
    classes = json.loads((run_dir / "classes.json").read_text())["classes"]
    return pd.read_csv(run_dir / "folds.csv", dtype=str)["label"].map(classes.index).to_numpy()


# --------------------------------------------------------------------------- comp train --seeds


@pytest.mark.slow
def test_two_seeds_share_the_folds_and_subset_draw_but_not_the_seed_or_run_id(tiny_competition, cli):
    res = cli("train", *QUICK, "--folds", "2", "--fold", "0", "--subset", "5", "--seeds", "2")
    assert res.exit_code == 0, res.output
    first, second = [tiny_competition / line for line in res.stdout.split()]
    assert first.parent == second.parent == tiny_competition / "runs" / "tiny" and first != second
    # the same draw of 5 images per class, in the same folds, byte for byte
    assert (first / "folds.csv").read_bytes() == (second / "folds.csv").read_bytes()
    a, b = config_of(first), config_of(second)
    assert (a["recipe"]["train"]["seed"], a["run"]["seed"]) == (1, 1)  # the tiny recipe's seed
    assert (b["recipe"]["train"]["seed"], b["run"]["seed"]) == (2, 2)
    assert "split_seed" not in a["run"] and b["run"]["split_seed"] == 1
    # the folds are seed 1's, not those seed 2 would make
    codes = fold_codes(second)
    folds = pd.read_csv(second / "folds.csv")["fold"].to_numpy()
    np.testing.assert_array_equal(folds, make_folds(codes, 2, 1))
    assert not np.array_equal(folds, make_folds(codes, 2, 2))

    # the first seed's run is the run comp train makes without --seeds: found again, not retrained
    plain = cli("train", *QUICK, "--folds", "2", "--fold", "0", "--subset", "5")
    assert plain.exit_code == 0, plain.output
    assert plain.stdout.strip() == str(first.relative_to(tiny_competition))
    assert "nothing to train: every requested fold is finished" in plain.stderr


@pytest.mark.slow
def test_seeds_with_a_run_id_make_r_and_r_seed43_and_print_the_spread(tiny_competition, cli):
    res = cli("train", *QUICK, "--folds", "2", "--subset", "5", "--seeds", "2", "--run", "R",
              "--set", "train.seed=42")
    assert res.exit_code == 0, res.output
    runs = tiny_competition / "runs" / "tiny"
    assert res.stdout.split() == ["runs/tiny/R", "runs/tiny/R-seed43"]
    assert config_of(runs / "R-seed43")["recipe"]["train"]["seed"] == 43
    assert config_of(runs / "R-seed43")["run"]["split_seed"] == 42
    scores = [json.loads((runs / r / "metrics.json").read_text())["oof_score"] for r in ("R", "R-seed43")]
    mean, std = statistics.mean(scores), statistics.stdev(scores)
    assert f"seed spread: mean {mean:.4f}, std {std:.4f} over 2 seeds" in res.stderr
    table = res.stderr.split("seed spread:")[0].strip().splitlines()[-3:]
    assert table[0].split() == ["seed", "run", "folds", "oof", "minutes"]
    assert table[1].split()[:5] == ["42", "R", "0", "1", f"{scores[0]:.4f}"]
    assert table[2].split()[:5] == ["43", "R-seed43", "0", "1", f"{scores[1]:.4f}"]

    # a fold subprocess (comp train-fold) reads the run's split seed for its --subset draw:
    # seed 43's own draw would be other images, refused as "the training images changed"
    from comp.runs.run import open_run
    from comp.train.kfold import train_fold_in_run

    import shutil
    shutil.rmtree(runs / "R-seed43" / "fold-1")
    assert train_fold_in_run(open_run("tiny", "R-seed43"), 1, verbose=0) is not None
    assert (runs / "R-seed43" / "fold-1" / "metrics.json").is_file()

    listing = cli("runs", "-c", "tiny")
    assert listing.exit_code == 0, listing.output
    lines = listing.stdout.splitlines()
    header = lines[0].split()
    for line in lines[1:3]:
        assert line.split()[header.index("seeds")] == "2"
    assert f"seed group tiny (runs R, R-seed43): oof {mean:.4f} ± {std:.4f} (2 seeds)" in listing.stdout


def test_bad_seeds_and_run_ids_are_refused_before_anything_trains(tiny_competition, cli):
    res = cli("train", "-c", "tiny", "-r", "tiny", "--seeds", "0", catch=True)
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: --seeds must be at least 1. Received: --seeds=0"
    long_id = "r" * 127  # a valid --run, but its second seed's run id would be too long
    res = cli("train", "-c", "tiny", "-r", "tiny", "--seeds", "2", "--run", long_id, catch=True)
    assert res.exit_code == 2
    assert "--run must be a plain name" in res.stderr and f"Received: --run='{long_id}-seed2'" in res.stderr
    assert not (tiny_competition / "runs").exists()
    assert [p.run_id for p in plan_seeds(42, 3, "R")] == ["R", "R-seed43", "R-seed44"]
    assert [p.overrides for p in plan_seeds(42, 2)] == [[], ["train.seed=43"]]
    with pytest.raises(CompError, match=r"--seeds must be 1 or more. Received: --seeds=-1"):
        plan_seeds(1, -1)


# --------------------------------------------------------------------------- seed groups


def fake_run(root: Path, run_id: str, competition, recipe_overrides: list[str], split_seed=None,
             score: float | None = 0.5, finished: int = 2) -> Run:
    """A run folder with config.toml and metrics.json only: what seed_groups and comp runs read."""
    from comp.config.recipe import load_recipe

    recipe = load_recipe("tiny", recipe_overrides, competition)
    config = build_run_config(competition, recipe, "tiny", recipe_overrides, 2, split_seed=split_seed)
    run_dir = root / "runs" / "tiny" / run_id
    run_dir.mkdir(parents=True)
    # one creation time: comp runs lists them by id, a to h
    (run_dir / "config.toml").write_text(tomli_w.dumps({"created": "2025-01-01T00:00:00+00:00", **config.to_table()}))
    if score is not None:
        (run_dir / "metrics.json").write_text(json.dumps({"oof_score": score, "seconds": 60.0, "folds": 2,
                                                          "finished_folds": finished}))
    return Run(run_dir, read_run_config(run_dir / "config.toml"))


def test_seed_groups_gather_runs_that_differ_only_in_the_seed_on_the_same_folds(tiny_competition, cli):
    from comp.config.spec import load_competition

    comp = load_competition("tiny")
    runs = [
        fake_run(tiny_competition, "a", comp, [], score=0.70),                                 # seed 1, folds of 1
        fake_run(tiny_competition, "b", comp, ["train.seed=2"], split_seed=1, score=0.74),
        fake_run(tiny_competition, "c", comp, ["train.seed=3"], split_seed=1, score=0.75),
        fake_run(tiny_competition, "d", comp, ["train.seed=2"], score=0.90),                   # other folds (seed 2)
        fake_run(tiny_competition, "e", comp, ["train.seed=4", "train.lr=0.5"], split_seed=1, score=0.60),  # other lr
        fake_run(tiny_competition, "f", comp, ["train.seed=5"], split_seed=1, score=0.99, finished=1),  # partial
        fake_run(tiny_competition, "g", comp, ["train.seed=6"], split_seed=1, score=None),     # never summarised
        fake_run(tiny_competition, "h", comp, ["train.lr=0.5"], score=0.62),                   # e's group
    ]
    groups = seed_groups(runs)
    assert [(g.name, g.runs) for g in groups] == [("tiny", ["a", "b", "c"]), ("tiny", ["e", "h"])]
    assert groups[0].mean == pytest.approx(statistics.mean([0.70, 0.74, 0.75]))
    assert groups[0].std == pytest.approx(statistics.stdev([0.70, 0.74, 0.75]))
    assert groups[1].n == 2 and groups[1].std == pytest.approx(statistics.stdev([0.60, 0.62]))
    assert seed_groups(runs[3:5]) == []  # two runs, each alone in its group

    listing = cli("runs", "-c", "tiny")
    assert listing.exit_code == 0, listing.output
    header, *rows = [line.split() for line in listing.stdout.splitlines()[:len(runs) + 1]]
    seeds_of = {row[header.index("run")]: row[header.index("seeds")] for row in rows}
    assert seeds_of == {"a": "3", "b": "3", "c": "3", "d": "-", "e": "2", "f": "-", "g": "-",
                                        "h": "2"}
    overrides_of = {row[header.index("run")]: row[header.index("overrides")] for row in rows}
    assert overrides_of["a"] == "-" and overrides_of["e"] == "train.seed=4,train.lr=0.5"
    assert listing.stdout.splitlines()[-2:] == [
        f"seed group tiny (runs a, b, c): oof {statistics.mean([0.70, 0.74, 0.75]):.4f} ± "
        f"{statistics.stdev([0.70, 0.74, 0.75]):.4f} (3 seeds)",
        f"seed group tiny (runs e, h): oof 0.6100 ± {statistics.stdev([0.60, 0.62]):.4f} (2 seeds)"]


def test_seed_groups_of_runs_on_the_same_folds_with_fold(tiny_competition, cli):
    """Runs trained with --fold K (one fold of the split) group with runs on the same folds only."""
    from comp.config.spec import load_competition

    comp = load_competition("tiny")

    def on_folds(run: Run, folds: list[int]) -> Run:
        metrics = json.loads((run.dir / "metrics.json").read_text())
        metrics["per_fold"] = [{"fold": k} for k in folds]
        (run.dir / "metrics.json").write_text(json.dumps(metrics))
        return run

    runs = [
        on_folds(fake_run(tiny_competition, "a", comp, [], score=0.70, finished=1), [1]),
        on_folds(fake_run(tiny_competition, "b", comp, ["train.seed=2"], split_seed=1, score=0.74, finished=1), [1]),
        on_folds(fake_run(tiny_competition, "c", comp, ["train.seed=3"], split_seed=1, score=0.99, finished=1), [0]),
        fake_run(tiny_competition, "d", comp, ["train.seed=4"], split_seed=1, score=0.50),  # every fold
        fake_run(tiny_competition, "e", comp, ["train.seed=5"], split_seed=1, score=0.90, finished=1),  # folds unknown
    ]
    groups = seed_groups(runs)
    assert [(g.runs, g.folds) for g in groups] == [(["a", "b"], (1,))]
    listing = cli("runs", "-c", "tiny")
    assert listing.exit_code == 0, listing.output
    assert listing.stdout.splitlines()[-1] == (
        f"seed group tiny (runs a, b): oof 0.7200 ± {statistics.stdev([0.70, 0.74]):.4f} on fold 1 (2 seeds)")


def test_comp_runs_cuts_long_overrides_and_names_none():
    from comp.cli.listing import OVERRIDES_WIDTH, _overrides_text

    assert _overrides_text([]) == "-"
    assert _overrides_text(["train.lr=0.5", "train.epochs=3"]) == "train.lr=0.5,train.epochs=3"
    long = _overrides_text([f"train.lr=0.{i}" for i in range(20)])
    assert len(long) == OVERRIDES_WIDTH and long.startswith("train.lr=0.0,train.lr=0.1,") and long.endswith("...")


# --------------------------------------------------------------------------- compare and sweep


def test_a_row_closer_to_the_best_than_the_seed_spread_is_flagged():
    def seeds(row, scores):
        return [{"row": row, "model": "vgg", "params": 10, "oof_accuracy": s, "oof_log_loss": 1 - s,
                 "train_seconds": 10.0, "images_per_second": 5.0, "run": f"{row}-{i}"} for i, s in enumerate(scores)]

    table = pd.DataFrame([seed_result(seeds("a", [0.80, 0.84]), "oof_accuracy"),   # mean 0.82, std 0.028
                          seed_result(seeds("b", [0.80, 0.81]), "oof_accuracy"),   # 0.805: 0.015 from a
                          seed_result(seeds("c", [0.70, 0.71]), "oof_accuracy")])  # 0.705: far
    first = table.iloc[0]
    assert first["oof_accuracy"] == pytest.approx(0.82)
    assert first["oof_std"] == pytest.approx(np.std([0.8, 0.84], ddof=1))
    assert first["seeds"] == 2 and first["train_seconds"] == 20.0 and first["run"] == "a-0, a-1"
    flagged = flag_within_spread(table, "oof_accuracy")
    assert flagged["within_spread"].tolist() == ["best", "yes", "no"]
    assert spread_note(flagged) == ("cannot be told apart from the best row 'a' (a difference smaller than the "
                                    "seed spread): b")
    one_seed = pd.DataFrame([seed_result(seeds("a", [0.8]), "oof_accuracy"),
                             seed_result(seeds("b", [0.79]), "oof_accuracy")])
    assert one_seed["oof_std"].isna().all()  # one seed: no spread, nothing flagged
    assert "within_spread" not in flag_within_spread(one_seed, "oof_accuracy") and spread_note(one_seed) == ""


@pytest.mark.slow
def test_sweep_with_seeds_flags_rows_the_seed_cannot_tell_apart(tiny_competition, cli):
    # log loss: a continuous score, so two seeds differ; predict.batch_size does not change
    # training, so the two rows score the same and lie within each other's spread
    spec = tiny_competition / "competition" / "tiny.toml"
    spec.write_text(spec.read_text().replace('metric = "accuracy"', 'metric = "log_loss"'))
    res = cli("sweep", "-c", "tiny", "-r", "tiny", "--grid", "predict.batch_size=32,16", "--folds", "1",
              "--subset", "5", "--seeds", "2", "--executor", "inline", "-q", "--set", "train.epochs=1")
    assert res.exit_code == 0, res.output
    out_dir = tiny_competition / res.stdout.strip()
    table = pd.read_csv(out_dir / "table.csv")
    assert {"oof_mean", "oof_std", "seeds", "within_spread"} <= set(table.columns)
    assert table["seeds"].tolist() == [2, 2]
    for _, row in table.iterrows():
        ids = row["run"].split(", ")
        scores = [json.loads((tiny_competition / "runs" / "tiny" / r / "metrics.json").read_text())["oof_score"]
                  for r in ids]
        assert len(ids) == 2 and row["oof_mean"] == pytest.approx(np.mean(scores))
        assert row["oof_log_loss"] == pytest.approx(np.mean(scores))
        assert row["oof_std"] == pytest.approx(np.std(scores, ddof=1)) and row["oof_std"] > 0
    assert table["within_spread"].tolist() == ["best", "yes"]
    best, other = table["row"].tolist()
    note = f"cannot be told apart from the best row '{best}' (a difference smaller than the seed spread): {other}"
    assert note in res.stderr and note in (out_dir / "table.md").read_text()

    # one seed of a config whose seeds comp runs knows: the row shows that group's spread
    again = cli("compare", "-c", "tiny", "--recipes", "tiny", "--folds", "1", "--subset", "5", "--executor",
                "inline", "-q", "--set", "train.epochs=1", "--set", "predict.batch_size=32")
    assert again.exit_code == 0, again.output
    assert "nothing to train: every requested fold is finished" in again.stderr
    single = pd.read_csv(tiny_competition / again.stdout.strip() / "table.csv")
    sweep_row = table.set_index("row").loc["predict.batch_size=32"]
    assert single["run"].tolist() == [sweep_row["run"].split(", ")[0]]
    assert single["seeds"].tolist() == [2]
    assert single["oof_std"].iloc[0] == pytest.approx(sweep_row["oof_std"])


@pytest.mark.slow
def test_the_spread_compares_seeds_on_the_folds_they_all_finished(tiny_competition, cli):
    # seed 1 with both folds, then --seeds 2 --fold 0: seed 2 has fold 0 only, so both are
    # scored on fold 0's rows (seed 1's two-fold OOF score would compare other rows)
    assert cli("train", *QUICK, "--folds", "2", "--run", "R").exit_code == 0
    res = cli("train", *QUICK, "--folds", "2", "--run", "R", "--seeds", "2", "--fold", "0")
    assert res.exit_code == 0, res.output
    runs = tiny_competition / "runs" / "tiny"
    fold0 = [json.loads((runs / r / "fold-0" / "metrics.json").read_text())["score"] for r in ("R", "R-seed2")]
    table = res.stderr.split("seed spread:")[0].strip().splitlines()[-2:]
    assert table[0].split()[:4] == ["1", "R", "0", f"{fold0[0]:.4f}"]
    assert table[1].split()[:4] == ["2", "R-seed2", "0", f"{fold0[1]:.4f}"]
    mean, std = statistics.mean(fold0), statistics.stdev(fold0)
    assert f"seed spread: mean {mean:.4f}, std {std:.4f} over 2 seeds" in res.stderr


def test_a_seed_group_counts_each_seed_once(tiny_competition, cli):
    """A rerun of a seed under another run id is not a second seed: the spread is over distinct
    seeds (each seed's oldest run), and two runs of one seed make no group."""
    from comp.config.spec import load_competition

    comp = load_competition("tiny")
    runs = [
        fake_run(tiny_competition, "a", comp, [], score=0.70),                               # seed 1
        fake_run(tiny_competition, "a-again", comp, [], score=0.71),                         # seed 1 again
        fake_run(tiny_competition, "b", comp, ["train.seed=2"], split_seed=1, score=0.74),   # seed 2
    ]
    groups = seed_groups(runs)
    assert [(g.runs, g.n, g.repeats) for g in groups] == [(["a", "a-again", "b"], 2, ["a-again"])]
    assert groups[0].mean == pytest.approx(0.72) and groups[0].std == pytest.approx(statistics.stdev([0.70, 0.74]))
    assert seed_groups(runs[:2]) == []  # one seed twice: no spread to show
    listing = cli("runs", "-c", "tiny")
    assert listing.exit_code == 0, listing.output
    assert listing.stdout.splitlines()[-1] == (
        f"seed group tiny (runs a, a-again, b): oof 0.7200 ± {statistics.stdev([0.70, 0.74]):.4f} "
        f"(2 seeds; a-again repeats seed 1, not counted)")


def test_a_run_on_every_fold_joins_the_group_of_fold_runs_with_its_fold_score(tiny_competition, cli):
    """`--seeds 3 --fold 0 --run R` reuses a finished 5-fold R as its first seed: R joins the
    fold-0 group of the other seeds with its score on fold 0, and keeps its own group of runs on
    every fold."""
    from comp.config.spec import load_competition

    comp = load_competition("tiny")

    def with_folds(run: Run, fold_scores: dict[int, float]) -> Run:
        metrics = json.loads((run.dir / "metrics.json").read_text())
        metrics["per_fold"] = [{"fold": k, "score": s} for k, s in fold_scores.items()]
        (run.dir / "metrics.json").write_text(json.dumps(metrics))
        return run

    runs = [
        with_folds(fake_run(tiny_competition, "R", comp, [], score=0.72), {0: 0.70, 1: 0.74}),
        with_folds(fake_run(tiny_competition, "R-seed2", comp, ["train.seed=2"], split_seed=1, score=0.76,
                            finished=1), {0: 0.76}),
        with_folds(fake_run(tiny_competition, "R-seed3", comp, ["train.seed=3"], split_seed=1, score=0.79,
                            finished=1), {0: 0.79}),
        with_folds(fake_run(tiny_competition, "S", comp, ["train.seed=4"], split_seed=1, score=0.80),
                   {0: 0.78, 1: 0.82}),
    ]
    groups = seed_groups(runs)
    assert [(g.runs, g.folds, g.scores) for g in groups] == [
        (["R", "S"], (), [0.72, 0.80]),
        (["R", "R-seed2", "R-seed3", "S"], (0,), [0.70, 0.76, 0.79, 0.78])]
    assert seed_groups(runs[:1] + runs[3:]) == groups[:1]  # no fold-0 runs: no fold-0 group
    listing = cli("runs", "-c", "tiny")
    assert listing.exit_code == 0, listing.output
    mean, std = statistics.mean([0.70, 0.76, 0.79, 0.78]), statistics.stdev([0.70, 0.76, 0.79, 0.78])
    assert listing.stdout.splitlines()[-1] == (
        f"seed group tiny (runs R, R-seed2, R-seed3, S): oof {mean:.4f} ± {std:.4f} on fold 0 (4 seeds)")
