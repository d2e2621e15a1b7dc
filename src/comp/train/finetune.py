"""Two-phase fine-tuning of a model with a pretrained ``backbone`` layer (model ``transfer``).

Phase 1 trains the new head on a frozen backbone, so its random gradients never reach the
pretrained weights; phase 2 fine-tunes the top of the backbone gently, batch norm frozen.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from comp.config.recipe import TrainCfg
from comp.tf_quiet import keras
from comp.train.callbacks import AtomicBackupAndRestore


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
    """Two-phase training of a model with a ``backbone`` layer (keys in :class:`~comp.config.recipe.TrainCfg`).

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
        fit(initial_epoch, freeze)
    if freeze >= cfg.epochs:
        return
    trainable, weighted = unfreeze_top(backbone, cfg.unfreeze_fraction)
    phase = dataclasses.replace(cfg, epochs=cfg.epochs - freeze, lr=cfg.lr * cfg.finetune_lr_factor)
    compile_phase(phase)
    log(f"phase 2: epochs {freeze + 1}-{cfg.epochs} fine-tune {trainable} of the backbone's {weighted} layers "
        f"with weights (the top {cfg.unfreeze_fraction:.0%}, batch norm frozen), peak lr {phase.lr:g}")
    if 0 < freeze and initial_epoch <= freeze:
        switch_backup(model, backup_dir, freeze, load=initial_epoch == freeze)
    fit(max(initial_epoch, freeze), cfg.epochs)


def switch_backup(model, backup_dir: Path, epoch: int, load: bool) -> None:
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
