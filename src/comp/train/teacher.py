"""Teacher runs: distillation targets for the training rows, pseudo-labels for the test images.

``comp train --distill RUN`` (repeatable): each training row's target blends its label with
the teachers' **out-of-fold** probabilities, ``(1 - w) x label + w x teacher`` (``w`` =
``teacher.distill_weight``), so no row's target comes from a model that saw the row's label.

``comp train --pseudo-label RUN`` (repeatable): the teachers' fold ensembles, each with its
recipe's TTA, label the test images; the confident ones (``teacher.pseudo_threshold``, then
the top ``teacher.pseudo_top_share`` of each predicted class) join every fold's training set,
with the teachers' probabilities or their class as targets (``teacher.pseudo_targets``) and a
loss weight (``teacher.pseudo_weight``). The out-of-fold score stays on true labels only.

Both soften the teachers' probabilities at ``teacher.temperature`` (``p^(1/T)``, renormalised:
the softmax of their logits divided by T) and train the student with the usual cross-entropy
on those soft targets. Keras 3.15 has ``keras.distillation.Distiller``, but it runs the
teacher model on each (augmented) training batch: one teacher model cannot give
out-of-fold targets, an ensemble of five folds with TTA would cost 30 forward passes per
step, and it ignores sample weights. Precomputed targets avoid all three.

A student's folds are its teachers' (they must share them). The targets are worked out once,
when the run is created, and kept in the run as ``teacher.npz``: every fold, resumed or in a
subprocess, reads the same ones. Caveat: a teacher fold's model saw the labels of the other
folds, the student's validation rows among them, so a student's score may gain a little from
its validation labels at second hand (as any stacked model does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from comp.files.atomic import atomic_path
from comp.data.folds import FoldData
from comp.data.stream import Rows, Stacked, is_streamed
from comp.errors import CompError
from comp.config.recipe import TeacherCfg
from comp.runs.teacher_file import read_targets
from comp.runs.run import Run, open_run

TARGETS_FILE = "teacher.npz"


@dataclass
class Teachers:
    """The finished runs a student learns from: ``distill`` for its training rows, ``pseudo`` for test images."""

    distill: list[Run]
    pseudo: list[Run]

    @property
    def runs(self) -> list[Run]:
        return list({r.id: r for r in self.distill + self.pseudo}.values())

    @property
    def test_data(self) -> bool:
        """Whether the student trains on test images: its own pseudo-labels, or a teacher's."""
        return bool(self.pseudo) or any(r.test_data for r in self.runs)

    @property
    def pretrained(self) -> bool:
        """A teacher with pretrained weights passes what they know on to the student."""
        return any(r.pretrained for r in self.runs)


def open_teachers(competition: str, distill_ids, pseudo_ids) -> Teachers | None:
    """The teacher runs named by ``--distill`` / ``--pseudo-label``, every fold finished; None without any."""
    if not distill_ids and not pseudo_ids:
        return None
    opened: dict[str, Run] = {}
    for run_id in [*distill_ids, *pseudo_ids]:
        if run_id not in opened:
            run = opened[run_id] = open_run(competition, run_id)
            done = run.finished_folds()
            if len(done) < run.n_folds:
                raise CompError(f"teacher run '{run_id}' has {len(done)} of {run.n_folds} folds finished; "
                                f"a teacher needs all of them (finish its training first)")
    return Teachers([opened[r] for r in dict.fromkeys(distill_ids)], [opened[r] for r in dict.fromkeys(pseudo_ids)])


