"""One fold: build, fit with resume, keep the best epoch, write the fold's artifacts.

A fold's folder holds ``history.csv`` (one line per epoch), ``backup/`` while it trains
(BackupAndRestore: a killed fold resumes after its last finished epoch), ``best.weights.h5``
(the best epoch by the monitor), then ``model.keras``, ``oof.npy``, ``test.npy`` and, last,
``metrics.json``, the mark of a finished fold.

The monitor is the competition's metric on the validation rows (``val_accuracy``,
``val_macro_f1``, ``val_log_loss``) unless the recipe names one (``train.monitor``).
Label smoothing: Szegedy et al. 2016, https://arxiv.org/abs/1512.00567.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from comp import metrics
from comp.files.atomic import atomic_path, save_npy, write_json
from comp.data.folds import FoldData
from comp.data.stream import is_streamed
from comp.models import create_model, initialise_model
from comp.predict.probs import predict_proba
from comp.config.recipe import Recipe, TrainCfg
from comp.runs.config import uses_pretrained_weights
from comp.errors import CompError
from comp.tf_quiet import keras, tf
from comp.train.time_budget_fit import attach_plan, fit_to_plan
from comp.train.time_budget import plan_record
from comp.train.callbacks import (AtomicBackupAndRestore, EpochTimer, Lookahead, StopOnDivergence, history_best,
                                  loadable_h5, tensorboard_callback)
from comp.train.devices import make_strategy, setup_devices
from comp.train.finetune import fine_tune, has_backbone
from comp.train.optim import make_optimizer
from comp.train.objective import ValidationScore, fold_truth, keras_metrics, make_loss, needs_validation_score
from comp.train.pipeline import eval_dataset, train_dataset
from comp.targets import kinds


def log(fold_dir: Path, message: str) -> None:
    print(f"[{fold_dir.name}] {message}", file=sys.stderr, flush=True)


def resume_point(backup_dir: Path, history_path: Path) -> int:
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
    if best.is_file() and not loadable_h5(best):  # killed while ModelCheckpoint was writing it
        best.unlink()
    if history_path.is_file() and history_path.stat().st_size:
        hist = pd.read_csv(history_path)
        if len(hist) != done:
            with atomic_path(history_path) as tmp:
                hist[hist["epoch"] < done].to_csv(tmp, index=False)
    return done


class FoldTrainer:
    """The pieces of one fold's training that its phases share: model, compile, callbacks, fit."""

    def __init__(self, recipe: Recipe, data: FoldData, fold_dir: Path, verbose: int):
        self.recipe, self.data, self.fold_dir, self.verbose = recipe, data, fold_dir, verbose
        cfg = recipe.train
        self.setup = setup_devices(cfg)
        self.strategy = make_strategy(cfg.strategy)
        self.batch_size = min(cfg.batch_size, len(data.x_train))
        self.steps = len(data.x_train) // self.batch_size
        self.monitor = metrics.monitor_for(data.metric, cfg.monitor)
        self.backup_dir = fold_dir / "backup"
        self.history_path = fold_dir / "history.csv"
        self.best_path = fold_dir / "best.weights.h5"
        # a time budget (comp.train.time_budget_fit.attach_plan): its plan, the schedule's total-steps
        # variable, the callback, and the planned epochs the training dataset mixes for
        self.plan = self.total_steps = self.budget = None
        self.mix_epochs = cfg.epochs

    def scope(self):
        return self.strategy.scope() if self.strategy else contextlib.nullcontext()

    def build_model(self):
        data, recipe = self.data, self.recipe
        with self.scope():
            self.model = create_model(recipe.model_name, data.x_train.shape[1:], data.num_classes,
                                      **recipe.model_options)
            initialise_model(recipe.model_name, self.model, data.x_train)  # e.g. fast's whitening layer
        return self.model

    def compile_phase(self, phase: TrainCfg) -> None:
        cfg = self.recipe.train
        names = {self.data.metric, self.monitor.removeprefix("val_")}
        with self.scope():
            self.model.compile(
                optimizer=make_optimizer(phase, self.steps, self.total_steps),
                loss=make_loss(self.data.kind, cfg.label_smoothing),
                metrics=keras_metrics(names, self.data.kind),
                jit_compile=self.setup.jit_compile,
                steps_per_execution=cfg.steps_per_execution,
            )
            # its variables now, under the strategy: a backup written before fit holds them, and the
            # training step is traced once (a first trace that creates variables is traced again)
            self.model.optimizer.build(self.model.trainable_variables)

    def callbacks(self) -> list:
        cfg = self.recipe.train
        callbacks = [StopOnDivergence(self.fold_dir.name, cfg.lr), EpochTimer()]  # first: nothing logs a NaN epoch
        if cfg.ema:
            callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))  # validate the EMA weights
        scored = self.monitor.removeprefix("val_")
        if scored != "loss" and needs_validation_score(scored, self.data.kind):
            data, predict = self.data, self.recipe.predict
            callbacks.append(ValidationScore(scored, data.x_val, data.y_val, data.kind, data.scale,
                                             predict.batch_size, predict.crop))
        if cfg.lookahead:
            callbacks.append(Lookahead(cfg.epochs * self.steps, batches_per_update=cfg.accumulate))
            if self.budget is not None:
                self.budget.lookahead = callbacks[-1]
        if cfg.tensorboard:
            callbacks.append(tensorboard_callback(self.fold_dir))
        mode = "max" if metrics.higher_is_better(self.monitor) else "min"
        if cfg.schedule == "plateau":  # its wait count restarts on resume; the lowered lr is in the backup
            callbacks.append(keras.callbacks.ReduceLROnPlateau(
                self.monitor, factor=cfg.plateau_factor, patience=cfg.plateau_patience, mode=mode,
                min_lr=cfg.lr * cfg.final_fraction))
        callbacks += [
            keras.callbacks.ModelCheckpoint(self.best_path, monitor=self.monitor, mode=mode, save_best_only=True,
                                            save_weights_only=True,
                                            initial_value_threshold=history_best(self.history_path, self.monitor)),
            keras.callbacks.CSVLogger(str(self.history_path), append=True),
        ]
        return callbacks + ([self.budget] if self.budget is not None else [])  # its plan saved before the backup

    def fitter(self):
        """``fit(start, stop)``: train epochs [start, stop) with resume."""
        data, recipe, callbacks = self.data, self.recipe, self.callbacks()
        validation = eval_dataset(data.x_val, data.y_val, data.num_classes, recipe.predict.batch_size,
                                  recipe.predict.crop)

        def fit(start: int, stop: int) -> None:
            with self.out_of_memory_says_what_to_try():
                self._fit(start, stop, data, recipe, callbacks, validation)

        return fit

    @contextlib.contextmanager
    def out_of_memory_says_what_to_try(self):
        """An accelerator (or host) out of memory: one line with the batch size to try instead."""
        try:
            yield
        except tf.errors.ResourceExhaustedError:
            smaller = max(1, self.batch_size // 2)
            raise CompError(f"{self.fold_dir.name}: out of memory on {', '.join(self.setup.devices)} at "
                            f"train.batch_size={self.batch_size}; try --set train.batch_size={smaller} "
                            f"(and train.lr about half as large), or a smaller data.image_size") from None

    def _fit(self, start: int, stop: int, data, recipe, callbacks, validation) -> None:
        self.model.fit(
            train_dataset(data.x_train, data.y_train, recipe, data.num_classes, self.batch_size, start, data.weights,
                          self.mix_epochs),
            steps_per_epoch=self.steps,
            initial_epoch=start,
            epochs=stop,
            validation_data=validation,
            callbacks=[*callbacks, AtomicBackupAndRestore(str(self.backup_dir))],
            verbose=self.verbose,
            shuffle=False,  # the dataset shuffles itself, per epoch, from the seed
        )


def input_name(data: FoldData) -> str:
    if is_streamed(data.x_train):
        return f"streamed from the decode cache ({data.x_train.nbytes / 2**30:.2f} GiB of training images)"
    return f"in memory ({data.x_train.nbytes / 2**30:.2f} GiB of training images)"


def train_fold(recipe: Recipe, data: FoldData, fold_dir: Path, verbose: int = 2,
               time_budget_s: float | None = None) -> dict:
    """Train one fold into ``fold_dir``; returns its metrics (also written to metrics.json).

    Resumes from ``fold_dir/backup`` if an earlier attempt was interrupted. ``time_budget_s``:
    the fold's share of a time budget (:mod:`comp.train.time_budget`; a resumed fold keeps the
    share of its saved plan).
    """
    cfg, started = recipe.train, time.perf_counter()
    keras.utils.set_random_seed(cfg.seed)
    trainer = FoldTrainer(recipe, data, fold_dir, verbose)
    replicas = f" | mirrored over {trainer.strategy.num_replicas_in_sync} replicas" if trainer.strategy else ""
    pseudo = f" ({data.n_pseudo} pseudo-labelled)" if data.n_pseudo else ""
    balance = f" | class balance: {cfg.class_balance}" if cfg.class_balance != "none" else ""
    log(fold_dir, f"{trainer.setup.describe()}{replicas} | train {len(data.x_train)}{pseudo} / val {len(data.x_val)} "
                  f"| input: {input_name(data)} | best epoch by {trainer.monitor}{balance}")
    fold_dir.mkdir(parents=True, exist_ok=True)
    initial_epoch = resume_point(trainer.backup_dir, trainer.history_path)
    if initial_epoch:
        log(fold_dir, f"resuming after epoch {initial_epoch} of {cfg.epochs}")
    model = trainer.build_model()
    if time_budget_s is not None:
        attach_plan(trainer, time_budget_s, lambda msg: log(fold_dir, msg), started)
    fit = trainer.fitter()
    if has_backbone(model) and uses_pretrained_weights(recipe):
        fine_tune(model, cfg, trainer.compile_phase, fit, initial_epoch, trainer.backup_dir,
                  lambda msg: log(fold_dir, msg))
    else:  # from scratch; a backbone with weights=none too: nothing to protect, and batch norm must learn
        trainer.compile_phase(cfg)
        fit_to_plan(trainer, fit) if trainer.plan else fit(initial_epoch, cfg.epochs)
    if trainer.best_path.is_file():
        # The layers only: in a two-phase fold the best epoch may come from the other
        # phase, whose optimizer tracked other variables (and is not needed any more).
        model.load_weights(trainer.best_path, objects_to_skip=[model.optimizer])
    return finish_fold(model, recipe, data, fold_dir, trainer.monitor, trainer.plan)


def finish_fold(model, recipe: Recipe, data: FoldData, fold_dir: Path, monitor: str, plan=None) -> dict:
    """Save the model and the fold's probabilities; metrics.json last, as the 'done' mark.
    ``plan``: a time budget's (:class:`comp.train.time_budget.TimePlan`), recorded there too."""
    import pandas as pd

    start = time.perf_counter()
    with atomic_path(fold_dir / "model.keras") as tmp:
        model.save(tmp)
    tta, bs, crop, share = recipe.predict.tta, recipe.predict.batch_size, recipe.predict.crop, recipe.predict.tta_share
    activation = kinds.head(data.kind)
    oof = predict_proba(model, data.x_val, tta, bs, crop, share, activation)
    save_npy(fold_dir / "oof.npy", oof.astype(np.float32))
    if data.x_test is not None:
        save_npy(fold_dir / "test.npy",
                 predict_proba(model, data.x_test, tta, bs, crop, share, activation).astype(np.float32))
    test_saved = {"test_key": data.test_key} if data.x_test is not None else {}
    hist = pd.read_csv(fold_dir / "history.csv")
    result = {
        **metrics.scores(data.metric, fold_truth(data.kind, data.y_val, data.scale),
                         kinds.metric_inputs(data.kind, oof, data.scale)),
        "metric": data.metric,
        "tta": tta,
        "tta_share": share,
        "crop": crop,
        "seconds": round(float(hist["seconds"].sum()) + time.perf_counter() - start, 1),  # all attempts
        "epoch_seconds": round(float(hist["seconds"].median()), 2),
        "epochs": int(len(hist)),
        "monitor": monitor,
        "best_epoch": int(hist["epoch"].iloc[metrics.best_index(hist[monitor], monitor)]) + 1,
        "n_train": int(len(data.x_train)),
        **({"n_pseudo": int(data.n_pseudo)} if data.n_pseudo else {}),
        "n_val": int(len(data.x_val)),
        "params": int(model.count_params()),
        **test_saved,
        **plan_record(plan, time.perf_counter() - start),
        **({"per_class_f1": metrics.per_class_f1(data.y_val, oof)}
           if data.metric == "macro_f1" and kinds.is_softmax(data.kind) else {}),
    }
    write_json(fold_dir / "metrics.json", result)  # the fold is finished from here on
    (fold_dir / "best.weights.h5").unlink(missing_ok=True)
    shutil.rmtree(fold_dir / "backup", ignore_errors=True)
    return result
