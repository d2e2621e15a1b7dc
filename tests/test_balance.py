"""train.class_balance (class weights, class-balanced sampling), per-class F1 for macro-F1
competitions, and train.tensorboard."""

from __future__ import annotations

import json

import numpy as np
import pytest

from comp.errors import CompError
from comp.config.recipe import load_recipe
from comp.train.balance import class_weights, sample_weights, sampled_order, sampling_cdf
from comp.train.pipeline import train_dataset

SKEWED = np.r_[np.zeros(80), np.ones(15), np.full(5, 2)].astype(int)  # 80 / 15 / 5 of 100 rows


def test_class_weights_are_balanced_for_a_skewed_label_set():
    expected = [100 / (3 * 80), 100 / (3 * 15), 100 / (3 * 5)]  # n / (classes x count)
    np.testing.assert_allclose(class_weights(SKEWED, 3), expected)
    np.testing.assert_allclose(class_weights(np.eye(3)[SKEWED] * 0.9 + 0.03, 3), expected)  # soft targets: arg-max
    np.testing.assert_allclose(class_weights(np.array([0, 0, 2]), 3), [0.75, 1.0, 1.5])  # class 1 absent: 1
    rows = sample_weights("weights", SKEWED, 3, None)
    np.testing.assert_allclose(rows, np.asarray(expected)[SKEWED], rtol=1e-6)
    assert (rows * np.bincount(SKEWED)[SKEWED]).sum() == pytest.approx(100 * 100 / 3)  # each class's total weight equal
    pseudo = np.r_[np.ones(90), np.full(10, 0.5)]
    np.testing.assert_allclose(sample_weights("weights", SKEWED, 3, pseudo), rows * pseudo, rtol=1e-6)  # multiplied
    assert sample_weights("none", SKEWED, 3, None) is None
    assert sample_weights("sampling", SKEWED, 3, pseudo) is pseudo


def _images(n, size=8):
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_class_weights_reach_the_batches_sample_weights():
    recipe = load_recipe("vgg-mixup", ["train.class_balance=weights", "augment.preset=none", "augment.mixup_alpha=0",
                                       "augment.cutmix_alpha=0", "augment.flip=false", "augment.translate=0",
                                       "augment.cutout=0"])
    expected = class_weights(SKEWED, 3)
    seen = 0
    for images, targets, weights in train_dataset(_images(100), SKEWED, recipe, 3, 20).take(5):
        classes = targets.numpy().argmax(1)
        np.testing.assert_allclose(weights.numpy(), expected[classes], rtol=1e-6)  # what Keras hands to the loss
        seen += len(classes)
    assert seen == 100
    mixed = load_recipe("vgg-mixup", ["train.class_balance=weights", "augment.preset=none", "augment.mix_prob=1"])
    _, _, weights = next(iter(train_dataset(_images(100), SKEWED, mixed, 3, 50)))
    assert weights.numpy().min() >= expected.min() - 1e-6 and weights.numpy().max() <= expected.max() + 1e-6
    plain = load_recipe("vgg-mixup", ["augment.preset=none"])
    assert len(next(iter(train_dataset(_images(100), SKEWED, plain, 3, 50)))) == 2  # no weights without the key


def test_balanced_sampling_draws_classes_about_equally_and_deterministically():
    labels = np.r_[np.zeros(800), np.ones(150), np.full(50, 2)].astype(int)
    cdf = sampling_cdf(labels)
    order = sampled_order(7, 0, cdf).numpy()
    assert len(order) == 1000 and order.min() >= 0 and order.max() < 1000
    shares = np.bincount(labels[order], minlength=3) / 1000
    np.testing.assert_allclose(shares, 1 / 3, atol=0.06)  # 3 sigma is 0.045
    np.testing.assert_array_equal(sampled_order(7, 0, cdf).numpy(), order)  # a function of (seed, epoch)
    assert not np.array_equal(sampled_order(7, 1, cdf).numpy(), order)
    assert not np.array_equal(sampled_order(8, 0, cdf).numpy(), order)
    over_epochs = np.concatenate([labels[sampled_order(7, e, cdf).numpy()] for e in range(5)])
    np.testing.assert_allclose(np.bincount(over_epochs) / len(over_epochs), 1 / 3, atol=0.03)


