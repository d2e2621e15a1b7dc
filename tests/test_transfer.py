"""comp.models.transfer and two-phase fine-tuning: backbones chosen by name, each with its own
preprocess_input; weights none, a local file, or ImageNet (offline: one clear error); the frozen
then partly unfrozen backbone, resumed across the switch; and the rule guard through the CLI."""

from __future__ import annotations

import inspect
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from comp.errors import CompError
from comp.models import check_options, create_model
from comp.models.transfer import BACKBONES, BackbonePreprocess, list_backbones
from comp.predict.probs import load_model
from comp.config.recipe import load_recipe
from comp.config.spec import load_competition
from comp.tf_quiet import keras
from comp.data.folds import FoldData
from comp.train.callbacks import EpochTimer
from comp.train.fold import train_fold

ISSUE_BACKBONES = {"DenseNet121", "DenseNet169", "DenseNet201", "EfficientNetB0", "EfficientNetB1",
                   "EfficientNetV2B0", "InceptionV3", "MobileNetV2", "MobileNetV3Large", "ResNet50", "ResNet50V2",
                   "ResNet152V2", "VGG16", "VGG19", "Xception", "ConvNeXtTiny"}
# One backbone per preprocess_input family (caffe, tf, torch, in-model) plus the 75-px Inception.
REPRESENTATIVES = ["ResNet50", "MobileNetV2", "DenseNet121", "EfficientNetB0", "InceptionV3"]
SMALL = ["model.backbone=MobileNetV2", "model.weights=none", "model.input_size=32", "train.batch_size=8",
         "predict.batch_size=32"]


