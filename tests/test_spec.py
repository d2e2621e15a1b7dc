"""comp.config.spec: shipped specs load; bad keys, types, choices and TOML give clear errors; --set parses."""

from __future__ import annotations

from pathlib import Path

import pytest

from comp.errors import CompError
from comp.config.recipe import load_recipe, merge_overrides, parse_override
from comp.config.spec import SHIPPED_DIR, load_competition, resolve


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """An empty current directory with competition/ and competition/recipes/ folders."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "competition" / "recipes").mkdir(parents=True)
    return tmp_path


def write_spec(workdir: Path, name: str, text: str) -> Path:
    path = workdir / "competition" / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def write_recipe(workdir: Path, name: str, text: str) -> Path:
    path = workdir / "competition" / "recipes" / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL_SPEC = """\
name = "mini"
[data]
root = "data/mini"
"""

# --------------------------------------------------------------------------- shipped files


def test_shipped_competitions_load_by_name_from_any_folder(workdir):
    cifar = load_competition("dacon-cifar10")
    assert cifar.name == "dacon-cifar10"
    assert cifar.data.layout == "class-folders"
    assert cifar.data.image_size == [32, 32]
    assert cifar.submission.target_format == "name"
    assert cifar.rules.pretrained_weights is False

    digits = load_competition("demo-digits")
    assert digits.name == "demo-digits"
    assert digits.data.builder == "sklearn-digits"
    assert digits.data.answers == "answers.csv"


def test_shipped_recipe_vgg_mixup_loads_with_its_settings(workdir):
    recipe = load_recipe("vgg-mixup")
    assert recipe.name == "vgg-mixup"
    assert recipe.model_name == "vgg"
    assert recipe.model_options["widths"] == [64, 128, 256, 512]
    assert recipe.augment.preset == "heavy"
    assert recipe.augment.mixup_alpha == pytest.approx(0.2)
    assert isinstance(recipe.train.lr, float) and isinstance(recipe.train.epochs, int)


@pytest.mark.parametrize("path", sorted((SHIPPED_DIR / "recipes").glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_recipe_names_a_real_model_preset_and_tta(workdir, path):
    from comp.train.kfold import check_recipe

    recipe = load_recipe(path.stem)
    assert recipe.name == path.stem
    check_recipe(recipe)  # model options, augmentation preset and TTA level all exist


def test_name_resolves_to_local_folder_before_shipped(workdir):
    local = write_recipe(workdir, "vgg-mixup", 'name = "mine"\n[model]\nname = "resnet"\n')
    assert resolve("vgg-mixup", "recipe") == local
    assert load_recipe("vgg-mixup").model_name == "resnet"
    assert resolve("dacon-cifar10", "competition") == SHIPPED_DIR / "dacon-cifar10.toml"


def test_competition_path_that_does_not_exist_is_an_error(workdir):
    with pytest.raises(CompError, match=r"competition file not found: nowhere/x\.toml"):
        load_competition("nowhere/x.toml")


def test_data_argument_overrides_the_root(workdir):
    comp = load_competition("dacon-cifar10", data="elsewhere/cifar")
    assert comp.root == Path("elsewhere/cifar")


# --------------------------------------------------------------------------- bad spec files


def test_unknown_key_suggests_the_closest(workdir):
    write_spec(workdir, "typo", MINIMAL_SPEC + 'layot = "class-folders"\n')
    with pytest.raises(CompError) as e:
        load_competition("typo")
    msg = str(e.value)
    assert "typo.toml" in msg
    assert "unknown key 'data.layot'" in msg
    assert "Did you mean 'data.layout'?" in msg


def test_unknown_top_level_key_suggests_the_closest(workdir):
    write_spec(workdir, "typo", 'metrik = "accuracy"\n' + MINIMAL_SPEC)
    with pytest.raises(CompError, match=r"unknown key 'metrik'\. Did you mean 'metric'\?"):
        load_competition("typo")


def test_wrong_type_names_key_and_shows_received(workdir):
    write_recipe(workdir, "bad", '[model]\nname = "vgg"\n[train]\nepochs = "ten"\n')
    with pytest.raises(CompError) as e:
        load_recipe("bad")
    msg = str(e.value)
    assert "bad.toml" in msg
    assert "train.epochs must be an integer" in msg
    assert "Received: train.epochs='ten'" in msg


def test_bool_is_not_accepted_as_an_integer(workdir):
    write_recipe(workdir, "bad", '[model]\nname = "vgg"\n[train]\nbatch_size = true\n')
    with pytest.raises(CompError, match=r"train\.batch_size must be an integer.*Received: train\.batch_size=True"):
        load_recipe("bad")


def test_integer_is_accepted_where_a_number_is_expected(workdir):
    write_recipe(workdir, "ok", '[model]\nname = "vgg"\n[train]\nlr = 1\n')
    lr = load_recipe("ok").train.lr
    assert lr == 1.0 and isinstance(lr, float)


def test_value_outside_choices_lists_the_allowed_ones(workdir):
    write_spec(workdir, "lay", MINIMAL_SPEC + 'layout = "folders"\n')
    with pytest.raises(CompError) as e:
        load_competition("lay")
    msg = str(e.value)
    assert "data.layout must be one of" in msg
    for allowed in ("'class-folders'", "'csv-labels'", "'meta-lists'"):
        assert allowed in msg
    assert "Received: data.layout='folders'" in msg


def test_unknown_metric_is_an_error(workdir):
    write_spec(workdir, "met", 'metric = "auc"\n' + MINIMAL_SPEC)
    with pytest.raises(CompError, match=r"metric must be one of .*Received: metric='auc'"):
        load_competition("met")


def test_toml_syntax_error_names_the_file(workdir):
    path = write_spec(workdir, "broken", 'name = "broken"\n[data\nroot = "x"\n')
    with pytest.raises(CompError) as e:
        load_competition("broken")
    msg = str(e.value)
    assert str(path) in msg
    assert "TOML syntax error" in msg
    assert "\n" not in msg


def test_required_keys_are_checked(workdir):
    write_spec(workdir, "noname", '[data]\nroot = "data/x"\n')
    with pytest.raises(CompError, match="the key 'name' is required"):
        load_competition("noname")
    write_spec(workdir, "noroot", 'name = "noroot"\n')
    with pytest.raises(CompError, match=r"the key 'data\.root' is required"):
        load_competition("noroot")


def test_image_size_must_be_two_sides_of_at_least_8(workdir):
    write_spec(workdir, "small", MINIMAL_SPEC + "image_size = [4, 4]\n")
    with pytest.raises(CompError, match=r"data\.image_size must be \[height, width\]"
                                        r".*Received: data\.image_size=\[4, 4\]"):
        load_competition("small")


def test_csv_labels_layout_needs_a_labels_file(workdir):
    write_spec(workdir, "kag", MINIMAL_SPEC + 'layout = "csv-labels"\n')
    with pytest.raises(CompError, match=r"needs the key 'data\.labels'"):
        load_competition("kag")


def test_recipe_value_checks_name_the_key(workdir):
    write_recipe(workdir, "zero", '[model]\nname = "vgg"\n[train]\nepochs = 0\n')
    with pytest.raises(CompError, match=r"train\.epochs must be at least 1\. Received: train\.epochs=0"):
        load_recipe("zero")


def test_recipe_without_model_name_is_an_error(workdir):
    write_recipe(workdir, "nomodel", "[model]\nwidths = [8]\n")
    with pytest.raises(CompError, match=r"model\.name is required"):
        load_recipe("nomodel")


# --------------------------------------------------------------------------- unknown names


def test_unknown_recipe_name_suggests_the_closest(workdir):
    with pytest.raises(CompError) as e:
        load_recipe("vgg-mixp")
    msg = str(e.value)
    assert "unknown recipe 'vgg-mixp'" in msg
    assert "Did you mean 'vgg-mixup'?" in msg
    assert "Available:" in msg


def test_unknown_competition_name_suggests_the_closest(workdir):
    with pytest.raises(CompError) as e:
        load_competition("dacon-cifar")
    msg = str(e.value)
    assert "unknown competition 'dacon-cifar'" in msg
    assert "Did you mean 'dacon-cifar10'?" in msg


# --------------------------------------------------------------------------- --set


@pytest.mark.parametrize("text, key, value", [
    ("train.epochs=3", ["train", "epochs"], 3),
    ("train.lr=0.05", ["train", "lr"], 0.05),
    ("train.lr=1e-3", ["train", "lr"], 1e-3),
    ("model.widths=[8, 16]", ["model", "widths"], [8, 16]),
    ("model.name=resnet", ["model", "name"], "resnet"),
    ("model.name='resnet'", ["model", "name"], "resnet"),
    ("train.nesterov=false", ["train", "nesterov"], False),
    ("data.root=data/some folder", ["data", "root"], "data/some folder"),
    (" train.epochs = 7 ", ["train", "epochs"], 7),
])
def test_set_values_parse_as_toml_or_bare_strings(text, key, value):
    parsed_key, parsed = parse_override(text)
    assert parsed_key == key
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize("text", ["foo", "=3", "train..epochs=3", ".epochs=3"])
def test_set_without_a_key_value_pair_is_an_error(text):
    with pytest.raises(CompError, match="expected key=value"):
        parse_override(text)


@pytest.mark.parametrize("text", ["train.epochs=[1,", "model.widths=[8, 16", "model.name='resnet"])
def test_set_value_that_does_not_parse_is_an_error(text):
    with pytest.raises(CompError) as e:
        parse_override(text)
    assert "does not parse as TOML" in str(e.value)
    assert repr(text) in str(e.value)


def test_set_overrides_apply_over_the_recipe(workdir):
    recipe = load_recipe("vgg-mixup", ["train.epochs=3", "model.name=resnet", "model.width=8",
                                       "augment.mixup_alpha=0.4", "train.lr=1"])
    assert recipe.train.epochs == 3
    assert recipe.model == {"name": "resnet", "widths": [64, 128, 256, 512], "convs_per_stage": 2,
                            "dropout": 0.3, "bn_momentum": 0.9, "width": 8}
    assert recipe.augment.mixup_alpha == pytest.approx(0.4)
    assert recipe.train.lr == 1.0


def test_merge_overrides_leaves_the_input_untouched():
    table = {"train": {"epochs": 30}}
    merged = merge_overrides(table, ["train.epochs=2", "augment.flip=true"])
    assert merged == {"train": {"epochs": 2}, "augment": {"flip": True}}
    assert table == {"train": {"epochs": 30}}


def test_set_into_a_non_table_is_an_error():
    with pytest.raises(CompError, match="epochs is not a table"):
        merge_overrides({"train": {"epochs": 30}}, ["train.epochs.x=1"])


def test_unknown_set_key_suggests_the_closest(workdir):
    with pytest.raises(CompError) as e:
        load_recipe("vgg-mixup", ["train.epoch=1"])
    msg = str(e.value)
    assert "with --set overrides" in msg
    assert "unknown key 'train.epoch'" in msg
    assert "Did you mean 'train.epochs'?" in msg


def test_set_with_the_wrong_type_is_an_error(workdir):
    with pytest.raises(CompError, match=r"train\.epochs must be an integer\. Received: train\.epochs=2\.5"):
        load_recipe("vgg-mixup", ["train.epochs=2.5"])
    with pytest.raises(CompError, match=r"train\.epochs must be an integer\. Received: train\.epochs='ten'"):
        load_recipe("vgg-mixup", ["train.epochs=ten"])


def test_set_outside_choices_is_an_error(workdir):
    with pytest.raises(CompError, match=r"train\.optimizer must be one of 'sgd', 'adamw', 'muon'\. "
                                        r"Received: train\.optimizer='adam'"):
        load_recipe("vgg-mixup", ["train.optimizer=adam"])


def test_a_competitions_model_keys_reach_only_models_that_have_them():
    demo = load_competition("demo-digits")  # [recipe] model.widths = [32, 64, 128]
    assert load_recipe("vgg-mixup", [], demo).model["widths"] == [32, 64, 128]
    assert load_recipe("fast", [], demo).model["widths"] == [32, 64, 128]
    resnet = load_recipe("vgg-mixup", ["model.name=resnet", "model.widths=[8]"], demo)
    assert resnet.model["widths"] == [8]  # a --set is the user's own: kept, and check_recipe refuses it
    assert "widths" not in load_recipe("transfer", [], demo).model
    assert load_recipe("vgg-mixup").model["widths"] == [64, 128, 256, 512]  # without the competition
