"""Training: one fold (input pipeline, compile, callbacks, fit, artifacts) and the k-fold driver.

Sections, in the order a fold runs through them:

1. devices: precision policy and XLA per device, said out loud at the start of every fold;
2. schedule and optimizer: warm-up then constant, linear (one-cycle) or cosine decay, per step;
   SGD with Nesterov momentum or AdamW, decoupled weight decay, optional EMA or Lookahead of the weights;
3. input pipeline: uint8 index batches gathered from memory, augmented per batch
   (comp.augment), a pure function of (seed, epoch, step);
4. one fold: ``model.fit`` with BackupAndRestore (resume), ModelCheckpoint (best by the
   validation metric), CSVLogger; then out-of-fold and test probabilities with TTA; a model
   with a pretrained ``backbone`` trains in two phases (head first, then the top of the
   backbone at a lower learning rate: :func:`fine_tune`), a randomly initialised one as a whole;
5. the k-fold driver: folds as separate processes (TensorFlow never gives GPU memory back
   inside a process), one per GPU at a time, finished folds skipped.

Label smoothing: Szegedy et al. 2016, https://arxiv.org/abs/1512.00567.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from comp.tf_quiet import keras, quiet_stderr, tf  # noqa: E402  (first: silences TF's start-up)

import numpy as np  # noqa: E402

from comp import metrics  # noqa: E402
from comp.atomic import atomic_path, save_npy, write_json  # noqa: E402
from comp.augment import make_train_transform  # noqa: E402
from comp.errors import CompError  # noqa: E402
from comp.models import create_model  # noqa: E402
from comp.models.vgg import init_whitening  # noqa: E402
from comp.predict import predict_proba  # noqa: E402
from comp.runs import uses_pretrained_weights  # noqa: E402
from comp.spec import Recipe, TrainCfg  # noqa: E402

# --------------------------------------------------------------------------- 1. devices


@dataclass
class DeviceSetup:
    devices: list[str]
    policy: str
    jit_compile: bool

    def describe(self) -> str:
        return f"devices: {', '.join(self.devices)} | precision: {self.policy} | XLA: {'on' if self.jit_compile else 'off'}"


def choose_precision(requested: str, gpu_capabilities: list[tuple[int, int]], cpu_amx: bool = False) -> str:
    """The precision policy for ``requested`` ("auto" or a policy name) on these devices.

    auto: mixed_float16 where every GPU has tensor cores (compute capability 7.0+); on a
    machine without GPUs, mixed_bfloat16 where the CPU has AMX tiles (oneDNN runs bf16
    convolutions on them: 1.8-2.9x the float32 training speed of the ``fast`` net on 2 AMX
    cores, same accuracy, tests/benchmarks/bench_precision.py); else float32. Mixed float16 on a
    CPU, and on P100-class GPUs, is slower or gains nothing.
    """
    if requested != "auto":
        return requested
    if gpu_capabilities:
        return "mixed_float16" if all(cc >= (7, 0) for cc in gpu_capabilities) else "float32"
    return "mixed_bfloat16" if cpu_amx else "float32"


def cpu_has_amx(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU advertises AMX bf16 tiles (Linux; False where that cannot be read)."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return "amx_bf16" in line.split()
    except OSError:
        pass
    return False


def choose_jit(requested: str, has_gpu: bool) -> bool:
    """XLA on GPUs by default; on CPUs it compiles slowly and gains little for convnets."""
    return {"on": True, "off": False}.get(requested, has_gpu)


def setup_devices(cfg: TrainCfg) -> DeviceSetup:
    with quiet_stderr():  # cuInit failures on GPU-less machines are expected, not news
        gpus = tf.config.list_physical_devices("GPU")
    caps = []
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised in this process
            pass
        details = tf.config.experimental.get_device_details(gpu)
        caps.append(tuple(details.get("compute_capability", (0, 0))))
    amx = not gpus and cpu_has_amx()
    policy = choose_precision(cfg.precision, caps, cpu_amx=amx)
    keras.mixed_precision.set_global_policy(policy)
    names = [f"GPU:{i} (cc {c[0]}.{c[1]})" for i, c in enumerate(caps)] or [f"CPU ({os.cpu_count()} cores{', AMX' if amx else ''})"]
    return DeviceSetup(names, policy, choose_jit(cfg.jit_compile, bool(gpus)))


# --------------------------------------------------------------------------- 2. schedule, optimizer


@keras.saving.register_keras_serializable(package="comp")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak``, then constant, linear (one-cycle) or cosine decay, per step.

    Keras' ``CosineDecay`` has a warm-up but no linear decay, and one class for the three
    shapes keeps them comparable (the recipes README measures them against each other).
    """

    def __init__(self, peak, total_steps, warmup_steps, start_fraction=0.1, final_fraction=0.0, kind="onecycle"):
        self.peak, self.total_steps, self.warmup_steps = float(peak), int(total_steps), int(warmup_steps)
        self.start_fraction, self.final_fraction, self.kind = float(start_fraction), float(final_fraction), kind

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        peak = self.peak
        warm = max(self.warmup_steps, 1)
        warm_lr = peak * (self.start_fraction + (1.0 - self.start_fraction) * step / warm)
        span = max(self.total_steps - self.warmup_steps, 1)
        progress = tf.clip_by_value((step - self.warmup_steps) / span, 0.0, 1.0)
        final = peak * self.final_fraction
        if self.kind == "constant":
            decay_lr = tf.constant(peak)
        elif self.kind == "cosine":
            decay_lr = final + (peak - final) * 0.5 * (1.0 + tf.cos(math.pi * progress))
        else:
            decay_lr = peak + (final - peak) * progress
        return tf.where(step < self.warmup_steps, warm_lr, decay_lr)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
                "start_fraction": self.start_fraction, "final_fraction": self.final_fraction, "kind": self.kind}