def teacher_folds(teachers: Teachers, dataset, n_folds: int) -> np.ndarray:
    """The teachers' shared fold of each training row, checked against the student's data and ``--folds``."""
    first = teachers.runs[0]
    table = first.fold_table()
    for run in teachers.runs:
        if run.n_folds != n_folds:
            raise CompError(f"teacher run '{run.id}' has {run.n_folds} folds; the student takes its teachers' "
                            f"folds, so pass --folds {run.n_folds}")
        if run.class_names != dataset.class_names:
            raise CompError(f"teacher run '{run.id}' has the classes {run.class_names} in another order than this "
                            f"run's {dataset.class_names}; its probabilities would be read against the wrong classes "
                            f"(train the teacher again, or keep the spec's class_names)")
        other = run.fold_table()
        if list(other["id"]) != list(dataset.train["id"]) or list(other["label"]) != list(dataset.train["label"]):
            raise CompError(f"teacher run '{run.id}' was trained on other training images or labels than this "
                            f"run's (same --subset, and the same data, are needed)")
        if not np.array_equal(other["fold"].to_numpy(), table["fold"].to_numpy()):
            raise CompError(f"teacher runs '{first.id}' and '{run.id}' have different folds; teachers must share "
                            f"them (train them with the same --folds and train.seed)")
    return table["fold"].to_numpy()


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``probs`` at temperature T: ``p^(1/T)`` renormalised (the softmax of log p / T).

    >>> soften(np.array([[0.8, 0.2]]), 1.0).round(2).tolist()
    [[0.8, 0.2]]
    """
    logp = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    out = np.exp(logp)
    return out / out.sum(axis=1, keepdims=True)


def teacher_oof(runs: list[Run], n_rows: int) -> np.ndarray:
    """The mean of the runs' out-of-fold probabilities, in training-row order."""
    total = None
    for run in runs:
        rows, _, probs = run.oof()
        aligned = np.zeros((n_rows, probs.shape[1]), np.float64)
        aligned[rows] = probs
        total = aligned if total is None else total + aligned
    return total / len(runs)


def distill_targets(oof: np.ndarray, labels: np.ndarray, cfg: TeacherCfg) -> np.ndarray:
    """Each training row's target: ``(1 - w) x its one-hot label + w x the softened teacher probabilities``."""
    one_hot = np.eye(oof.shape[1])[labels]
    return ((1 - cfg.distill_weight) * one_hot + cfg.distill_weight * soften(oof, cfg.temperature)).astype(np.float32)


def select_confident(probs: np.ndarray, threshold: float, top_share: float) -> np.ndarray:
    """Rows (sorted) whose top probability is at least ``threshold`` and among the most confident
    ``top_share`` of the rows predicted as the same class (rounded up: a class keeps one at least)."""
    confidence, predicted = probs.max(axis=1), probs.argmax(axis=1)
    keep = []
    for c in np.unique(predicted):
        rows = np.flatnonzero(predicted == c)
        ranked = rows[np.argsort(-confidence[rows], kind="stable")][: int(np.ceil(top_share * len(rows)))]
        keep.append(ranked[confidence[ranked] >= threshold])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)


def pseudo_targets(probs: np.ndarray, cfg: TeacherCfg) -> tuple[np.ndarray, np.ndarray]:
    """(test rows chosen, their targets): soft (softened probabilities) or hard (the teachers' class)."""
    chosen = select_confident(probs, cfg.pseudo_threshold, cfg.pseudo_top_share)
    if cfg.pseudo_targets == "hard":
        return chosen, np.eye(probs.shape[1], dtype=np.float32)[probs[chosen].argmax(1)]
    return chosen, soften(probs[chosen], cfg.temperature).astype(np.float32)


def save_targets(run: Run, arrays: dict) -> None:
    """The run's teacher.npz, written atomically (a killed write leaves none, and it is made again)."""
    with atomic_path(run.dir / TARGETS_FILE) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def load_targets(run: Run) -> dict | None:
    """The run's teacher targets (``train``, ``pseudo_index``, ``pseudo``, ``pseudo_weight``), or None;
    checked (:func:`comp.runs.teacher_file.read_targets`) against its folds.csv, classes and test images."""
    if run.teacher is None:
        return None
    path = run.dir / TARGETS_FILE
    if not path.is_file():
        raise CompError(f"{path}: missing; the run's teacher targets are made when `comp train` opens the run "
                        f"(with its --distill/--pseudo-label)")
    pseudo = bool(run.teacher.pseudo_label)
    return read_targets(path, len(run.fold_table()), len(run.class_names), bool(run.teacher.distill), pseudo,
                        _n_test(run) if pseudo else None)


def _n_test(run: Run) -> int:
    """The competition's test images (the pseudo-labels index them all, also for a --subset student)."""
    from comp.data.layouts import read_dataset

    return len(read_dataset(run.competition).test)


def n_pseudo(targets: dict | None) -> int:
    """The pseudo-labelled images every fold of a run adds to its training rows."""
    return len(targets.get("pseudo_index", [])) if targets else 0


