"""comp.train: the learning-rate schedule, device choices, and one tiny fold end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from comp.predict.probs import load_model, predict_proba
from comp.data.folds import FoldData
from comp.config.recipe import load_recipe
from comp.train.devices import choose_jit, choose_precision, cpu_has_amx
from comp.train.fold import train_fold
from comp.train.optim import WarmupDecay

# --------------------------------------------------------------------------- schedule

PEAK, TOTAL, WARM = 0.1, 100, 10


def lr(kind, step, final_fraction=0.0, warm=WARM):
    return float(WarmupDecay(PEAK, TOTAL, warm, start_fraction=0.1, final_fraction=final_fraction, kind=kind)(step))


@pytest.mark.parametrize("kind", ["linear", "cosine", "constant"])
def test_warmup_starts_at_start_fraction_and_reaches_peak(kind):
    assert lr(kind, 0) == pytest.approx(0.01)
    assert lr(kind, 5) == pytest.approx(0.01 + 0.09 * 0.5)
    assert lr(kind, WARM) == pytest.approx(PEAK)


@pytest.mark.parametrize("kind, last", [("linear", 0.01), ("cosine", 0.01), ("constant", PEAK)])
def test_last_step_reaches_the_final_fraction(kind, last):
    assert lr(kind, TOTAL, final_fraction=0.1) == pytest.approx(last)
    assert lr(kind, TOTAL + 50, final_fraction=0.1) == pytest.approx(last)  # clipped after the end


def test_decay_shapes_halfway():
    half = WARM + (TOTAL - WARM) // 2
    assert lr("linear", half) == pytest.approx(PEAK / 2)
    assert lr("cosine", half) == pytest.approx(PEAK / 2)
    assert lr("constant", half) == pytest.approx(PEAK)
    quarter = WARM + (TOTAL - WARM) // 4
    assert lr("linear", quarter) == pytest.approx(PEAK * 0.75, rel=0.02)
    assert lr("cosine", quarter) == pytest.approx(PEAK * (1 + np.cos(np.pi * 22 / 90)) / 2)


def test_no_warmup_starts_at_peak():
    assert lr("linear", 0, warm=0) == pytest.approx(PEAK)


def test_schedule_config_round_trips():
    sched = WarmupDecay(0.3, 50, 5, 0.2, 0.05, "cosine")
    again = WarmupDecay.from_config(sched.get_config())
    for step in (0, 3, 5, 20, 50):
        assert float(again(step)) == pytest.approx(float(sched(step)))


# --------------------------------------------------------------------------- devices


@pytest.mark.parametrize("requested, caps, expected", [
    ("auto", [], "float32"),
    ("auto", [(7, 0)], "mixed_float16"),
    ("auto", [(8, 0), (9, 0)], "mixed_float16"),
    ("auto", [(8, 0), (6, 0)], "float32"),
    ("auto", [(6, 1)], "float32"),
    ("float32", [(9, 0)], "float32"),
    ("mixed_float16", [], "mixed_float16"),
    ("mixed_bfloat16", [], "mixed_bfloat16"),
])
def test_choose_precision(requested, caps, expected):
    assert choose_precision(requested, caps) == expected


@pytest.mark.parametrize("requested, caps, expected", [
    ("auto", [], "mixed_bfloat16"),  # a CPU with AMX tiles, no GPU
    ("auto", [(8, 0)], "mixed_float16"),  # GPUs decide when there are any
    ("auto", [(6, 1)], "float32"),
    ("float32", [], "float32"),
])
def test_choose_precision_on_an_amx_cpu(requested, caps, expected):
    assert choose_precision(requested, caps, cpu_amx=True) == expected


@pytest.mark.parametrize("flags, expected", [
    ("fpu avx512f avx512_bf16 amx_bf16 amx_tile amx_int8", True),
    ("fpu avx2 avx512f avx512_bf16", False),  # bf16 instructions without AMX tiles: not what was measured
])
def test_cpu_has_amx_reads_the_flags(tmp_path, flags, expected):
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: x\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert cpu_has_amx(str(info)) is expected


def test_cpu_has_amx_is_false_where_cpuinfo_cannot_be_read(tmp_path):
    assert cpu_has_amx(str(tmp_path / "missing")) is False


@pytest.mark.parametrize("requested, has_gpu, expected", [
    ("auto", False, False), ("auto", True, True),
    ("on", False, True), ("on", True, True),
    ("off", False, False), ("off", True, False),
])
def test_choose_jit(requested, has_gpu, expected):
    assert choose_jit(requested, has_gpu) is expected


# --------------------------------------------------------------------------- one fold


def fold_data(n_train=24, n_val=9, n_test=7, size=12, classes=3) -> FoldData:
    rng = np.random.default_rng(0)

    def imgs(n):
        return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)

    return FoldData(imgs(n_train), np.arange(n_train) % classes, imgs(n_val), np.arange(n_val) % classes,
                    imgs(n_test), classes, "accuracy")


def test_train_fold_writes_every_artifact_with_the_right_shapes(tiny_competition):
    recipe = load_recipe("tiny", ["train.epochs=2"])
    data = fold_data()
    fold_dir = tiny_competition / "runs" / "t" / "r" / "fold-0"
    result = train_fold(recipe, data, fold_dir, verbose=0)

    assert sorted(p.name for p in fold_dir.iterdir()) == [
        "history.csv", "metrics.json", "model.keras", "oof.npy", "test.npy"]  # no backup, no temp files
    oof, test = np.load(fold_dir / "oof.npy"), np.load(fold_dir / "test.npy")
    assert oof.shape == (9, 3) and oof.dtype == np.float32
    assert test.shape == (7, 3) and test.dtype == np.float32
    np.testing.assert_allclose(oof.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(test.sum(1), 1.0, atol=1e-5)

    hist = pd.read_csv(fold_dir / "history.csv")
    assert list(hist["epoch"]) == [0, 1]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"} <= set(hist.columns)
    assert np.isfinite(hist["loss"]).all()

    metrics = json.loads((fold_dir / "metrics.json").read_text())
    assert metrics == result
    assert metrics["n_train"] == 24 and metrics["n_val"] == 9 and metrics["epochs"] == 2
    assert metrics["metric"] == "accuracy"
    assert metrics["score"] == metrics["accuracy"] == pytest.approx(float(np.mean(oof.argmax(1) == data.y_val)))
    assert metrics["tta"] == "flip" and metrics["best_epoch"] in (1, 2)

    model = load_model(fold_dir / "model.keras")
    np.testing.assert_allclose(predict_proba(model, data.x_val, "flip"), oof, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "muon"])
def test_a_fold_traces_its_training_step_once(tiny_competition, monkeypatch, optimizer):
    """The optimizer's variables exist before ``fit``: had the first trace created them,
    tf.function would trace the whole step a second time (seconds per fold for deep nets)."""
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    traces = []
    step = TensorFlowTrainer.train_step
    monkeypatch.setattr(TensorFlowTrainer, "train_step", lambda self, data: traces.append(1) or step(self, data))
    recipe = load_recipe("tiny", ["train.epochs=2", f"train.optimizer={optimizer}"])
    train_fold(recipe, fold_data(), tiny_competition / "fold-0", verbose=0)
    assert len(traces) == 1


def test_the_input_pipelines_are_traced_without_autograph_conversion(tiny_competition, monkeypatch):
    """Autograph's source conversion of the dataset functions and the augmentation they call cost
    ~2.5 s a fold; none of them branches on a tensor, so they are traced as they are."""
    import keras
    from tensorflow.python.autograph.impl import api

    from comp.train.pipeline import eval_dataset, train_dataset

    converted = []
    convert = api.converted_call
    monkeypatch.setattr(api, "converted_call", lambda f, *a, **k: converted.append(f) or convert(f, *a, **k))
    recipe = load_recipe("tiny", ["augment.cutmix_alpha=1.0", "augment.translate=2", "augment.cutout=4"])
    data = fold_data()
    batch = next(iter(train_dataset(data.x_train, data.y_train, recipe, 3, 8)))
    assert batch[0].shape == (8, 12, 12, 3) and batch[1].shape == (8, 3)
    next(iter(eval_dataset(data.x_val, data.y_val, 3, 8, crop=0.875)))
    model = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Flatten(), keras.layers.Dense(3)])
    assert predict_proba(model, data.x_val, "flip-shift", batch_size=4).shape == (9, 3)
    # Keras' own step functions pass through autograph's entry point too, unconverted (allow-listed)
    assert [f for f in converted if getattr(f, "__module__", "").startswith("comp")] == []


def test_train_fold_with_xla_on_cpu(tiny_competition, capsys):
    recipe = load_recipe("tiny", ["train.epochs=1", "train.jit_compile=on", "augment.preset=none"])
    fold_dir = tiny_competition / "fold-xla"
    data = fold_data()
    data.x_test = None  # no test set: no test.npy
    result = train_fold(recipe, data, fold_dir, verbose=0)
    oof = np.load(fold_dir / "oof.npy")
    assert result["epochs"] == 1 and result["score"] == pytest.approx(float(np.mean(oof.argmax(1) == data.y_val)))
    assert np.isfinite(pd.read_csv(fold_dir / "history.csv")["loss"]).all()
    assert oof.shape == (9, 3)
    assert not (fold_dir / "test.npy").exists()
    assert "XLA: on" in capsys.readouterr().err


# --------------------------------------------------------------------------- optimizer


def test_offset_lr_scale_multiplies_the_step_of_batch_norm_offsets_only():
    from comp.tf_quiet import keras
    from comp.train.optim import OffsetScaledSGD, is_norm_offset

    def one_step(scale):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, use_bias=False, name="d"),
                                  keras.layers.BatchNormalization(name="d_bn")])
        opt = OffsetScaledSGD(scale, learning_rate=0.1, momentum=0.0)
        model.compile(optimizer=opt, loss="mse")
        before = [v.numpy().copy() for v in model.trainable_variables]
        x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
        model.train_on_batch(x, x[:, :3] + 1.0)
        return {"/".join(v.path.split("/")[-2:]): v.numpy() - b for v, b in zip(model.trainable_variables, before)}

    plain, scaled = one_step(1.0), one_step(8.0)
    assert [p for p in plain if is_norm_offset(type("V", (), {"path": p, "name": p})())] == ["d_bn/beta"]
    np.testing.assert_allclose(scaled["d_bn/beta"], 8.0 * plain["d_bn/beta"], rtol=1e-5)
    np.testing.assert_allclose(scaled["d/kernel"], plain["d/kernel"], rtol=1e-5)
    np.testing.assert_allclose(scaled["d_bn/gamma"], plain["d_bn/gamma"], rtol=1e-5)
    assert np.abs(plain["d_bn/beta"]).max() > 0
    config = OffsetScaledSGD(8.0, learning_rate=0.1).get_config()
    assert OffsetScaledSGD.from_config(config).offset_lr_scale == 8.0


def test_muon_orthogonalises_the_conv_kernels_update_and_leaves_other_variables_to_sgd():
    from comp.tf_quiet import keras
    from comp.train.optim import ConvMuon, OffsetScaledSGD

    def one_step(opt):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Conv2D(8, 3, use_bias=False, name="c"),
                                  keras.layers.BatchNormalization(name="c_bn"), keras.layers.Flatten(),
                                  keras.layers.Dense(2, name="d")])
        model.compile(optimizer=opt, loss="mse")
        name = {v.path: "/".join(v.path.split("/")[-2:]) for v in model.trainable_variables}
        before = {name[v.path]: v.numpy().copy() for v in model.trainable_variables}
        x = np.random.default_rng(0).normal(size=(16, 6, 6, 3)).astype("float32")
        model.train_on_batch(x, np.random.default_rng(1).normal(size=(16, 2)).astype("float32"))
        return before, {name[v.path]: v.numpy() for v in model.trainable_variables}

    muon_before, muon = one_step(ConvMuon(0.5, 0.6, 5, learning_rate=0.1, momentum=0.0, nesterov=False))
    _, sgd = one_step(OffsetScaledSGD(learning_rate=0.1, momentum=0.0, nesterov=False))
    kernel = "c/kernel"
    for path in muon:  # the head and the batch norm took plain SGD steps
        if path != kernel:
            np.testing.assert_allclose(muon[path], sgd[path], rtol=1e-5, atol=1e-7)
    start = muon_before[kernel] * (8 ** 0.5 / np.linalg.norm(muon_before[kernel]))  # rescaled to norm sqrt(cout)
    update = (start - muon[kernel]).reshape(-1, 8) / (0.1 * 0.5)  # lr x muon_lr_scale
    singular = np.linalg.svd(update, compute_uv=False)
    assert singular.min() > 0.6 and singular.max() < 1.3  # orthogonalised: all directions move about alike
    plain = np.linalg.svd((sgd[kernel] - muon_before[kernel]).reshape(-1, 8), compute_uv=False)
    assert plain.max() / plain.min() > 2.5 > singular.max() / singular.min()  # where the gradient does not
    config = ConvMuon(0.5, 0.7, 4, learning_rate=0.1).get_config()
    restored = ConvMuon.from_config(config)
    assert (restored.muon_lr_scale, restored.muon_momentum, restored.ns_steps) == (0.5, 0.7, 4)


def test_the_muon_keys_stay_out_of_other_runs_and_an_older_run_reopens():
    from comp.config.spec import load_competition
    from comp.runs.config import build_run_config, run_config_from_table
    from comp.runs.identity import changes, config_identity

    competition = load_competition("demo-digits")
    sgd, muon = load_recipe("fast"), load_recipe("fast", ["train.optimizer=muon", "train.muon_lr=0.1"])
    sgd_run = build_run_config(competition, sgd, "fast", [], 5)
    muon_run = build_run_config(competition, muon, "fast", [], 5)
    assert "muon_lr" not in config_identity(sgd_run)["recipe"]["train"]
    assert config_identity(muon_run)["recipe"]["train"]["muon_lr"] == 0.1
    older = sgd_run.to_table()  # written before the keys tensorboard and class_balance existed
    older["recipe"]["train"] = {k: v for k, v in older["recipe"]["train"].items()
                                if k not in ("tensorboard", "class_balance")}
    assert changes(run_config_from_table(older, "config.toml"), sgd_run) == []
    assert changes(sgd_run, muon_run) != []


# --------------------------------------------------------------------------- lookahead


def test_lookahead_pulls_the_weights_towards_the_slow_copy_every_few_steps():
    from comp.tf_quiet import keras
    from comp.train.callbacks import Lookahead

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False),
                              keras.layers.BatchNormalization()])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.optimizer.build(model.trainable_variables)
    kernel, moving_mean = model.layers[0].kernel, model.layers[1].moving_mean
    kernel.assign(np.ones((2, 1), "float32"))
    look = Lookahead(total_steps=10, every=5)
    look.set_model(model)
    look.set_params({"steps": 10})
    look.on_train_begin()  # slow copy: kernel 1, moving mean 0
    look.on_epoch_begin(0)

    def step_to(step, kernel_value, mean_value):
        kernel.assign(np.full((2, 1), kernel_value, "float32"))
        moving_mean.assign([mean_value])
        look.on_train_batch_end(step - 1)
        return float(kernel.numpy()[0, 0]), float(moving_mean.numpy()[0])

    assert step_to(3, 3.0, 2.0) == (3.0, 2.0)  # not a multiple of `every`: untouched
    d = 0.95**5 * 0.5**3
    k, m = step_to(5, 3.0, 2.0)  # slow += (1 - d) * (fast - slow); fast = slow
    assert k == pytest.approx(1.0 + (1 - d) * 2.0, rel=1e-6) and m == pytest.approx((1 - d) * 2.0, rel=1e-6)
    assert step_to(10, 100.0, 100.0) == pytest.approx((k, m))  # last step: the model keeps the average
    assert look.decay(0) == 0.0 and look.decay(10) == 1.0


def test_lookahead_counts_optimizer_updates_under_gradient_accumulation():
    """With train.accumulate = 2 an update takes 2 batches: the sync comes every 5 updates (10
    batches), not in the middle of an accumulation every 5 batches."""
    from comp.tf_quiet import keras
    from comp.train.callbacks import Lookahead

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    kernel = model.layers[0].kernel
    kernel.assign(np.ones((2, 1), "float32"))
    look = Lookahead(total_steps=20, every=5, batches_per_update=2)
    look.set_model(model)
    look.set_params({"steps": 20})
    look.on_train_begin()
    look.on_epoch_begin(0)
    synced = []
    for batch in range(20):
        kernel.assign(np.full((2, 1), 3.0, "float32"))
        look.on_train_batch_end(batch)
        synced.append(float(kernel.numpy()[0, 0]) != 3.0)
    assert [b + 1 for b, s in enumerate(synced) if s] == [10, 20]
    assert look.decay(10) == pytest.approx(0.95**5 * 0.5**3)  # the decay still counts `every` updates


def test_train_fold_with_lookahead_ends_on_the_average(tiny_competition, monkeypatch):
    from comp.train.callbacks import Lookahead

    recipe = load_recipe("tiny", ["train.epochs=2", "train.lookahead=true", "augment.preset=none"])
    seen, syncs, callbacks = [], [], []
    original = Lookahead.on_train_batch_end

    def spy(self, batch, logs=None):
        before = [w.numpy() for w in self.model.trainable_weights]
        original(self, batch, logs)
        after = [w.numpy() for w in self.model.trainable_weights]
        seen.append(int(self.model.optimizer.iterations.numpy()))
        callbacks.append(self)
        if any(not np.array_equal(b, a) for b, a in zip(before, after)):  # a sync: the model restarts from the average
            syncs.append((seen[-1], after))

    monkeypatch.setattr(Lookahead, "on_train_batch_end", spy)
    result = train_fold(recipe, fold_data(n_train=48), tiny_competition / "fold-la", verbose=0)
    assert result["epochs"] == 2 and np.isfinite(result["log_loss"])
    assert seen == list(range(1, len(seen) + 1)) and len(seen) >= 2  # called after every step
    # a sync every `every` optimizer steps and one after the last, which the callback's step count agrees on
    every = callbacks[-1].every
    assert [step for step, _ in syncs] == [s for s in seen if s % every == 0 or s == seen[-1]]
    assert syncs[-1][0] == seen[-1] == callbacks[-1].total_steps
    # after the last step the model holds the slow average: the weights the sync before it left, the
    # last steps' updates dropped (the fold then loads its best epoch)
    for last, previous in zip(syncs[-1][1], syncs[-2][1]):
        np.testing.assert_array_equal(last, previous)


@pytest.mark.parametrize("metric, monitor, column, pick", [
    ("log_loss", "auto", "val_log_loss", "min"),
    ("macro_f1", "auto", "val_macro_f1", "max"),
    ("accuracy", "auto", "val_accuracy", "max"),
    ("macro_f1", "val_loss", "val_loss", "min"),  # a recipe that names its monitor keeps it
])
def test_the_best_epoch_follows_the_competitions_metric(tiny_competition, metric, monitor, column, pick):
    import dataclasses

    recipe = load_recipe("tiny", ["train.epochs=4", f"train.monitor={monitor}", "augment.preset=none"])
    data = dataclasses.replace(fold_data(), metric=metric)
    result = train_fold(recipe, data, tiny_competition / f"fold-{metric}-{monitor}", verbose=0)
    hist = pd.read_csv(tiny_competition / f"fold-{metric}-{monitor}" / "history.csv")
    assert column in hist.columns and result["monitor"] == column
    values = hist[column].to_numpy()
    best = int(np.argmin(values) if pick == "min" else np.argmax(values))
    assert result["best_epoch"] == best + 1
    if metric == "log_loss":  # the plain log loss of the validation rows, not the smoothed training loss
        oof_probs = np.load(tiny_competition / f"fold-{metric}-{monitor}" / "oof.npy")
        assert result["score"] == pytest.approx(result["log_loss"])
        assert np.isfinite(values).all() and oof_probs.shape == (9, 3)


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_no_weight_decay_builds_either_optimizer(optimizer):
    from comp.train.optim import make_optimizer

    recipe = load_recipe("vgg-mixup", [f"train.optimizer={optimizer}", "train.weight_decay=0"])
    opt = make_optimizer(recipe.train, steps_per_epoch=10)  # was an internal error for adamw
    assert not opt.weight_decay


def test_accumulate_applies_the_mean_gradient_of_n_batches_as_one_larger_batch():
    from comp.tf_quiet import keras
    from comp.train.optim import make_optimizer

    plain_sgd = ["train.optimizer=sgd", "train.momentum=0", "train.nesterov=false", "train.schedule=constant",
                 "train.warmup_epochs=0", "train.weight_decay=0", "train.lr=0.1"]
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")

    def weights_after(accumulate, batches):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        recipe = load_recipe("vgg-mixup", [*plain_sgd, f"train.accumulate={accumulate}"])
        opt = make_optimizer(recipe.train, steps_per_epoch=10)
        model.compile(optimizer=opt, loss="mse")
        for batch in batches:
            model.train_on_batch(x[batch], y[batch])
        return [w.numpy() for w in model.trainable_weights], opt

    once, _ = weights_after(1, [slice(0, 8)])
    accumulated, opt = weights_after(2, [slice(0, 4), slice(4, 8)])
    halfway, _ = weights_after(2, [slice(0, 4)])
    for a, b in zip(once, accumulated):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    start, _ = weights_after(1, [])
    for a, b in zip(start, halfway):
        np.testing.assert_array_equal(a, b)  # the first of two batches only accumulates
    schedule = opt.get_config()["learning_rate"]["config"]  # the schedule as a saved model keeps it
    assert opt.gradient_accumulation_steps == 2 and schedule["total_steps"] == 30 * 10  # Keras' schedule counts batches


def test_under_accumulate_the_schedule_reaches_its_end_at_the_last_update_not_halfway():
    """Keras evaluates a schedule at the batch count under gradient_accumulation_steps: one sized in
    updates ended halfway through training with accumulate = 2 (the lr at 0 for the second half)."""
    from comp.tf_quiet import keras, tf
    from comp.train.optim import make_optimizer

    recipe = load_recipe("vgg-mixup", ["train.optimizer=sgd", "train.momentum=0", "train.nesterov=false",
                                       "train.schedule=linear", "train.warmup_epochs=0", "train.weight_decay=0",
                                       "train.lr=1.0", "train.start_fraction=1", "train.final_fraction=0",
                                       "train.epochs=2", "train.accumulate=2"])
    opt = make_optimizer(recipe.train, steps_per_epoch=10)  # 20 batches, 10 updates
    w = keras.Variable(np.zeros(1, np.float32))
    opt.build([w])
    steps = []  # the lr each update applied: the weight's move under a gradient of -1
    for _ in range(20):
        before = float(w.numpy()[0])
        opt.apply_gradients([(tf.constant([-1.0]), w)])
        if float(w.numpy()[0]) != before:
            steps.append(float(w.numpy()[0]) - before)
    assert len(steps) == 10
    assert steps[4] > 0.4 and steps[-1] > 0  # halfway still at about half the peak; the last update still moves
    assert all(a > b for a, b in zip(steps, steps[1:]))  # a linear decay over all ten updates


def test_the_plateau_schedule_lowers_the_lr_when_the_monitor_stops_improving(tiny_competition):
    """ReduceLROnPlateau on the fold's monitor (val_accuracy: higher is better), on the fold's own
    optimizer, whose lr is a plain rate from step 0 (no warm-up schedule it could not set)."""
    from comp.tf_quiet import keras
    from comp.train.fold import FoldTrainer

    sets = ["train.lr=0.08", "train.schedule=plateau", "train.plateau_factor=0.5", "train.plateau_patience=1"]
    trainer = FoldTrainer(load_recipe("tiny", sets), fold_data(), tiny_competition / "fold-0", verbose=0)
    trainer.build_model()
    trainer.compile_phase(trainer.recipe.train)
    plateau = [c for c in trainer.callbacks() if isinstance(c, keras.callbacks.ReduceLROnPlateau)]
    assert len(plateau) == 1 and plateau[0].monitor == "val_accuracy"
    callback = plateau[0]
    callback.set_model(trainer.model)
    callback.on_train_begin()
    lrs = []
    for epoch, accuracy in enumerate([0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7]):
        lrs.append(float(trainer.model.optimizer.learning_rate))
        callback.on_epoch_end(epoch, {"val_accuracy": accuracy})
    # better, better, not (1 epoch: patience 1 -> halve), not (halve), better, not (halve), not (halve)
    np.testing.assert_allclose(lrs, [0.08, 0.08, 0.08, 0.04, 0.02, 0.02, 0.01], rtol=1e-6)
    no_plateau = FoldTrainer(load_recipe("tiny"), fold_data(), tiny_competition / "fold-1", verbose=0)
    assert not [c for c in no_plateau.callbacks() if isinstance(c, keras.callbacks.ReduceLROnPlateau)]


def test_plateau_keys_are_checked():
    from comp.errors import CompError

    with pytest.raises(CompError, match=r"train.plateau_factor must be in \(0, 1\). Received: train.plateau_factor=1.5"):
        load_recipe("vgg-mixup", ["train.plateau_factor=1.5"])