def images(n, size=12, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype(np.float32)


def fold_data(n_train=24, n_val=9, n_test=7) -> FoldData:
    rng = np.random.default_rng(0)

    def imgs(n):
        return rng.integers(0, 256, (n, 12, 12, 3), dtype=np.uint8)

    return FoldData(imgs(n_train), np.arange(n_train) % 3, imgs(n_val), np.arange(n_val) % 3, imgs(n_test), 3,
                    "accuracy")


def save_backbone_weights(path: Path, name="MobileNetV2", size=32) -> dict[str, list[np.ndarray]]:
    """A local weights file from a randomly initialised backbone (what an offline user brings)."""
    keras.utils.set_random_seed(7)
    base = getattr(keras.applications, name)(include_top=False, weights=None, input_shape=(size, size, 3),
                                             name="backbone")
    base.save_weights(path)
    return {layer.name: [np.asarray(w) for w in layer.get_weights()] for layer in base.layers if layer.weights}


# --------------------------------------------------------------------------- backbones by name


def test_the_issue_backbones_are_registered():
    assert ISSUE_BACKBONES <= set(list_backbones())


def test_every_backbone_name_is_a_keras_application_with_its_preprocess_function():
    for name, spec in BACKBONES.items():
        params = inspect.signature(getattr(keras.applications, name)).parameters
        assert {"include_top", "weights", "input_shape", "name"} <= set(params), name
        assert callable(getattr(keras.applications, spec.family).preprocess_input), name
        assert 32 <= spec.min_size <= spec.size, name
        check_options("transfer", {"backbone": name, "weights": "none"})


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_representative_backbones_build_and_return_float32_logits(name):
    size = BACKBONES[name].min_size
    model = create_model("transfer", (12, 12, 3), 5, backbone=name, input_size=size)
    out = model(images(2), training=False)
    assert tuple(out.shape) == (2, 5) and out.dtype == "float32"
    assert np.isfinite(np.asarray(out)).all()
    assert tuple(model.get_layer("backbone").input.shape) == (None, size, size, 3)


@pytest.mark.parametrize("family", ["resnet", "resnet_v2", "densenet", "vgg16", "efficientnet", "convnext"])
def test_preprocessing_is_the_backbone_familys_own(family):
    x = images(3, 8, seed=1)
    expected = getattr(keras.applications, family).preprocess_input(x.copy())
    got = np.asarray(BackbonePreprocess(family)(x))
    np.testing.assert_allclose(got, np.asarray(expected), rtol=1e-5, atol=1e-4)
    if family in ("efficientnet", "convnext"):  # these normalise inside the model: 0-255 goes in
        np.testing.assert_allclose(got, x)


def test_images_are_resized_to_the_backbones_native_size_by_default():
    model = create_model("transfer", (12, 12, 3), 3, backbone="MobileNetV2")
    assert tuple(model.get_layer("backbone").input.shape) == (None, 224, 224, 3)
    assert tuple(model.get_layer("resize").output.shape) == (None, 224, 224, 3)
    assert check_options("transfer", {"backbone": "Xception", "input_size": 71})


def test_a_saved_transfer_model_reloads_with_its_preprocessing(tmp_path):
    model = create_model("transfer", (12, 12, 3), 3, backbone="ResNet50V2", input_size=32)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")  # safe mode: no Lambda layers
    assert isinstance(loaded.get_layer("preprocess"), BackbonePreprocess)
    assert loaded.get_layer("preprocess").family == "resnet_v2"
    np.testing.assert_allclose(np.asarray(loaded(images(2), training=False)),
                               np.asarray(model(images(2), training=False)), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- bad options


def test_an_unknown_backbone_suggests_the_closest():
    with pytest.raises(CompError) as e:
        check_options("transfer", {"backbone": "ResNet5OV2"})
    assert "unknown backbone 'ResNet5OV2'. Did you mean 'ResNet50V2'?" in str(e.value)
    assert "ConvNeXtTiny" in str(e.value)  # the list of what exists


def test_an_input_size_below_the_backbones_minimum_is_an_error():
    with pytest.raises(CompError) as e:
        check_options("transfer", {"backbone": "InceptionV3", "input_size": 32})
    assert str(e.value) == ("model.input_size must be 0 (the backbone's native 299) or at least 75 for "
                            "InceptionV3. Received: model.input_size=32")


def test_a_missing_local_weights_file_is_an_error(tmp_path):
    missing = tmp_path / "nowhere.h5"
    with pytest.raises(CompError) as e:
        check_options("transfer", {"weights": str(missing)})
    assert f"there is no file at {missing}. Received: model.weights='{missing}'" in str(e.value)


# Keras warns that a 32-pixel input takes the 224-pixel ImageNet file; the test's small size is on purpose.
@pytest.mark.filterwarnings("ignore:.*input_shape. is undefined or non-square:UserWarning")
def test_unreachable_imagenet_weights_are_one_clear_error(tmp_path, monkeypatch):
    # Keep the real download code path, but point it at a closed local port and an empty cache.
    import keras.src.applications.mobilenet_v2 as mobilenet_v2
    from keras.src.backend import config

    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(mobilenet_v2, "BASE_WEIGHT_PATH", "http://127.0.0.1:9/")
    with pytest.raises(CompError) as e:
        create_model("transfer", (12, 12, 3), 3, backbone="MobileNetV2", weights="imagenet", input_size=32)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("model.weights: cannot download the ImageNet weights of MobileNetV2")
    assert "the path of a local weights file. Received: model.weights='imagenet'" in msg


def test_a_local_weights_file_is_loaded_into_the_backbone(tmp_path):
    saved = save_backbone_weights(tmp_path / "mnv2.weights.h5")
    model = create_model("transfer", (12, 12, 3), 3, backbone="MobileNetV2", input_size=32,
                         weights=str(tmp_path / "mnv2.weights.h5"))
    backbone = model.get_layer("backbone")
    for name, weights in saved.items():
        for got, want in zip(backbone.get_layer(name).get_weights(), weights):
            np.testing.assert_array_equal(got, want)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Keras lists each layer it found no weights for
def test_a_weights_file_of_another_backbone_is_an_error(tmp_path):
    save_backbone_weights(tmp_path / "vgg.weights.h5", name="VGG16")
    with pytest.raises(CompError, match=r"vgg\.weights\.h5 does not load into MobileNetV2 without its top"):
        create_model("transfer", (12, 12, 3), 3, backbone="MobileNetV2", input_size=32,
                     weights=str(tmp_path / "vgg.weights.h5"))


# --------------------------------------------------------------------------- two phases


@pytest.mark.slow
def test_two_phases_train_the_head_then_the_top_of_the_backbone_with_batch_norm_frozen(tiny_competition, capsys,
                                                                                       monkeypatch):
    saved = save_backbone_weights(tiny_competition / "mnv2.weights.h5")
    recipe = load_recipe("transfer", [*SMALL, f"model.weights={tiny_competition / 'mnv2.weights.h5'}",
                                      "train.epochs=2", "train.freeze_epochs=1", "train.unfreeze_fraction=0.5",
                                      "train.lr=0.01", "train.finetune_lr_factor=0.1", "train.schedule=constant"])
    snapshots = []  # per epoch: layer name -> does it still hold the loaded weights?
    original = EpochTimer.on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        backbone = self.model.get_layer("backbone")
        snapshots.append({layer.name: all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), saved[layer.name]))
                          for layer in backbone.layers if layer.weights})
        original(self, epoch, logs)

    monkeypatch.setattr(EpochTimer, "on_epoch_end", on_epoch_end)
    fold_dir = tiny_competition / "fold"
    result = train_fold(recipe, fold_data(), fold_dir, verbose=0)
    err = capsys.readouterr().err
    assert "phase 1: epochs 1-1 train the head, backbone frozen, peak lr 0.01" in err
    assert "phase 2: epochs 2-2 fine-tune" in err and "batch norm frozen), peak lr 0.001" in err
    assert result["epochs"] == 2 and not (fold_dir / "backup").exists()
    hist = pd.read_csv(fold_dir / "history.csv")
    assert list(hist["epoch"]) == [0, 1]
    assert hist["lr"].tolist() == pytest.approx([0.01, 0.001])

    backbone = load_model(fold_dir / "model.keras").get_layer("backbone")
    weighted = [layer for layer in backbone.layers if layer.weights]
    half = len(weighted) // 2
    bn = keras.layers.BatchNormalization
    is_bn = {layer.name: isinstance(layer, bn) for layer in weighted}
    bottom, top = [layer.name for layer in weighted[:half]], [layer.name for layer in weighted[half:]]
    phase1, phase2 = snapshots
    assert all(phase1.values())  # phase 1: the whole backbone frozen
    assert all(phase2[name] for name in bottom)  # phase 2: the bottom half still frozen ...
    assert all(phase2[name] for name in top if is_bn[name])  # ... and batch norm (statistics too)
    assert not any(phase2[name] for name in top if not is_bn[name])  # the rest of the top half fine-tuned
    # the saved model keeps phase 2's trainable flags
    assert [layer.trainable for layer in weighted] == [name in top and not is_bn[name] for name in bottom + top]