def test_balanced_sampling_reaches_the_training_batches():
    recipe = load_recipe("vgg-mixup", ["train.class_balance=sampling", "augment.preset=none", "augment.mixup_alpha=0",
                                       "augment.cutmix_alpha=0"])
    labels = np.r_[np.zeros(240), np.ones(45), np.full(15, 2)].astype(int)

    def epoch_classes(initial_epoch):
        batches = train_dataset(_images(300), labels, recipe, 3, 30, initial_epoch).take(10)
        return np.concatenate([targets.numpy().argmax(1) for _, targets in batches])

    first = epoch_classes(0)
    np.testing.assert_allclose(np.bincount(first, minlength=3) / len(first), 1 / 3, atol=0.09)
    np.testing.assert_array_equal(epoch_classes(0), first)  # the same batches again (resume)
    plain = load_recipe("vgg-mixup", ["augment.preset=none", "augment.mixup_alpha=0", "augment.cutmix_alpha=0"])
    unbalanced = np.concatenate([t.numpy().argmax(1) for _, t in train_dataset(_images(300), labels, plain, 3, 30)
                                 .take(10)])
    assert np.bincount(unbalanced, minlength=3)[0] == 240  # without the key: every row once


def test_a_bad_class_balance_is_refused():
    with pytest.raises(CompError, match="class_balance"):
        load_recipe("vgg-mixup", ["train.class_balance=oversample"])


# --------------------------------------------------------------------------- per-class F1


def test_a_macro_f1_competition_reports_per_class_f1(tiny_competition, cli):
    spec = tiny_competition / "competition" / "tiny.toml"
    spec.write_text(spec.read_text().replace('metric = "accuracy"', 'metric = "macro_f1"'))
    res = cli("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--run", "f1",
              "--executor", "inline", "-q", "--set", "train.epochs=2",
              "--set", "train.class_balance=weights", catch=True)
    assert res.exit_code == 0, res.output
    run_dir = tiny_competition / "runs/tiny/f1"
    fold = json.loads((run_dir / "fold-0" / "metrics.json").read_text())
    assert len(fold["per_class_f1"]) == 3 and all(0 <= v <= 1 for v in fold["per_class_f1"])
    assert np.mean(fold["per_class_f1"]) == pytest.approx(fold["score"], abs=1e-3)  # macro F1 is their mean
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert list(summary["per_class_f1"]) == ["circle", "square", "stripe"]
    assert np.mean(list(summary["per_class_f1"].values())) == pytest.approx(summary["oof_score"], abs=1e-3)
    assert "per-class F1 (out-of-fold, worst first): " in res.stderr


# --------------------------------------------------------------------------- tensorboard


def test_tensorboard_writes_event_files_in_the_fold_folder_only_when_asked(tiny_competition):
    from comp.data.folds import FoldData
    from comp.train.fold import train_fold

    rng = np.random.default_rng(0)
    data = FoldData(rng.integers(0, 256, (24, 12, 12, 3), dtype=np.uint8), np.arange(24) % 3,
                    rng.integers(0, 256, (9, 12, 12, 3), dtype=np.uint8), np.arange(9) % 3, None, 3, "accuracy")
    on = tiny_competition / "fold-tb"
    result = train_fold(load_recipe("tiny", ["train.epochs=1", "train.tensorboard=true"]), data, on, verbose=0)
    assert list((on / "tensorboard").rglob("events.out.tfevents.*"))
    assert "per_class_f1" not in result  # an accuracy competition
    off = tiny_competition / "fold-plain"
    train_fold(load_recipe("tiny", ["train.epochs=1"]), data, off, verbose=0)
    assert not (off / "tensorboard").exists() and not list(off.rglob("events.out.tfevents.*"))