def apply_targets(data: FoldData, targets: dict, val_rows: np.ndarray, test_images) -> FoldData:
    """Fold ``data`` with the teacher's targets: soft targets for its training rows (distillation)
    and the pseudo-labelled test images after them, with their loss weight."""
    y = targets["train"][~val_rows] if "train" in targets else np.eye(data.num_classes, dtype=np.float32)[data.y_train]
    index = targets.get("pseudo_index", np.zeros(0, np.int64))
    if not len(index):
        return FoldData(data.x_train, y, data.x_val, data.y_val, data.x_test, data.num_classes, data.metric,
                        data.test_key)
    if test_images is None:
        raise CompError("pseudo-labels need the competition's test images, and none were loaded")
    extra = Rows(test_images, index)
    if is_streamed(data.x_train):
        x = Stacked(data.x_train, extra)
    else:
        x = np.concatenate([np.asarray(data.x_train), np.asarray(extra)])
    weight = float(targets["pseudo_weight"])
    weights = None if weight == 1.0 else np.r_[np.ones(len(y)), np.full(len(index), weight)].astype(np.float32)
    return FoldData(x, np.concatenate([y, targets["pseudo"]]), data.x_val, data.y_val, data.x_test,
                    data.num_classes, data.metric, data.test_key, weights=weights, n_pseudo=len(index))


def make_targets(run: Run, teachers: Teachers, dataset, say) -> None:
    """Work out the student's targets from its teachers and save them in the run (teacher.npz)."""
    cfg, arrays = run.recipe.teacher, {}
    labels = dataset.labels
    if teachers.distill:
        oof = teacher_oof(teachers.distill, len(labels))
        arrays["train"] = distill_targets(oof, labels, cfg)
        say(f"distillation: targets of {len(labels)} training rows from {_names(teachers.distill)} "
            f"(their OOF accuracy {(oof.argmax(1) == labels).mean():.4f}), weight {cfg.distill_weight}, "
            f"temperature {cfg.temperature}")
    if teachers.pseudo:
        probs = teacher_test_probs(run, teachers.pseudo, say)
        arrays["pseudo_index"], arrays["pseudo"] = pseudo_targets(probs, cfg)
        arrays["pseudo_weight"] = np.float32(cfg.pseudo_weight)
        oof = teacher_oof(teachers.pseudo, len(labels))
        right = (oof.argmax(1) == labels)[select_confident(oof, cfg.pseudo_threshold, cfg.pseudo_top_share)]
        say(f"pseudo-labels: {len(arrays['pseudo_index'])} of {len(probs)} test images from "
            f"{_names(teachers.pseudo)} (top probability >= {cfg.pseudo_threshold}, the top "
            f"{cfg.pseudo_top_share:.0%} of each class; {cfg.pseudo_targets} targets, weight {cfg.pseudo_weight}); "
            f"the same rule keeps training rows the teachers got right {right.mean():.1%} of the time (OOF)")
    save_targets(run, arrays)


def teacher_test_probs(run: Run, runs: list[Run], say) -> np.ndarray:
    """The mean of the teachers' fold-ensemble test probabilities, each at its recipe's TTA level."""
    from comp.data.images import test_key
    from comp.data.layouts import read_dataset
    from comp.predict.probs import ensemble_test_probs

    competition = run.competition
    full = read_dataset(competition)  # all the test images, also for a --subset student
    if not len(full.test):
        raise CompError(f"{competition.name} has no test images to pseudo-label")
    images = {}

    def test_images():
        if "x" not in images:
            images["x"] = load_test_images(run)
        return images["x"]

    probs = [ensemble_test_probs([r], r.recipe.predict.tta, True, [1.0], len(full.test), test_images,
                                 test_key(competition, full), say, r.recipe.predict.tta_share)[0] for r in runs]
    return np.mean(probs, axis=0)


def test_images_for(run: Run):
    """The competition's test images (the memory-mapped cache) where the run has pseudo-labels, else None."""
    return load_test_images(run) if run.teacher is not None and run.teacher.pseudo_label else None


def load_test_images(run: Run):
    """All the competition's test images, from the decode cache (no training images decoded)."""
    from comp.data.images import load_test_images as load
    from comp.data.layouts import read_dataset

    return load(run.competition, read_dataset(run.competition))


def _names(runs: list[Run]) -> str:
    return ", ".join(f"'{r.id}'" for r in runs)