class Interrupt(Exception):
    pass


@pytest.mark.slow
def test_a_fold_interrupted_at_and_after_the_phase_switch_resumes(tiny_competition, monkeypatch, capsys):
    import comp.train.finetune

    save_backbone_weights(tiny_competition / "mnv2.weights.h5")
    recipe = load_recipe("transfer", [*SMALL, "model.weights=mnv2.weights.h5", "train.epochs=3",
                                      "train.freeze_epochs=1"])
    fold_dir = tiny_competition / "fold"
    original_begin, original_switch = EpochTimer.on_epoch_begin, comp.train.finetune.switch_backup

    def killed_at_the_switch(*args, **kwargs):
        raise Interrupt("killed between the phases")

    def interrupt_at(epoch):
        def on_epoch_begin(self, e, logs=None):
            if e == epoch:
                raise Interrupt(f"killed before epoch {e}")
            original_begin(self, e, logs)
        monkeypatch.setattr(EpochTimer, "on_epoch_begin", on_epoch_begin)

    def train_and_catch_warnings():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return train_fold(recipe, fold_data(), fold_dir, verbose=0)
            finally:
                # Neither phase's optimizer state is ever loaded into the other's optimizer.
                assert not [w for w in caught if "Skipping variable loading for optimizer" in str(w.message)]

    monkeypatch.setattr(comp.train.finetune, "switch_backup", killed_at_the_switch)
    with pytest.raises(Interrupt):  # phase 1 done, its backup (and optimizer) left at epoch 1
        train_and_catch_warnings()
    assert json.loads((fold_dir / "backup" / "training_metadata.json").read_text())["epoch"] == 1
    capsys.readouterr()

    monkeypatch.setattr(comp.train.finetune, "switch_backup", original_switch)
    interrupt_at(2)
    with pytest.raises(Interrupt):  # inside phase 2
        train_and_catch_warnings()
    err = capsys.readouterr().err
    assert "resuming after epoch 1 of 3" in err and "phase 1" not in err and "phase 2" in err
    assert json.loads((fold_dir / "backup" / "training_metadata.json").read_text())["epoch"] == 2

    monkeypatch.setattr(EpochTimer, "on_epoch_begin", original_begin)
    result = train_and_catch_warnings()
    assert "resuming after epoch 2 of 3" in capsys.readouterr().err
    assert list(pd.read_csv(fold_dir / "history.csv")["epoch"]) == [0, 1, 2]  # every epoch once
    assert result["epochs"] == 3 and not (fold_dir / "backup").exists()


