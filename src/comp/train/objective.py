"""What a fold's model is fitted to and judged by, for its target kind (:mod:`comp.targets.kinds`).

- the loss: cross-entropy of the softmax (one class per row, with label smoothing), or binary
  cross-entropy of each sigmoid column (several labels, or a regression's scaled number);
- the metrics logged per epoch: Keras' own where one computes the competition's metric on the
  softmax (accuracy, macro F1, log loss); any other metric (AUC, QWK, MAP@5, RMSE, micro F1 of
  several labels...) is scored by :class:`ValidationScore` with :func:`comp.metrics.score`, the
  same function that scores the folds and the run, on the validation rows' predictions;
- the epoch log key the best checkpoint follows (``val_<metric>`` unless ``train.monitor`` says).

Example::

    loss = make_loss("multi-label", 0.1)
    callback = ValidationScore("roc_auc", x_val, y_val, "binary", None, batch_size=512)
"""

from __future__ import annotations

import numpy as np

from comp import metrics
from comp.targets import kinds
from comp.tf_quiet import keras

KERAS_METRICS = ("accuracy", "macro_f1", "log_loss")  # computed by Keras metrics on a softmax


def make_loss(kind: str, label_smoothing: float):
    """The training loss of a kind's head, on logits."""
    if kinds.is_softmax(kind):
        return keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=label_smoothing)
    return keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=label_smoothing)


def keras_metrics(names: set[str], kind: str = "class") -> list:
    """Keras metrics logged per epoch under these names (``accuracy``, ``macro_f1``, ``log_loss``);
    none for a sigmoid head (:class:`ValidationScore` logs its metric).

    ``log_loss`` is the plain cross-entropy of the softmax, without the label smoothing that
    the training loss (``loss``) carries.
    """
    if not kinds.is_softmax(kind):
        return []
    made = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    if "macro_f1" in names:  # threshold None: the arg-max class counts as predicted
        made.append(keras.metrics.F1Score(average="macro", threshold=None, name="macro_f1"))
    if "log_loss" in names:
        made.append(keras.metrics.CategoricalCrossentropy(from_logits=True, name="log_loss"))
    return made


def needs_validation_score(metric: str, kind: str) -> bool:
    """Whether the epoch's ``val_<metric>`` needs :class:`ValidationScore` (no Keras metric gives it)."""
    return metric not in KERAS_METRICS or not kinds.is_softmax(kind)


class ValidationScore(keras.callbacks.Callback):
    """Logs ``val_<metric>`` at the end of each epoch: the competition's metric on the validation
    rows' predictions (one pass over them, plain view), as :func:`comp.metrics.score` scores a fold.

    Put it before the callbacks that read the log (the checkpoint, the CSV logger, the plateau
    schedule) and after the one that swaps EMA weights in, so it judges the weights they save.
    """

    def __init__(self, metric: str, x_val, y_val: np.ndarray, kind: str, scale, batch_size: int,
                 crop: float = 1.0):
        super().__init__()
        self.metric, self.x_val, self.kind, self.scale = metric, x_val, kind, scale
        self.batch_size, self.crop = batch_size, crop
        self.truth = kinds.decode_regression(y_val, scale) if kind == "regression" else y_val

    def on_epoch_end(self, epoch, logs=None):
        from comp.predict.probs import predict_proba

        probs = predict_proba(self.model, self.x_val, "none", self.batch_size, self.crop,
                              activation=kinds.head(self.kind))
        preds = kinds.metric_inputs(self.kind, probs, self.scale)
        if logs is not None:
            logs[f"val_{self.metric}"] = float(metrics.score(self.metric, self.truth, preds))


def fold_truth(kind: str, y: np.ndarray, scale) -> np.ndarray:
    """A fold's targets as a metric scores them (a regression's scaled column back in its units)."""
    return kinds.decode_regression(y, scale) if kind == "regression" else y
