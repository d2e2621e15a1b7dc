"""Augmentation policies in the graph (comp.augment.policies): each op at magnitude 0 leaves an
image as it is and at magnitude 1 changes it; TrivialAugment and RandAugment are functions of
their seed; the recipe key turns them on in the training transform."""

from __future__ import annotations

import numpy as np
import pytest

from comp.augment.policies import OPS, apply_ops, apply_policy
from comp.config.recipe import recipe_from_dict
from comp.errors import CompError
from comp.tf_quiet import tf


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return tf.constant(rng.integers(0, 256, (6, 16, 16, 3)).astype(np.float32))


def test_every_op_is_the_identity_at_magnitude_zero_and_changes_the_image_at_one(batch):
    n = batch.shape[0]
    still = apply_ops(batch, tf.zeros([n]), tf.ones([n]))
    moved = apply_ops(batch, tf.ones([n]), tf.ones([n]))
    for name, a, b in zip(OPS, still, moved):
        assert a.shape == batch.shape and b.shape == batch.shape
        if name != "autocontrast":  # no magnitude: it stretches each channel to 0-255
            assert float(tf.reduce_max(tf.abs(a - batch))) < 1e-3, name
        if name not in ("identity", "autocontrast"):
            assert float(tf.reduce_mean(tf.abs(b - batch))) > 5.0, name
        assert 0.0 <= float(tf.reduce_min(b)) and float(tf.reduce_max(b)) <= 255.0, name


def test_solarize_posterize_and_autocontrast_by_hand():
    image = tf.constant([[[[10.0, 200.0, 130.0]]]])
    ops = dict(zip(OPS, apply_ops(image, tf.constant([0.5]), tf.constant([1.0]))))
    assert ops["solarize"].numpy().ravel().tolist() == [10.0, 55.0, 125.0]  # >= 128 inverted
    assert ops["posterize"].numpy().ravel().tolist() == [8.0, 200.0, 128.0]  # 8 - 3 = 5 bits: steps of 8
    grey = tf.constant([[[[50.0, 50.0, 50.0]], [[150.0, 150.0, 150.0]]]])
    stretched = dict(zip(OPS, apply_ops(grey, tf.constant([0.0]), tf.constant([1.0]))))["autocontrast"]
    assert stretched.numpy().ravel().tolist() == pytest.approx([0.0] * 3 + [255.0] * 3)


@pytest.mark.parametrize("policy", ["trivial", "randaugment"])
def test_a_policy_is_a_function_of_its_seed(batch, policy):
    seed, other = tf.constant([3, 4], tf.int64), tf.constant([3, 5], tf.int64)
    a, b = apply_policy(batch, policy, seed), apply_policy(batch, policy, seed)
    assert bool(tf.reduce_all(a == b))
    assert not bool(tf.reduce_all(a == apply_policy(batch, policy, other)))
    assert apply_policy(batch, "none", seed) is batch


def test_the_recipe_key_is_checked_and_turns_the_policy_on():
    from comp.augment.transform import make_train_transform

    with pytest.raises(CompError, match="augment.policy"):
        recipe_from_dict({"name": "r", "model": {"name": "fast"}, "augment": {"policy": "autoaugment"}}, "r.toml")
    recipe = recipe_from_dict({"name": "r", "model": {"name": "fast"},
                               "augment": {"preset": "none", "policy": "trivial"}}, "r.toml")
    images = tf.constant(np.full((4, 8, 8, 3), 100, np.uint8))
    labels = tf.constant([0, 1, 0, 1])
    plain = make_train_transform(recipe_from_dict({"name": "p", "model": {"name": "fast"},
                                                   "augment": {"preset": "none"}}, "p.toml").augment, 2, 1, 3)
    on = make_train_transform(recipe.augment, 2, 1, 3)
    x_plain, _ = plain(images, labels, tf.constant(0, tf.int64), tf.constant(0, tf.int64))
    x_on, _ = on(images, labels, tf.constant(0, tf.int64), tf.constant(0, tf.int64))
    assert float(tf.reduce_max(tf.abs(x_plain - 100.0))) == 0.0
    assert float(tf.reduce_max(tf.abs(x_on - 100.0))) > 0.0
