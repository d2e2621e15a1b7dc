"""TTA levels: the views (flips, one-pixel shifts with mirrored borders, centre crops) and their weights;
selective TTA (predict.tta_share): the extra views for the least sure share only, and saved test
predictions reused only for their level and share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from comp.errors import CompError
from comp.predict.probs import predict_proba
from comp.config.recipe import load_recipe
from comp.predict.tta import TTA_LEVELS, tta_views


def images(n=3, h=5, w=6):
    return np.random.default_rng(0).integers(0, 256, (n, h, w, 3)).astype(np.uint8)


def expected_views(x):
    x = x.astype(np.float32)
    flip = x[:, :, ::-1]
    pad = lambda a: np.pad(a, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")  # noqa: E731
    h, w = x.shape[1:3]
    down_right = lambda a: pad(a)[:, 2:2 + h, 2:2 + w]  # noqa: E731  (view pixel (0, 0) is the image's (1, 1))
    up_left = lambda a: pad(a)[:, 0:h, 0:w]  # noqa: E731
    zoom = lambda a: centre_crop(a, 0.875)  # noqa: E731
    return {"none": [x], "flip": [x, flip],
            "flip-shift": [x, flip, down_right(x), up_left(x), down_right(flip), up_left(flip)],
            "flip-zoom": [x, flip, zoom(x), zoom(flip)]}


def centre_crop(x: np.ndarray, fraction: float) -> np.ndarray:
    """numpy reference: the centre ``fraction`` of each side (pixel centres from ``off`` to
    ``off + fraction * side - 1``), sampled bilinearly back at the image's H x W."""
    def axis(size):
        off = (1 - fraction) * size / 2
        pos = np.linspace(off, off + max(fraction * size - 1, 0), size)
        lo = np.clip(np.floor(pos).astype(int), 0, size - 1)
        return lo, np.minimum(lo + 1, size - 1), pos - lo

    (y0, y1, wy), (x0, x1, wx) = axis(x.shape[1]), axis(x.shape[2])
    x = x.astype(np.float64)
    rows = x[:, y0] * (1 - wy)[None, :, None, None] + x[:, y1] * wy[None, :, None, None]
    return rows[:, :, x0] * (1 - wx)[None, None, :, None] + rows[:, :, x1] * wx[None, None, :, None]


@pytest.mark.parametrize("level", TTA_LEVELS)
def test_tta_views_are_flips_shifts_and_zooms_with_weights_summing_to_one(level):
    x = images()
    views = tta_views(level)
    for (view, _), want in zip(views, expected_views(x)[level], strict=True):
        np.testing.assert_allclose(np.asarray(view(x.astype(np.float32))), want, atol=1e-3)
    assert sum(w for _, w in views) == pytest.approx(1.0)


def test_the_centre_crop_view_keeps_the_middle_of_a_32_pixel_image():
    x = images(2, 32, 32)
    (view, _), = [(v, w) for v, w in tta_views("none", crop=0.875)]
    out = np.asarray(view(x.astype(np.float32)))  # 28 pixels kept, 2 off each side: 2, 2 + 27/31, ...
    np.testing.assert_allclose(out, centre_crop(x, 0.875), atol=1e-3)
    np.testing.assert_allclose(out[:, 0, 0], x[:, 2, 2], atol=1e-3)
    np.testing.assert_allclose(out[:, -1, -1], x[:, 29, 29], atol=1e-3)


@pytest.mark.parametrize("level", TTA_LEVELS)
def test_predict_crop_is_folded_into_every_view(level):
    x = images(2, 16, 16).astype(np.float32)
    crop = 0.75
    cropped = centre_crop(x, crop).astype(np.float32)
    plain, folded = tta_views(level), tta_views(level, crop=crop)
    assert [w for _, w in plain] == [w for _, w in folded]
    for (view, _), (crop_view, _) in zip(plain, folded, strict=True):
        keep = getattr(view, "keep", None)
        if keep is None:  # the view of the centre crop
            want = np.asarray(view(cropped))
        else:  # a zoomed view crops once, by the product of both fractions
            want = centre_crop(x[:, :, ::-1] if view.mirror else x, keep * crop)
        np.testing.assert_allclose(np.asarray(crop_view(x)), want, atol=1e-3)


def test_flip_zoom_weighs_its_four_views_alike():
    assert [w for _, w in tta_views("flip-zoom")] == [0.25, 0.25, 0.25, 0.25]