# --------------------------------------------------------------------------- the rule guard


def test_the_pretrained_flag_covers_imagenet_a_local_file_and_the_builders_default(tmp_path):
    from comp.runs.config import build_run_config

    competition = load_competition("dacon-cifar10")
    weights_file = tmp_path / "w.h5"
    weights_file.write_bytes(b"")

    def pretrained(*sets, recipe="transfer"):
        return build_run_config(competition, load_recipe(recipe, list(sets)), recipe, [], 1).pretrained

    assert pretrained() is True  # the recipe asks for imagenet
    assert pretrained(f"model.weights={weights_file}") is True
    assert pretrained("model.weights=none") is False
    assert pretrained(recipe="fast") is False


def test_a_transfer_run_with_imagenet_weights_is_refused_for_dacon_cifar10(tiny_competition, cli):
    from comp.runs.config import build_run_config
    from comp.runs.run import create_run, folds_frame

    config = build_run_config(load_competition("dacon-cifar10"), load_recipe("transfer"), "transfer", [], 5)
    create_run(config, "transfer-imagenet", False, ["cat", "dog"],  # no training needed: the guard comes first
               folds_frame(["a", "b"], ["cat", "dog"], [0, 1]))
    res = cli("predict", "-c", "dacon-cifar10", "--run", "transfer-imagenet", "--ensemble")
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "error: run 'transfer-imagenet' used pretrained weights, which dacon-cifar10's rules forbid "
        "([rules] pretrained_weights = false); transfer runs are for offline comparison only")
    assert res.stdout == ""
    assert not (tiny_competition / "submissions").exists()


@pytest.mark.slow
def test_the_same_pretrained_run_is_submitted_where_the_rules_allow_it(tiny_competition, cli):
    save_backbone_weights(tiny_competition / "mnv2.weights.h5")
    spec = (tiny_competition / "competition" / "tiny.toml").read_text()
    (tiny_competition / "competition" / "tiny-open.toml").write_text(
        spec.replace("pretrained_weights = false", "pretrained_weights = true"))
    trained = cli("train", "-c", "tiny", "-r", "transfer", "--folds", "1", "--run", "pre", "--executor", "inline",
                  "-q", *[f"--set={s}" for s in SMALL], "--set", "model.weights=mnv2.weights.h5",
                  "--set", "train.epochs=1")
    assert trained.exit_code == 0, trained.output
    config = (tiny_competition / "runs" / "tiny" / "pre" / "config.toml").read_text()
    assert "pretrained = true" in config

    refused = cli("predict", "-c", "tiny", "--run", "pre", "--ensemble")
    assert refused.exit_code == 2
    assert "run 'pre' used pretrained weights, which tiny's rules forbid" in refused.stderr
    assert not any((tiny_competition / "submissions").glob("*"))

    allowed = cli("predict", "-c", "competition/tiny-open.toml", "--run", "pre", "--ensemble")
    assert allowed.exit_code == 0, allowed.output
    csv = tiny_competition / allowed.stdout.strip()
    assert len(pd.read_csv(csv)) == 9
    manifest = json.loads(csv.with_suffix(".json").read_text())
    assert manifest["rule_check"] == {"pretrained_weights_allowed": True, "external_data_allowed": False,
                                      "test_data_training_allowed": False, "runs_used_pretrained": True,
                                      "runs_used_test_data": False, "passed": True}
    assert manifest["runs"][0]["pretrained"] is True

    listing = cli("runs", "-c", "tiny")
    row = next(line for line in listing.stdout.splitlines() if " pre " in f" {line} ")
    assert "transfer:MobileNetV2" in row and "yes" in row
