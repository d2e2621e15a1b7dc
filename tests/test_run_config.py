"""comp.runs.config and comp.runs.identity: a run's config is built in one place, saved whole and
read back checked; its id is hashed in one place, pinned here as literal strings so that an
accidental change fails; a key added later at its default keeps every old id."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import tomli_w

from comp.config.recipe import Recipe, TrainCfg, load_recipe
from comp.config.spec import load_competition
from comp.errors import CompError
from comp.config.spec import read_toml
from comp.runs.config import build_run_config, read_run_config, run_config_from_table
from comp.runs.identity import changes, config_identity, run_id_for

OLD_CONFIG = Path(__file__).parent / "data" / "fast-2f-c14c59.config.toml"  # written by comp before this module


def ids_of(competition: str, recipe: str, sets=(), folds: int = 5, **kwargs) -> str:
    spec = load_competition(competition)
    return run_id_for(build_run_config(spec, load_recipe(recipe, list(sets), spec), recipe, list(sets), folds,
                                       **kwargs))


# If one of these changes, every run of that kind gets a new folder and `comp train` stops
# resuming it: a change to the hash must keep them. A changed shipped recipe or spec changes
# them legitimately (what the run does changed): then update the literal here.
@pytest.mark.parametrize("args, kwargs, expected", [
    (("demo-digits", "vgg-mixup"), {}, "vgg-mixup-5f-bff397"),  # 7cb83a until 2026-12-05 (its description)
    (("dacon-cifar10", "fast-muon"), {}, "fast-muon-5f-941c79"),
    (("dacon-cifar10", "fast"), {}, "fast-5f-d7a7d9"),
    (("dacon-cifar10", "fast", ["train.optimizer=muon"]), {}, "fast-5f-611fe3"),
    (("dacon-cifar10", "fast"), {"subset": 50}, "fast-5f-34902b"),
    (("dacon-cifar10", "fast"), {"split_seed": 7}, "fast-5f-f5bf13"),
    (("dacon-cifar10", "fast"), {"time_budget_s": 120.0}, "fast-5f-b766da"),
    (("dacon-cifar10", "transfer"), {"folds": 1}, "transfer-1f-17c3b8"),
    (("cifar10-128", "large"), {}, "large-5f-ae01fb"),
])
def test_real_run_ids_are_pinned(args, kwargs, expected):
    assert ids_of(*args, **kwargs) == expected


def test_a_student_run_id_is_pinned():
    from types import SimpleNamespace

    spec = load_competition("dacon-cifar10")
    teachers = SimpleNamespace(distill=[SimpleNamespace(id="t1")], pseudo=[], test_data=False, pretrained=False)
    config = build_run_config(spec, load_recipe("fast", [], spec), "fast", [], 5, teachers=teachers)
    assert run_id_for(config) == "fast-5f-1a16b7"


def test_what_does_not_change_a_run_leaves_its_id():
    plain = ids_of("dacon-cifar10", "fast")
    assert ids_of("dacon-cifar10", "fast", ["train.muon_lr=0.1"]) == plain  # a key of an unused optimizer
    assert ids_of("dacon-cifar10", "fast", ["train.epochs=24"]) == plain  # fast's own value, set again
    assert ids_of("dacon-cifar10", "fast", data_fingerprint="abc") == plain  # checked apart on reopening
    assert ids_of("dacon-cifar10", "fast", ["train.epochs=23"]) != plain
    assert ids_of("dacon-cifar10", "fast", ["train.optimizer=muon", "train.muon_lr=0.1"]) != \
        ids_of("dacon-cifar10", "fast", ["train.optimizer=muon"])


@dataclass
class TrainWithANewKey(TrainCfg):
    new_knob: float = 0.0  # a key added after the baseline; 0 keeps the old behaviour


@dataclass
class RecipeWithANewSection(Recipe):
    export: dict = field(default_factory=dict)  # a whole table added later, empty by default


def test_an_edited_recipe_description_never_stops_a_run_from_resuming():
    spec = load_competition("dacon-cifar10")
    saved = build_run_config(spec, load_recipe("fast", [], spec), "fast", [], 5)
    edited = build_run_config(spec, replace(load_recipe("fast", [], spec), description="reworded"), "fast", [], 5)
    assert changes(saved, edited) == []
    longer = build_run_config(spec, load_recipe("fast", ["train.epochs=23"], spec), "fast", ["train.epochs=23"], 5)
    assert changes(saved, longer) == ["recipe.train.epochs: 24 -> 23"]


def test_a_key_added_later_changes_no_id_at_its_default_and_every_id_when_set():
    spec = load_competition("dacon-cifar10")
    recipe = load_recipe("fast", [], spec)
    before = run_id_for(build_run_config(spec, recipe, "fast", [], 5))
    newer = replace(recipe, train=TrainWithANewKey(**vars(recipe.train)))
    assert run_id_for(build_run_config(spec, newer, "fast", [], 5)) == before
    newer.train.new_knob = 0.5
    assert run_id_for(build_run_config(spec, newer, "fast", [], 5)) != before
    with_section = RecipeWithANewSection(**vars(recipe))
    assert run_id_for(build_run_config(spec, with_section, "fast", [], 5)) == before
    with_section.export = {"tta_share": 0.5}
    assert run_id_for(build_run_config(spec, with_section, "fast", [], 5)) != before


def test_a_config_saved_by_an_earlier_version_reads_back_with_its_id():
    config = read_run_config(OLD_CONFIG)
    assert run_id_for(config) == "fast-2f-c14c59"  # the folder name it was created under
    assert (config.folds, config.overrides, config.data_fingerprint) == (2, ["train.epochs=2"], "b0b4b7b6539d9667")
    spec = load_competition("demo-digits")
    today = build_run_config(spec, load_recipe("fast", ["train.epochs=2"], spec), "fast", ["train.epochs=2"], 2)
    assert changes(config, today) == [] and run_id_for(today) == "fast-2f-c14c59"


def test_the_saved_table_round_trips_and_keeps_every_recipe_key():
    spec = load_competition("dacon-cifar10")
    config = build_run_config(spec, load_recipe("fast-muon", [], spec), "fast-muon", ["train.epochs=3"], 5,
                              subset=10, split_seed=3, time_budget_s=60)
    table = config.to_table()
    assert table["recipe"]["teacher"]["temperature"] == 1.0 and table["recipe"]["train"]["muon_lr"] == 0.085
    assert table["run"]["split_seed"] == 3 and table["run"]["subset"] == 10 and table["run"]["time_budget_s"] == 60.0
    back = run_config_from_table(table, "config.toml")
    assert back == config and run_id_for(back) == run_id_for(config)


@pytest.mark.parametrize("damage, fragments", [
    (lambda t: t.pop("run"), ["the table [run] is missing"]),
    (lambda t: t["run"].pop("folds"), ["[run] folds is missing"]),
    (lambda t: t["run"].update(folds="two"), ["[run] folds", "Received: folds='two'"]),
    (lambda t: t["run"].update(folds=0), ["[run] folds must be at least 1", "Received: folds=0"]),
    (lambda t: t["run"].update(val_fraction=float("nan")), ["[run] val_fraction", "Received: val_fraction=nan"]),
    (lambda t: t["run"].update(overrides=[1]), ["[run] overrides must be a list of strings"]),
    (lambda t: t["run"].update(teacher={"distill": "a"}), ["[run] teacher must hold the lists"]),
    (lambda t: t["recipe"]["train"].update(epochs="many"), ["[recipe]", "train.epochs"]),
    (lambda t: t["competition"].pop("name"), ["[competition]", "'name' is required"]),
])
def test_a_damaged_config_is_one_error_naming_the_file_and_key(tmp_path, damage, fragments):
    table = read_toml(OLD_CONFIG)
    damage(table)
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(table))
    with pytest.raises(CompError) as e:
        read_run_config(path)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)
    for fragment in fragments:
        assert fragment in str(e.value)


def test_unreadable_toml_is_one_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[run\n")
    with pytest.raises(CompError, match="TOML syntax error"):
        read_run_config(path)


def test_a_run_folder_of_an_earlier_version_reopens_and_lists(tmp_path, monkeypatch):
    from comp.runs.listing import list_runs
    from comp.runs.run import open_run

    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "runs" / "demo-digits" / "fast-2f-c14c59"
    run_dir.mkdir(parents=True)
    shutil.copy(OLD_CONFIG, run_dir / "config.toml")
    run = open_run("demo-digits", "fast-2f-c14c59")
    assert (run.n_folds, run.recipe_name, run.seed, run.split_seed, run.pretrained) == (2, "fast", 42, 42, False)
    assert run.created == "2026-12-04T20:52:32+00:00" and run.teacher is None and run.time_budget_s is None
    assert [r.id for r in list_runs("demo-digits")] == ["fast-2f-c14c59"]
    assert config_identity(run.config)["competition"]["data"]["root"] == ""  # where the data lies is no part of it