@pytest.mark.parametrize("crop", [0.0, 1.5, -0.2])
def test_an_out_of_range_predict_crop_names_the_key_and_the_range(crop):
    with pytest.raises(CompError, match=r"predict\.crop must be in \(0, 1\]\. Received: predict\.crop="):
        tta_views("flip", crop=crop)
    with pytest.raises(CompError, match=r"predict\.crop must be in \(0, 1\]\. Received: predict\.crop="):
        load_recipe("fast", [f"predict.crop={crop}"])


def test_flip_shift_weighs_the_unshifted_pair_as_much_as_the_four_shifted_views():
    weights = [w for _, w in tta_views("flip-shift")]
    assert weights == [0.25, 0.25, 0.125, 0.125, 0.125, 0.125]


@pytest.mark.parametrize("level", ["flip-shift", "flip-zoom"])
def test_predict_proba_is_the_weighted_mean_of_the_views_softmax(level):
    from comp.tf_quiet import keras

    x = images(n=4, h=4, w=4)
    # logits from single pixels: every view gives different probabilities
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Lambda(
        lambda a: keras.ops.stack([a[:, 0, 0, 0], a[:, 0, 3, 1], a[:, 3, 1, 2]], axis=1) / 64.0)])
    probs = predict_proba(model, x, level, batch_size=3)

    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    want = sum(w * softmax(model.predict(view, verbose=0))
               for view, (_, w) in zip(expected_views(x)[level], tta_views(level)))
    np.testing.assert_allclose(probs, want, rtol=1e-5 if level == "flip-shift" else 1e-4)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    assert not np.allclose(probs, predict_proba(model, x, "none"))


def test_an_unknown_tta_level_names_the_accepted_ones():
    with pytest.raises(CompError, match="flip-shift"):
        tta_views("rotate")


# --------------------------------------------------------------------------- selective TTA (predict.tta_share)


def pixel_model():
    """A model without weights whose three logits are three pixels: every view gives other probabilities."""
    from comp.tf_quiet import keras

    return keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Lambda(
        lambda a: keras.ops.stack([a[:, 0, 0, 0], a[:, 0, 3, 1], a[:, 3, 1, 2]], axis=1) / 64.0)])


class Counting:
    """A model stand-in that passes predict on and records the rows each call predicted."""

    def __init__(self, model):
        self.model, self.rows = model, []

    def predict(self, ds, verbose=0):
        out = self.model.predict(ds, verbose=verbose)
        self.rows.append(len(out))
        return out


def todays_predict_proba(model, images, tta, batch_size):
    """predict_proba as it was before predict.tta_share: every view over every image, summed in order."""
    from comp.data.stream import row_batches
    from comp.tf_quiet import plain_graph, tf

    total = None
    for view, weight in tta_views(tta):
        ds = (row_batches(images, batch_size)
              .map(plain_graph(lambda x, v=view: v(tf.cast(x, tf.float32))), num_parallel_calls=tf.data.AUTOTUNE)
              .prefetch(tf.data.AUTOTUNE))
        probs = weight * tf.nn.softmax(tf.cast(model.predict(ds, verbose=0), tf.float32)).numpy()
        total = probs if total is None else total + probs
    return total


UNSURE = [1, 2, 4, 6]  # rows whose three logit pixels are equal: the plain view's top probability is 1/3


def confidence_images(n=8):
    """Images whose plain-view confidence is set: the rows UNSURE tie at 1/3, the others are sure (0.93),
    while the other views (flipped, shifted) see other pixels."""
    x = images(n=n, h=4, w=4)
    for i in range(n):
        x[i, 0, 0, 0], x[i, 0, 3, 1], x[i, 3, 1, 2] = (100, 100, 100) if i in UNSURE else (255, 0, 0)
    return x


@pytest.mark.parametrize("level", ["flip", "flip-shift", "flip-zoom"])
def test_share_one_is_todays_prediction_bit_for_bit(level):
    model, x = pixel_model(), images(n=7, h=4, w=4)
    want = todays_predict_proba(model, x, level, 3)
    np.testing.assert_array_equal(predict_proba(model, x, level, 3, share=1.0), want)
    np.testing.assert_array_equal(predict_proba(model, x, level, 3), want)  # the default share