@keras.saving.register_keras_serializable(package="comp")
class OffsetScaledSGD(keras.optimizers.SGD):
    """SGD whose batch-norm offsets (``beta``) learn ``offset_lr_scale`` times faster.

    After cifar10-airbench (its ``bias_scaler``, 64): the convolutions before batch norm are
    scale-invariant, so their weight decay sets their effective step size, while the offsets
    are not and lag far behind at the same learning rate. Keras optimizers have no per-variable
    learning rate, so the multiplier is applied in ``update_step`` (one Python branch per
    variable, decided when the step is traced).
    """

    def __init__(self, offset_lr_scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.offset_lr_scale = float(offset_lr_scale)

    def build(self, variables):
        super().build(variables)
        self._offset_flags = [is_norm_offset(v) for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        if self.offset_lr_scale != 1.0 and self._offset_flags[self._get_variable_index(variable)]:
            learning_rate = learning_rate * self.offset_lr_scale
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "offset_lr_scale": self.offset_lr_scale}


def is_norm_offset(variable) -> bool:
    """Whether a variable is a batch-norm offset (``.../<name>_bn/beta`` or any ``beta``)."""
    return getattr(variable, "path", variable.name).rsplit("/", 1)[-1].split(":")[0] == "beta"


def make_optimizer(cfg: TrainCfg, steps_per_epoch: int):
    schedule = WarmupDecay(cfg.lr, cfg.epochs * steps_per_epoch, round(cfg.warmup_epochs * steps_per_epoch),
                           cfg.start_fraction, cfg.final_fraction, cfg.schedule)
    common = dict(learning_rate=schedule, weight_decay=cfg.weight_decay or None,
                  use_ema=cfg.ema, ema_momentum=cfg.ema_momentum)
    if cfg.optimizer == "sgd":
        opt = OffsetScaledSGD(cfg.offset_lr_scale, momentum=cfg.momentum, nesterov=cfg.nesterov, **common)
    else:
        opt = keras.optimizers.AdamW(**common)
    if cfg.weight_decay:
        # Keras' decoupled decay hits every variable; batch-norm scales/offsets and biases
        # should not shrink towards zero.
        opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return opt


class Lookahead(keras.callbacks.Callback):
    """Lookahead with a cubic schedule, as in hlb-cifar10 and cifar10-airbench.

    Every ``every`` optimizer steps the slow copy moves towards the model's weights,
    ``slow += (1 - d) * (fast - slow)``, and the model restarts from it (``fast = slow``), with
    ``d = 0.95**every * (step / total)**3``: no averaging early on, an average over about the
    last 20 steps by the end; after the last step the model keeps the average. Batch-norm
    statistics are averaged too. Keras' EMA (``train.ema``) only evaluates the average, and
    averages trainable variables alone.

    Resume: the slow copy is not in the backup; a resumed fold restarts it from the weights at
    the epoch boundary (at most ``every - 1`` steps from the last average).
    """

    def __init__(self, total_steps: int, every: int = 5, base: float = 0.95):
        super().__init__()
        self.total_steps, self.every, self.base = int(total_steps), int(every), float(base)

    def decay(self, step: int) -> float:
        return 1.0 if step >= self.total_steps else self.base**self.every * (step / self.total_steps) ** 3

    def on_train_begin(self, logs=None):
        variables = [v for v in self.model.weights if v.dtype in ("float32", "float16", "bfloat16")]
        self._fast = variables
        self._slow = [tf.Variable(v.value, trainable=False) for v in variables]

        @tf.function
        def update(decay):
            for slow, fast in zip(self._slow, self._fast):
                slow.assign(slow + (1.0 - decay) * (tf.cast(fast.value, slow.dtype) - slow))
                fast.assign(tf.cast(slow, fast.dtype))

        self._update = update
        self._synced = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = epoch * self.params["steps"]

    def on_train_batch_end(self, batch, logs=None):
        # The step from the epoch and batch numbers, not from the optimizer's counter: reading
        # that is a device sync per step. ``batch`` is the last step of a steps_per_execution chunk.
        step = self._epoch_start + batch + 1
        if step // self.every > self._synced // self.every or step >= self.total_steps:
            self._update(tf.constant(self.decay(step), tf.float32))
            self._synced = step


# --------------------------------------------------------------------------- 3. input pipeline


def train_dataset(x: np.ndarray, y: np.ndarray, recipe: Recipe, num_classes: int, batch_size: int,
                  initial_epoch: int = 0) -> tf.data.Dataset:
    """Endless (images, soft targets) batches; epoch e's order is a function of (seed, e).

    Images stay uint8 until after augmentation; the whole array is one tensor that index
    batches gather from (``from_tensor_slices`` would copy it per element).
    """
    n = len(x)
    steps = n // batch_size
    seed = recipe.train.seed
    with tf.device("/CPU:0"):
        images = tf.constant(np.asarray(x))
        labels = tf.constant(np.asarray(y, dtype=np.int32))
    transform = make_train_transform(recipe.augment, num_classes, seed, recipe.train.epochs)

    def epoch_batches(epoch):
        order = tf.argsort(tf.random.stateless_uniform([n], tf.stack([tf.cast(seed, tf.int64), epoch])))
        idx = tf.reshape(order[: steps * batch_size], [steps, batch_size])
        return tf.data.Dataset.from_tensor_slices(idx).enumerate().map(lambda s, i: (epoch, s, i))

    def load(epoch, step, idx):
        return transform(tf.gather(images, idx), tf.gather(labels, idx), epoch, step, idx)

    # Epochs past the planned number repeat the last one's schedule of draws (BackupAndRestore
    # restarts a fold mid-way; fit stops at recipe.train.epochs anyway).
    return (tf.data.Dataset.range(initial_epoch, recipe.train.epochs + 1).repeat()
            .flat_map(epoch_batches)
            .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def eval_dataset(x: np.ndarray, y: np.ndarray, num_classes: int, batch_size: int) -> tf.data.Dataset:
    with tf.device("/CPU:0"):
        ds = tf.data.Dataset.from_tensor_slices((np.asarray(x), np.asarray(y, dtype=np.int32)))
    return (ds.batch(batch_size)
            .map(lambda a, b: (tf.cast(a, tf.float32), tf.one_hot(b, num_classes)),
                 num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


# --------------------------------------------------------------------------- 4. one fold


class EpochTimer(keras.callbacks.Callback):
    """Adds ``seconds`` (wall time of the epoch) and ``lr`` to the epoch logs, before CSVLogger."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = round(time.perf_counter() - self._start, 3)
            lr = self.model.optimizer.learning_rate
            logs["lr"] = float(keras.ops.convert_to_numpy(lr))


def _history_best(path: Path, monitor: str) -> float | None:
    """Best monitored value logged so far (a resumed checkpoint must beat it, not start over)."""
    import pandas as pd

    if not path.is_file() or path.stat().st_size == 0:
        return None
    hist = pd.read_csv(path)
    if monitor not in hist or hist.empty:
        return None
    return float(hist[monitor].max() if monitor.endswith("accuracy") else hist[monitor].min())


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """BackupAndRestore whose backup is written to temporary files and renamed.

    Keras writes the backup in place, so a kill during the save leaves a damaged file
    that the next attempt cannot load; here a kill leaves the previous complete backup.
    """

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        meta = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        with atomic_path(self._weights_path) as tmp_weights, atomic_path(self._training_metadata_path) as tmp_meta:
            self.model.save_weights(str(tmp_weights), overwrite=True)
            tmp_meta.write_text(json.dumps(meta))


def _loadable_h5(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r"):
            return True
    except OSError:
        return False


def _resume_point(backup_dir: Path, history_path: Path) -> int:
    """Epochs finished by an interrupted attempt (0 for a fresh start); trims history.csv to them.

    BackupAndRestore saves after CSVLogger writes, so a kill between the two leaves one
    logged epoch that will run again: it is dropped here so no epoch appears twice.
    """
    import pandas as pd

    meta = backup_dir / "training_metadata.json"
    if not meta.is_file():
        history_path.unlink(missing_ok=True)  # a fresh start: no stale epochs from an older attempt
        return 0
    done = int(json.loads(meta.read_text())["epoch"])
    best = history_path.parent / "best.weights.h5"
    if best.is_file() and not _loadable_h5(best):  # killed while ModelCheckpoint was writing it
        best.unlink()
    if history_path.is_file() and history_path.stat().st_size:
        hist = pd.read_csv(history_path)
        if len(hist) != done:
            with atomic_path(history_path) as tmp:
                hist[hist["epoch"] < done].to_csv(tmp, index=False)
    return done


@dataclass
class FoldData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray | None
    num_classes: int
    metric: str


def make_strategy(name: str) -> tf.distribute.Strategy | None:
    """tf.distribute over the local devices (GPUs, else the logical CPUs) for ``mirrored``."""
    if name != "mirrored":
        return None
    devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
              [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def train_fold(recipe: Recipe, data: FoldData, fold_dir: Path, verbose: int = 2) -> dict:
    """Train one fold into ``fold_dir``; returns its metrics (also written to metrics.json).

    Resumes from ``fold_dir/backup`` if an earlier attempt was interrupted.
    """
    cfg = recipe.train
    keras.utils.set_random_seed(cfg.seed)
    setup = setup_devices(cfg)
    strategy = make_strategy(cfg.strategy)
    replicas = f" | mirrored over {strategy.num_replicas_in_sync} replicas" if strategy else ""
    print(f"[{fold_dir.name}] {setup.describe()}{replicas} | train {len(data.x_train)} / val {len(data.x_val)}",
          file=sys.stderr, flush=True)
    fold_dir.mkdir(parents=True, exist_ok=True)
    batch_size = min(cfg.batch_size, len(data.x_train))
    steps = len(data.x_train) // batch_size
    backup_dir = fold_dir / "backup"
    history_path = fold_dir / "history.csv"
    initial_epoch = _resume_point(backup_dir, history_path)
    if initial_epoch:
        print(f"[{fold_dir.name}] resuming after epoch {initial_epoch} of {cfg.epochs}", file=sys.stderr, flush=True)

    def scope():
        return strategy.scope() if strategy else contextlib.nullcontext()

    with scope():
        model = create_model(recipe.model_name, data.x_train.shape[1:], data.num_classes, **recipe.model_options)
        init_whitening(model, data.x_train)  # data-dependent first layer, where the model has one

    def compile_phase(phase: TrainCfg, build: bool = False) -> None:
        with scope():
            model.compile(
                optimizer=make_optimizer(phase, steps),
                loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing),
                metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
                jit_compile=setup.jit_compile,
                steps_per_execution=cfg.steps_per_execution,
            )
            if build:  # its variables now, under the strategy, for a backup written before fit
                model.optimizer.build(model.trainable_variables)

    best_path = fold_dir / "best.weights.h5"
    callbacks = [EpochTimer()]
    if cfg.ema:
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))  # validate the EMA weights
    if cfg.lookahead:
        callbacks.append(Lookahead(cfg.epochs * steps))
    callbacks += [
        keras.callbacks.ModelCheckpoint(best_path, monitor=cfg.monitor, save_best_only=True,
                                        save_weights_only=True,
                                        initial_value_threshold=_history_best(history_path, cfg.monitor)),
        keras.callbacks.CSVLogger(str(history_path), append=True),
    ]
    validation = eval_dataset(data.x_val, data.y_val, data.num_classes, recipe.predict.batch_size)

    def fit(start: int, stop: int, keep_backup: bool = False) -> None:
        model.fit(
            train_dataset(data.x_train, data.y_train, recipe, data.num_classes, batch_size, start),
            steps_per_epoch=steps,
            initial_epoch=start,
            epochs=stop,
            validation_data=validation,
            callbacks=[*callbacks, AtomicBackupAndRestore(str(backup_dir), delete_checkpoint=not keep_backup)],
            verbose=verbose,
            shuffle=False,  # the dataset shuffles itself, per epoch, from the seed
        )

    if has_backbone(model) and uses_pretrained_weights(recipe):
        fine_tune(model, cfg, compile_phase, fit, initial_epoch, backup_dir,
                  lambda msg: print(f"[{fold_dir.name}] {msg}", file=sys.stderr, flush=True))
    else:  # from scratch; a backbone with weights=none too: nothing to protect, and batch norm must learn
        compile_phase(cfg)
        fit(initial_epoch, cfg.epochs)
    if best_path.is_file():
        # The layers only: in a two-phase fold the best epoch may come from the other
        # phase, whose optimizer tracked other variables (and is not needed any more).
        model.load_weights(best_path, objects_to_skip=[model.optimizer])
    return _finish_fold(model, recipe, data, fold_dir)


def has_backbone(model) -> bool:
    """Whether the model has a ``backbone`` layer (model ``transfer``); pretrained, it trains in two phases."""
    return any(layer.name == "backbone" for layer in model.layers)


def unfreeze_top(backbone, fraction: float) -> tuple[int, int]:
    """Let the top ``fraction`` of the backbone's layers with weights train; batch norm stays frozen.

    A frozen BatchNormalization also runs in inference mode in Keras 3, so the ImageNet
    statistics survive small, differently distributed batches. Returns (trainable layers,
    layers with weights).
    """
    weighted = [layer for layer in backbone.layers if layer.weights]
    first = len(weighted) - round(fraction * len(weighted))
    backbone.trainable = True  # sets every sub-layer; the loop below narrows it down
    for i, layer in enumerate(weighted):
        layer.trainable = i >= first and not isinstance(layer, keras.layers.BatchNormalization)
    return sum(layer.trainable for layer in weighted), len(weighted)


def fine_tune(model, cfg: TrainCfg, compile_phase, fit, initial_epoch: int, backup_dir: Path, log) -> None:
    """Two-phase training of a model with a ``backbone`` layer (keys in :class:`~comp.spec.TrainCfg`).

    Phase 1, epochs [0, F) with F = train.freeze_epochs: the backbone frozen, the head trains
    at train.lr. Phase 2, epochs [F, train.epochs): the top train.unfreeze_fraction of the
    backbone trains too, with a fresh optimizer at train.lr * train.finetune_lr_factor.

    Resume: backups up to epoch F hold phase 1's optimizer, later ones phase 2's. At the
    switch the backup is rewritten with phase 2's fresh optimizer, so BackupAndRestore never
    restores one phase's optimizer (other variables, a step count past the end of the
    schedule) into the other.
    """
    backbone = model.get_layer("backbone")
    freeze = min(cfg.freeze_epochs, cfg.epochs)
    if initial_epoch < freeze:
        backbone.trainable = False
        compile_phase(dataclasses.replace(cfg, epochs=freeze))
        log(f"phase 1: epochs 1-{freeze} train the head, backbone frozen, peak lr {cfg.lr:g}")
        fit(initial_epoch, freeze, keep_backup=freeze < cfg.epochs)
    if freeze >= cfg.epochs:
        return
    trainable, weighted = unfreeze_top(backbone, cfg.unfreeze_fraction)
    phase = dataclasses.replace(cfg, epochs=cfg.epochs - freeze, lr=cfg.lr * cfg.finetune_lr_factor)
    compile_phase(phase, build=True)
    log(f"phase 2: epochs {freeze + 1}-{cfg.epochs} fine-tune {trainable} of the backbone's {weighted} layers "
        f"with weights (the top {cfg.unfreeze_fraction:.0%}, batch norm frozen), peak lr {phase.lr:g}")
    if 0 < freeze and initial_epoch <= freeze:
        _switch_backup(model, backup_dir, freeze, load=initial_epoch == freeze)
    fit(max(initial_epoch, freeze), cfg.epochs)


def _switch_backup(model, backup_dir: Path, epoch: int, load: bool) -> None:
    """Replace phase 1's last backup by phase 2's starting point: same layers, fresh (built) optimizer.

    ``load``: this process resumed exactly at the switch, so phase 1's final weights are in
    the backup only.
    """
    backup = AtomicBackupAndRestore(str(backup_dir))
    if load:
        model.load_weights(backup._weights_path, objects_to_skip=[model.optimizer])
    backup.set_model(model)
    backup._current_epoch = epoch  # what on_epoch_end would have set after epoch `epoch` - 1
    backup._save_model()


def _finish_fold(model, recipe: Recipe, data: FoldData, fold_dir: Path) -> dict:
    """Save the model and the fold's probabilities; metrics.json last, as the 'done' mark."""
    import pandas as pd

    start = time.perf_counter()
    with atomic_path(fold_dir / "model.keras") as tmp:
        model.save(tmp)
    tta, bs = recipe.predict.tta, recipe.predict.batch_size
    oof = predict_proba(model, data.x_val, tta, bs)
    save_npy(fold_dir / "oof.npy", oof.astype(np.float32))
    if data.x_test is not None:
        save_npy(fold_dir / "test.npy", predict_proba(model, data.x_test, tta, bs).astype(np.float32))
    hist = pd.read_csv(fold_dir / "history.csv")
    monitor = recipe.train.monitor
    best_row = hist[monitor].idxmax() if monitor.endswith("accuracy") else hist[monitor].idxmin()
    result = {
        "score": metrics.score(data.metric, data.y_val, oof),
        "metric": data.metric,
        "accuracy": metrics.score("accuracy", data.y_val, oof),
        "log_loss": metrics.score("log_loss", data.y_val, oof),
        "tta": tta,
        "seconds": round(float(hist["seconds"].sum()) + time.perf_counter() - start, 1),  # all attempts
        "epoch_seconds": round(float(hist["seconds"].median()), 2),
        "epochs": int(len(hist)),
        "best_epoch": int(hist["epoch"].iloc[best_row]) + 1,
        "n_train": int(len(data.x_train)),
        "n_val": int(len(data.x_val)),
        "params": int(model.count_params()),
    }
    (fold_dir / "best.weights.h5").unlink(missing_ok=True)
    write_json(fold_dir / "metrics.json", result)
    return result


# --------------------------------------------------------------------------- 5. the k-fold driver


def fold_data(run, k: int, x_all: np.ndarray, labels: np.ndarray, x_test: np.ndarray | None) -> FoldData:
    folds = run.fold_table()["fold"].to_numpy()
    val = folds == k
    if not val.any():
        raise CompError(f"{run.dir}/folds.csv: fold {k} has no validation rows")
    # Boolean-mask reads pull the fold's rows out of the memory-mapped cache in one pass.
    return FoldData(np.asarray(x_all[~val]), labels[~val], np.asarray(x_all[val]), labels[val],
                    None if x_test is None else np.asarray(x_test), len(run.class_names),
                    run.competition.metric)


def fold_command(run_dir: Path, k: int) -> list[str]:
    return [sys.executable, "-m", "comp", "train-fold", "--run-dir", str(run_dir), "--fold", str(k)]


def _die_with_parent() -> None:
    """In a fold's subprocess: get SIGTERM when `comp train` dies, even by SIGKILL (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: Ctrl-C still reaches the whole process group
        pass


def run_folds(run, folds: list[int], executor: str, gpus: list[str] | None, in_process) -> None:
    """Train ``folds`` of ``run``: in this process, or one subprocess per fold (one per GPU at a time).

    ``in_process(k)`` trains fold k here (used by the ``inline`` executor).
    """
    if executor == "inline":
        for k in folds:
            in_process(k)
        return
    if executor == "ray":
        from comp.cluster import run_folds_ray

        run_folds_ray(run, folds)
        return
    slots = gpus or [None]
    pending, running, failed = list(folds), {}, []
    while pending or running:
        while pending and len(running) < len(slots):
            slot = next(s for s in slots if s not in running.values())
            k = pending.pop(0)
            env = dict(os.environ)
            if slot is not None:
                env["CUDA_VISIBLE_DEVICES"] = slot
            running[subprocess.Popen(fold_command(run.dir, k), env=env, preexec_fn=_die_with_parent)] = slot
        for proc in list(running):
            if proc.poll() is not None:
                if proc.returncode != 0:
                    failed.append((proc.args[-1], proc.returncode))
                del running[proc]
        if running:
            time.sleep(0.2)
    if failed:
        raise CompError(f"{run.dir}: fold(s) {', '.join(f for f, _ in failed)} failed "
                        f"(exit {failed[0][1]}); re-run the same command to resume")


def load_images_for(comp_spec, dataset, subset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train images, test images), uint8, from the decode cache under data/.cache/<competition>/.

    A ``--subset`` run's images are cached apart (``train-subset<N>-...``): sharing the file
    name made a quick comparison overwrite the full training set's cache, decoded again by the
    next full run.
    """
    from comp.data.images import load_images

    size = tuple(comp_spec.data.image_size)
    cache = Path("data") / ".cache" / comp_spec.name
    x_train = load_images(dataset.train["path"].tolist(), size, cache, f"train-subset{subset}" if subset else "train")
    # a --subset run has no test images: it is for comparison (comp predict decodes them if asked)
    x_test = load_images(dataset.test["path"].tolist(), size, cache, "test") if len(dataset.test) else None
    return x_train, x_test


def check_recipe(recipe: Recipe) -> None:
    """Fail before any work on an unknown model, model option or augmentation preset."""
    from comp.augment import create_preset
    from comp.models import check_options

    check_options(recipe.model_name, recipe.model_options)
    create_preset(recipe.augment.preset)
    from comp.predict import check_tta

    check_tta(recipe.predict.tta)


def prepare_run(comp_spec, recipe: Recipe, recipe_ref: str, overrides: list[str], folds: int,
                val_fraction: float, run_id: str | None, restart: bool, subset: int = 0):
    """Create (or reopen) the run: config, class map and folds saved before any training.

    ``subset``: at most that many training images per class, and no test images (a quick
    comparison). Returns (run, dataset, (train images, test images or None)).
    """
    from comp.data.demo import ensure_data
    from comp.data.folds import make_folds
    from comp.data.layouts import read_dataset, subset_dataset
    from comp.runs import create_run, run_config, save_classes, save_fold_table

    check_recipe(recipe)
    ensure_data(comp_spec)
    dataset = read_dataset(comp_spec)
    if subset:
        dataset = subset_dataset(dataset, subset, recipe.train.seed)
    fold_ids = make_folds(dataset.labels, folds, recipe.train.seed, val_fraction)
    images = load_images_for(comp_spec, dataset, subset)  # decode once (or hit the cache) before any run exists
    run, existed = create_run(run_config(comp_spec, recipe, folds, val_fraction, overrides, recipe_ref, subset),
                              run_id, restart)
    if existed:
        if run.class_names != dataset.class_names:
            raise CompError(f"{run.dir}/classes.json: the run's classes {run.class_names} differ from "
                            f"the data's {dataset.class_names}; pass --restart or a new --run")
        saved = run.fold_table()
        if list(saved["id"]) != list(dataset.train["id"]):
            raise CompError(f"{run.dir}/folds.csv: the training images changed since this run started; "
                            f"pass --restart or a new --run")
    else:
        save_classes(run, dataset.class_names)
        save_fold_table(run, dataset.train["id"], dataset.train["label"], fold_ids)
    return run, dataset, images


def load_fold(run, k: int) -> FoldData:
    """Fold ``k`` of an existing run: the run's images (its ``--subset`` draw, if any) split by its folds.csv."""
    from comp.data.layouts import read_dataset, subset_dataset

    comp_spec = run.competition
    dataset = read_dataset(comp_spec)
    if run.subset:
        dataset = subset_dataset(dataset, run.subset, run.recipe.train.seed)
    x_train, x_test = load_images_for(comp_spec, dataset, run.subset)
    return fold_data(run, k, x_train, dataset.labels, x_test)


def train_fold_in_run(run, k: int, verbose: int = 2) -> dict:
    """Train fold ``k`` of an existing run (the body of ``comp train-fold``)."""
    return train_fold(run.recipe, load_fold(run, k), run.fold_dir(k), verbose=verbose)


def summarise_run(run) -> dict:
    """Per-fold and out-of-fold scores of a run, written to its metrics.json and plots/."""
    from comp import report
    from comp.predict import run_oof

    comp_spec = run.competition
    per_fold = []
    for k in run.finished_folds():
        m = json.loads((run.fold_dir(k) / "metrics.json").read_text())
        per_fold.append({"fold": k, **m})
    _, labels, probs = run_oof(run)
    summary = {
        "run": run.id,
        "competition": comp_spec.name,
        "recipe": run.recipe.name,
        "metric": comp_spec.metric,
        "folds": run.folds,
        "finished_folds": len(per_fold),
        "oof_score": metrics.score(comp_spec.metric, labels, probs),
        "oof_accuracy": metrics.score("accuracy", labels, probs),
        "oof_log_loss": metrics.score("log_loss", labels, probs),
        "oof_rows": int(len(labels)),
        "seconds": round(sum(f["seconds"] for f in per_fold), 1),
        "params": per_fold[0]["params"],
        "tta": run.recipe.predict.tta,
        "per_fold": per_fold,
    }
    write_json(run.dir / "metrics.json", summary)
    report.plot_curves(run, run.dir / "plots" / "curves.png")
    report.plot_confusion(labels, probs.argmax(1), run.class_names, run.dir / "plots" / "confusion.png")
    return summary
