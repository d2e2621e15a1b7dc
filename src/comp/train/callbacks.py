"""Callbacks a fold trains with: Lookahead, per-epoch time and learning rate, and a
BackupAndRestore whose backup survives a kill at any moment."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from comp import metrics
from comp.files.atomic import atomic_path
from comp.errors import CompError
from comp.tf_quiet import keras, tf


class Lookahead(keras.callbacks.Callback):
    """Lookahead with a cubic schedule, as in hlb-cifar10 and cifar10-airbench.

    Every ``every`` optimizer steps the slow copy moves towards the model's weights,
    ``slow += (1 - d) * (fast - slow)``, and the model restarts from it (``fast = slow``), with
    ``d = 0.95**every * (step / total)**3``: no averaging early on, an average over about the
    last 20 steps by the end; after the last step the model keeps the average. Batch-norm
    statistics are averaged too. Keras' EMA (``train.ema``) only evaluates the average, and
    averages trainable variables alone.

    ``total_steps`` counts batches. Under ``train.accumulate = N`` an optimizer step takes
    ``batches_per_update`` (N) batches, and ``every`` counts optimizer steps: the sync comes
    after every ``every * N`` batches, never in the middle of an accumulation.

    Resume: the slow copy is not in the backup; a resumed fold restarts it from the weights at
    the epoch boundary (at most ``every - 1`` steps from the last average).
    """

    def __init__(self, total_steps: int, every: int = 5, base: float = 0.95, batches_per_update: int = 1):
        super().__init__()
        self.total_steps, self.every, self.base = int(total_steps), int(every), float(base)
        self.batches_per_update = int(batches_per_update)

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
        period = self.every * self.batches_per_update
        if step // period > self._synced // period or step >= self.total_steps:
            self._update(tf.constant(self.decay(step), tf.float32))
            self._synced = step


class EpochTimer(keras.callbacks.Callback):
    """Adds ``seconds`` (wall time of the epoch) and ``lr`` to the epoch logs, before CSVLogger."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = round(time.perf_counter() - self._start, 3)
            lr = self.model.optimizer.learning_rate
            logs["lr"] = float(keras.ops.convert_to_numpy(lr))


def check_tensorboard() -> None:
    """``train.tensorboard`` needs the tensorboard package (TensorFlow no longer installs it)."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise CompError("train.tensorboard = true needs the tensorboard package: pip install -e '.[tensorboard]'")


def tensorboard_callback(fold_dir: Path):
    """Event files in ``fold_dir/tensorboard``: the epoch logs (lr and seconds too) once an epoch, no histograms."""
    check_tensorboard()
    return keras.callbacks.TensorBoard(log_dir=str(fold_dir / "tensorboard"), histogram_freq=0, write_graph=False,
                                       update_freq="epoch", profile_batch=0)


def history_best(path: Path, monitor: str) -> float | None:
    """Best monitored value logged so far (a resumed checkpoint must beat it, not start over)."""
    import pandas as pd

    if not path.is_file() or path.stat().st_size == 0:
        return None
    hist = pd.read_csv(path)
    if monitor not in hist or hist.empty:
        return None
    return float(hist[monitor].iloc[metrics.best_index(hist[monitor], monitor)])


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """BackupAndRestore whose backup is written to temporary files and renamed.

    Keras writes the backup in place, so a kill during the save leaves a damaged file
    that the next attempt cannot load; here a kill leaves the previous complete backup.
    The weights are renamed into place before the metadata that names their epoch: a kill
    between the two repeats an epoch (from slightly later weights) rather than skip one.
    The fold deletes the backup itself once its metrics.json is written (``delete_checkpoint``
    is off), so a kill while it saves its results resumes there instead of at epoch 0.
    """

    def __init__(self, backup_dir: str):
        super().__init__(backup_dir, delete_checkpoint=False)

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        meta = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        with atomic_path(self._weights_path) as tmp_weights:
            self.model.save_weights(str(tmp_weights), overwrite=True)
        with atomic_path(self._training_metadata_path) as tmp_meta:
            tmp_meta.write_text(json.dumps(meta))


class StopOnDivergence(keras.callbacks.Callback):
    """Stop a fold whose epoch diverged, before that epoch is logged or backed up.

    Checked once per epoch (a per-step check would sync the device every step). An epoch has
    diverged where its mean training loss or its validation loss is not finite (the weights went
    NaN during the epoch while its mean loss was still finite), or where the training loss is
    above :data:`MAX_LOSS`: no cross-entropy of a model that learns comes near it (chance over
    1,000 classes is 6.9), while an absurd learning rate (1e12) gives finite losses of 1e19 and a
    model at chance. Raises a CompError naming the epoch and a lower lr.
    """

    MAX_LOSS = 1e6

    def __init__(self, where: str, lr: float):
        super().__init__()
        self.where, self.lr = where, float(lr)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for key in ("loss", "val_loss"):
            value = logs.get(key)
            if value is not None and not (math.isfinite(float(value)) and float(value) <= self.MAX_LOSS):
                raise CompError(f"{self.where}: training diverged in epoch {epoch + 1} ({key} {float(value):.2g}); "
                                f"lower the learning rate: train.lr is {self.lr:g}, try --set train.lr={self.lr / 10:g}")


def loadable_h5(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r"):
            return True
    except OSError:
        return False