def test_share_zero_is_the_plain_view_exactly_and_predicts_nothing_more():
    model, x = Counting(pixel_model()), images(n=7, h=4, w=4)
    probs = predict_proba(model, x, "flip-shift", 3, share=0.0)
    assert model.rows == [7]  # the plain view only
    np.testing.assert_array_equal(probs, predict_proba(pixel_model(), x, "none", 3))


@pytest.mark.parametrize("share, chosen", [(0.5, UNSURE), (0.25, [1, 2]), (0.3, [1, 2, 4])])
def test_the_extra_views_go_to_exactly_the_least_sure_share(share, chosen):
    """Half of 8 rows: the 4 unsure ones; a quarter: the first 2 of those 4 equal ones (a stable tie-break)."""
    x, model = confidence_images(), Counting(pixel_model())
    plain = predict_proba(pixel_model(), x, "none", 3)
    assert np.allclose(plain.max(1)[UNSURE], 1 / 3) and (np.delete(plain.max(1), UNSURE) > 0.9).all()
    full = predict_proba(pixel_model(), x, "flip-shift", 3)
    probs = predict_proba(model, x, "flip-shift", 3, share=share)
    assert model.rows == [8] + [len(chosen)] * 5  # the plain view for all, the 5 others for the chosen rows
    others = np.setdiff1d(np.arange(8), chosen)
    np.testing.assert_array_equal(probs[others], plain[others])
    np.testing.assert_allclose(probs[chosen], full[chosen], rtol=1e-6)
    assert not np.allclose(probs[chosen], plain[chosen])


@pytest.mark.parametrize("share", [0.0, 0.1, 0.25, 0.5, 0.7, 0.99, 1.0])
def test_the_images_sent_through_the_extra_views_are_ceil_share_times_n(share):
    import math

    model, x = Counting(pixel_model()), images(n=10, h=4, w=4)
    predict_proba(model, x, "flip", 4, share=share)
    extra = math.ceil(round(share * 10, 9))  # 0.7 x 10 is 7.000000000000001 in floats: 7 images
    assert model.rows == ([10] + ([extra] if extra else [])), model.rows
    assert extra == {0.0: 0, 0.1: 1, 0.25: 3, 0.5: 5, 0.7: 7, 0.99: 10, 1.0: 10}[share]


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_an_out_of_range_tta_share_names_the_key_and_the_range(share):
    with pytest.raises(CompError, match=r"predict\.tta_share must be in \[0, 1\]\. Received: predict\.tta_share="):
        load_recipe("fast", [f"predict.tta_share={share}"])


def test_the_default_tta_share_keeps_every_run_id_and_another_share_changes_it():
    from comp.config.spec import load_competition
    from comp.runs.config import build_run_config
    from comp.runs.identity import run_id_for

    spec = load_competition("dacon-cifar10")

    def run_id(*sets):
        recipe = load_recipe("fast-muon", list(sets), spec)
        return run_id_for(build_run_config(spec, recipe, "fast-muon", list(sets), 5))

    assert run_id() == run_id("predict.tta_share=1.0") == "fast-muon-5f-941c79"  # pinned in test_run_config.py
    assert run_id("predict.tta_share=0.5") != run_id()


def _predict(cli, monkeypatch, *args) -> tuple[int, dict]:
    """``comp predict`` of the tiny run: (fold models it loaded, its manifest)."""
    import json

    from comp.predict import probs

    loaded, load = [], probs.load_model
    monkeypatch.setattr(probs, "load_model", lambda path: loaded.append(path) or load(path))
    result = cli("predict", "-c", "tiny", "--out", "subs/p.csv", "--force", *args)
    assert result.exit_code == 0, result.output
    return len(loaded), json.loads(Path("subs/p.json").read_text())


