"""Learning-rate schedules and optimizers.

:class:`WarmupDecay`: linear warm-up, then constant, cosine or linear decay, per step.
:class:`OffsetScaledSGD`: SGD (Nesterov) whose batch-norm offsets learn faster.
:class:`ConvMuon`: that SGD, with Muon (orthogonalised momentum) for the convolution kernels.
:func:`make_optimizer`: the recipe's optimizer, decoupled weight decay off norms and biases.
"""

from __future__ import annotations

import math

from comp.config.recipe import TrainCfg
from comp.tf_quiet import keras, tf


@keras.saving.register_keras_serializable(package="comp")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak``, then constant, linear or cosine decay, per step.

    Keras' ``CosineDecay`` has a warm-up but no linear decay, and one class for the three
    shapes keeps them comparable (the recipes README measures them against each other).
    """

    def __init__(self, peak, total_steps, warmup_steps, start_fraction=0.1, final_fraction=0.0, kind="linear"):
        # total_steps: a number, or a tf.Variable a time budget re-plans (comp.train.time_budget_fit)
        planned = isinstance(total_steps, tf.Variable)
        self.peak, self.warmup_steps = float(peak), int(warmup_steps)
        self.total_steps = total_steps if planned else int(total_steps)
        self.start_fraction, self.final_fraction, self.kind = float(start_fraction), float(final_fraction), kind

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        if isinstance(self.total_steps, tf.Variable):  # a planned total: the warm-up takes half of it at most
            total = tf.cast(self.total_steps, tf.float32)
            warmup = tf.minimum(float(self.warmup_steps), tf.floor(total / 2.0))
            return self._lr(step, warmup, tf.maximum(warmup, 1.0), tf.maximum(total - warmup, 1.0))
        return self._lr(step, self.warmup_steps, max(self.warmup_steps, 1), max(self.total_steps - self.warmup_steps, 1))

    def _lr(self, step, warmup, warm, span):
        peak = self.peak
        warm_lr = peak * (self.start_fraction + (1.0 - self.start_fraction) * step / warm)
        progress = tf.clip_by_value((step - warmup) / span, 0.0, 1.0)
        final = peak * self.final_fraction
        if self.kind == "constant":
            decay_lr = tf.constant(peak)
        elif self.kind == "cosine":
            decay_lr = final + (peak - final) * 0.5 * (1.0 + tf.cos(math.pi * progress))
        else:  # "linear" (saved models from before the rename say "onecycle")
            decay_lr = peak + (final - peak) * progress
        return tf.where(step < warmup, warm_lr, decay_lr)

    def get_config(self):
        total = self.total_steps
        total = int(total.numpy()) if isinstance(total, tf.Variable) else total
        return {"peak": self.peak, "total_steps": total, "warmup_steps": self.warmup_steps,
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


@keras.saving.register_keras_serializable(package="comp")
class ConvMuon(OffsetScaledSGD):
    """Muon for the 2-D convolution kernels, :class:`OffsetScaledSGD` for every other variable.

    After airbench94_muon (Jordan 2024), which reaches airbench94's accuracy in 8 epochs instead
    of 9.9. A kernel's update is its Nesterov momentum (``muon_momentum``), reshaped to a
    ``(kh*kw*cin, cout)`` matrix and orthogonalised by Newton-Schulz iterations; the kernel is
    first rescaled to norm ``sqrt(cout)`` (it feeds a batch norm, so its scale carries nothing and
    weight decay is not needed), then moves by ``learning_rate * muon_lr_scale`` times the update.

    ``keras.optimizers.Muon`` (Keras 3.15) orthogonalises 2-D variables only and sends
    convolution kernels, the ones that matter here, to AdamW; its Newton-Schulz iteration is
    reused as it is (``zeropower_via_newtonschulz5``).
    """

    zeropower_via_newtonschulz5 = keras.optimizers.Muon.zeropower_via_newtonschulz5
    transpose_last_axis = keras.optimizers.Muon.transpose_last_axis
    muon_a, muon_b, muon_c = 3.4445, -4.7750, 2.0315  # Keras' and airbench's quintic coefficients

    def __init__(self, muon_lr_scale: float = 1.0, muon_momentum: float = 0.6, ns_steps: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.muon_lr_scale, self.muon_momentum, self.ns_steps = float(muon_lr_scale), float(muon_momentum), int(ns_steps)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._muon_flags = [len(v.shape) == 4 for v in variables]
        self._muon_momentums = [self.add_variable_from_reference(v, "muon_momentum") if flag else None
                                for v, flag in zip(variables, self._muon_flags)]

    def update_step(self, gradient, variable, learning_rate):
        if not self._muon_flags[self._get_variable_index(variable)]:
            return super().update_step(gradient, variable, learning_rate)
        m = self._muon_momentums[self._get_variable_index(variable)]
        gradient = keras.ops.cast(gradient, variable.dtype)
        self.assign(m, m * self.muon_momentum + gradient)
        step = gradient + self.muon_momentum * m if self.nesterov else m
        cout = variable.shape[-1]
        update = self.zeropower_via_newtonschulz5(keras.ops.reshape(step, (-1, cout)), self.ns_steps)
        norm = keras.ops.sqrt(keras.ops.sum(keras.ops.square(variable)))
        self.assign(variable, variable * (cout ** 0.5 / (norm + 1e-12)))
        lr = keras.ops.cast(learning_rate, variable.dtype) * self.muon_lr_scale
        self.assign_sub(variable, lr * keras.ops.reshape(update, variable.shape))

    def get_config(self):
        return {**super().get_config(), "muon_lr_scale": self.muon_lr_scale,
                "muon_momentum": self.muon_momentum, "ns_steps": self.ns_steps}


def is_norm_offset(variable) -> bool:
    """Whether a variable is a batch-norm offset (``.../<name>_bn/beta`` or any ``beta``)."""
    return getattr(variable, "path", variable.name).rsplit("/", 1)[-1].split(":")[0] == "beta"


def make_optimizer(cfg: TrainCfg, steps_per_epoch: int, total_steps=None):
    """The recipe's optimizer for ``steps_per_epoch`` batches an epoch.

    ``total_steps``: a tf.Variable holding the schedule's total updates, which a time budget
    re-plans (None: ``train.epochs`` of them).

    ``train.accumulate = N``: Keras' ``gradient_accumulation_steps`` applies the mean gradient
    of N batches once, but evaluates the schedule at the batch count (the weights move with the
    schedule's value at batches N-1, 2N-1, ...), so the schedule is sized in batches: sized in
    updates, it reached its end after 1/N of the training.
    """
    updates = steps_per_epoch  # the schedule's steps an epoch: batches, whatever train.accumulate
    # plateau: a plain learning rate that keras.callbacks.ReduceLROnPlateau lowers (it cannot set a schedule's)
    schedule = cfg.lr if cfg.schedule == "plateau" else WarmupDecay(
        cfg.lr, cfg.epochs * updates if total_steps is None else total_steps, round(cfg.warmup_epochs * updates),
        cfg.start_fraction, cfg.final_fraction,
        cfg.schedule)
    common = dict(learning_rate=schedule, weight_decay=cfg.weight_decay or None,
                  use_ema=cfg.ema, ema_momentum=cfg.ema_momentum,
                  gradient_accumulation_steps=cfg.accumulate if cfg.accumulate > 1 else None)
    if cfg.optimizer == "sgd":
        opt = OffsetScaledSGD(cfg.offset_lr_scale, momentum=cfg.momentum, nesterov=cfg.nesterov, **common)
    elif cfg.optimizer == "muon":  # the kernels' peak lr is train.muon_lr; the schedule's shape is shared
        opt = ConvMuon(cfg.muon_lr / cfg.lr, cfg.muon_momentum, cfg.muon_ns_steps, offset_lr_scale=cfg.offset_lr_scale,
                       momentum=cfg.momentum, nesterov=cfg.nesterov, **common)
    else:  # AdamW takes a float (0.0: no decay), where SGD takes None
        opt = keras.optimizers.AdamW(**{**common, "weight_decay": float(cfg.weight_decay)})
    if cfg.weight_decay:
        # Keras' decoupled decay hits every variable; batch-norm scales/offsets and biases
        # should not shrink towards zero.
        opt.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return opt