def test_a_saved_test_prediction_is_reused_only_for_its_tta_share(tiny_competition, cli, train_args, monkeypatch):
    import json

    assert cli(*train_args, "--folds", "2", "--run", "r").exit_code == 0
    metrics_path = tiny_competition / "runs" / "tiny" / "r" / "fold-0" / "metrics.json"
    saved = json.loads(metrics_path.read_text())
    assert saved["tta"] == "flip" and saved["tta_share"] == 1.0
    loads, manifest = _predict(cli, monkeypatch, "--ensemble")
    assert loads == 0 and "tta_share" not in manifest  # share 1: test.npy reused, the manifest as before
    loads, manifest = _predict(cli, monkeypatch, "--ensemble", "--tta-share", "0.5")
    assert loads == 2 and manifest["tta_share"] == 0.5  # share 1's test.npy is not share 0.5's
    for k in (0, 1):  # a fold saved before predict.tta_share: share 1, still reused
        path = metrics_path.parents[1] / f"fold-{k}" / "metrics.json"
        path.write_text(json.dumps({key: v for key, v in json.loads(path.read_text()).items() if key != "tta_share"}))
    assert _predict(cli, monkeypatch, "--ensemble", "--tta-share", "1")[0] == 0
    assert _predict(cli, monkeypatch, "--ensemble", "--tta-share", "0.5")[0] == 2


def test_a_fold_trained_with_a_share_saves_it_and_its_test_prediction_serves_that_share_only(
        tiny_competition, cli, train_args, monkeypatch):
    import json

    result = cli(*train_args, "--folds", "2", "--fold", "0", "--run", "s", "--set", "predict.tta_share=0.5")
    assert result.exit_code == 0, result.output
    fold = tiny_competition / "runs" / "tiny" / "s" / "fold-0"
    assert json.loads((fold / "metrics.json").read_text())["tta_share"] == 0.5
    assert _predict(cli, monkeypatch, "--run", "s")[0] == 0  # the recipe's share: reused
    assert _predict(cli, monkeypatch, "--run", "s", "--tta-share", "1")[0] == 1  # share 1: predicted again
    loads, manifest = _predict(cli, monkeypatch, "--run", "s", "--no-tta")  # one view: no share to apply
    assert loads == 1 and "tta_share" not in manifest and manifest["tta"] == "none"


def test_fold_agreement_is_each_folds_share_of_the_ensembles_decisions():
    from types import SimpleNamespace

    from comp.predict.probs import fold_agreement

    def kind(name, k=5):
        return SimpleNamespace(kind=name, k=k)

    a = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.45, 0.55]])
    b = np.array([[0.8, 0.2], [0.1, 0.9], [0.3, 0.7], [0.4, 0.6]])
    mean = (a + b) / 2  # classes 0, 1, 1, 1
    assert fold_agreement([a, b], mean, kind("class"), {}) == [0.75, 1.0]
    # multi-label: every (row, label) decision at 0.5, or at the run's fitted thresholds
    assert fold_agreement([a, b], mean, kind("multi-label"), {}) == [0.75, 1.0]
    assert fold_agreement([a, b], mean, kind("multi-label"), {"thresholds": [0.15, 0.16]}) == [1.0, 0.75]
    # a row with no label over 0.5 takes its most likely one, as the submission does
    c, d = np.array([[0.4, 0.2]]), np.array([[0.2, 0.45]])
    assert fold_agreement([c, d], (c + d) / 2, kind("multi-label"), {}) == [0.0, 1.0]
    assert fold_agreement([a], a, kind("class"), {}) is None  # one fold: nothing to compare
    assert fold_agreement([a[:, :1], b[:, :1]], mean[:, :1], kind("regression"), {}) is None


def test_fold_agreement_decides_grades_and_top_k_as_the_submission_does():
    from types import SimpleNamespace

    from comp.predict.probs import fold_agreement

    # grades by the expected grade at the run's cuts, not by the arg-max
    e = np.array([[0.5, 0.0, 0.5], [0.0, 1.0, 0.0]])  # expected grades 1.0 and 1.0; arg-max 0 and 1
    f = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    grade = SimpleNamespace(kind="grade", k=5)
    assert fold_agreement([e, f], (e + f) / 2, grade, {"cuts": [0.5, 1.5]}) == [1.0, 1.0]
    assert fold_agreement([e, f], (e + f) / 2, grade, {}) == [0.5, 1.0]  # no cuts: the arg-max
    # top-k: the first label written, with the "new" class at its fitted score
    g = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    h = np.array([[0.3, 0.5, 0.2], [0.1, 0.2, 0.7]])
    top = SimpleNamespace(kind="top-k", k=2)
    assert fold_agreement([g, h], (g + h) / 2, top, {}) == [1.0, 0.5]  # the mean ties row 0: index 0
    assert fold_agreement([g, h], (g + h) / 2, top, {"new_index": 2, "new_score": 0.9}) == [1.0, 1.0]
