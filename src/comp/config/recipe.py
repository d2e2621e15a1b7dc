"""Training recipes: typed dataclasses loaded from TOML, with ``--set`` overrides.

Precedence is dataclass defaults < recipe TOML < the competition's ``[recipe]`` keys <
``--set key=value`` overrides. Unknown keys, wrong types and values outside a field's choices
raise :class:`~comp.errors.CompError` naming the file and key (see :mod:`comp.config.spec`).

Example::

    recipe = load_recipe("vgg-mixup", ["train.epochs=1"], competition)
"""

from __future__ import annotations

import copy
import tomllib
import warnings
from dataclasses import dataclass, field
from typing import Any

from comp.errors import CompError
from comp.config.recipe_parts import PredictCfg, TeacherCfg
from comp.config.spec import Competition, choice_field, available, build_dataclass, read_toml, resolve


@dataclass
class AugmentCfg:
    preset: str = "heavy"  # albumentations preset: none | light | heavy (see comp.augment.transform)
    flip: bool = False  # in-graph per-sample horizontal flip
    alternate_flip: bool = False  # with flip: each image flipped one way in even epochs, the other in odd
    translate: int = 0  # in-graph per-sample random translation, in pixels
    translate_fill: str = choice_field("zeros", ("zeros", "reflect"))  # what the translation shifts in
    cutout: int = 0  # in-graph per-sample cutout square, side in pixels (0 = off)
    mixup_alpha: float = 0.0  # mixup Beta(alpha, alpha); 0 = off
    cutmix_alpha: float = 0.0  # cutmix Beta(alpha, alpha); 0 = off
    mix_prob: float = 1.0  # probability that a batch is mixed at all
    switch_prob: float = 0.5  # with both on: probability of cutmix rather than mixup for a batch
    mix_off_epochs: int = 0  # no mixing in the last N epochs (train on clean images to finish)
    # for large images (comp.augment.ops), in the graph, all off by default:
    crop_scale: list[float] = field(default_factory=lambda: [1.0, 1.0])  # random resized crop: area fraction range; [1, 1] = off
    crop_ratio: list[float] = field(default_factory=lambda: [0.75, 4 / 3])  # its aspect (width / height) range, log-uniform
    rotate: float = 0.0  # rotation uniform in [-rotate, rotate] degrees, mirrored border; 0 = off
    scale: float = 0.0  # zoom uniform in [1 - scale, 1 + scale], with the rotation; 0 = off
    color_jitter: float = 0.0  # brightness, contrast, saturation factors in [1 - s, 1 + s]; 0 = off
    erase_prob: float = 0.0  # random erasing: probability per image; 0 = off
    erase_scale: list[float] = field(default_factory=lambda: [0.02, 0.25])  # erased box's area fraction range
    erase_fill: str = choice_field("noise", ("noise", "zeros"))  # what the erased box holds: 0-255 noise or black

    def checks(self) -> list[tuple]:
        """(key, value, ok, what is allowed) of the keys with a range (see recipe_from_dict)."""
        def pair(v, top=float("inf")):
            return len(v) == 2 and 0 < v[0] <= v[1] <= top
        unit_pair = "[min, max] with 0 < min <= max <= 1"
        return [
            ("augment.crop_scale", self.crop_scale, pair(self.crop_scale, 1.0), unit_pair),
            ("augment.crop_ratio", self.crop_ratio, pair(self.crop_ratio), "[min, max] with 0 < min <= max"),
            ("augment.rotate", self.rotate, 0 <= self.rotate <= 180, "in [0, 180]"),
            ("augment.scale", self.scale, 0 <= self.scale < 1, "in [0, 1)"),
            ("augment.color_jitter", self.color_jitter, 0 <= self.color_jitter <= 1, "in [0, 1]"),
            ("augment.erase_prob", self.erase_prob, 0 <= self.erase_prob <= 1, "in [0, 1]"),
            ("augment.erase_scale", self.erase_scale, pair(self.erase_scale, 1.0), unit_pair),
        ]


@dataclass
class TrainCfg:
    epochs: int = 30
    batch_size: int = 128
    optimizer: str = choice_field("sgd", ("sgd", "adamw", "muon"))  # muon: Muon for conv kernels, sgd for the rest
    muon_lr: float = 0.24  # muon: the kernels' peak learning rate (a relative step: they are kept at a fixed norm)
    muon_momentum: float = 0.6  # muon: the kernels' Nesterov momentum
    muon_ns_steps: int = 3  # muon: Newton-Schulz iterations that orthogonalise each update
    lr: float = 0.1  # peak learning rate
    momentum: float = 0.9
    nesterov: bool = True
    offset_lr_scale: float = 1.0  # sgd: learning-rate multiplier for batch-norm offsets (airbench's 64)
    weight_decay: float = 5e-4  # decoupled; biases and batch-norm parameters are excluded
    # after the warm-up: constant, cosine or linear decay; plateau: Keras' ReduceLROnPlateau on the monitor
    # (lr from the first step, times plateau_factor after plateau_patience epochs without improvement)
    schedule: str = choice_field("linear", ("constant", "cosine", "linear", "plateau"))
    plateau_factor: float = 0.5  # plateau: the lr multiplier when the monitor stops improving
    plateau_patience: int = 2  # plateau: epochs without improvement before the lr drops
    warmup_epochs: float = 1.0  # linear warm-up from lr * start_fraction to lr
    start_fraction: float = 0.1  # learning rate at step 0, as a fraction of lr
    final_fraction: float = 0.0  # learning rate at the last step, as a fraction of lr
    label_smoothing: float = 0.1
    ema: bool = False  # evaluate and keep an exponential moving average of the weights
    ema_momentum: float = 0.99
    lookahead: bool = False  # every 5 steps pull the weights towards a slow average (airbench); the last step keeps the average
    seed: int = 42
    precision: str = choice_field("auto", ("auto", "float32", "mixed_float16", "mixed_bfloat16"))
    # auto: mixed_float16 on GPUs with tensor cores, mixed_bfloat16 on CPUs with AMX, else float32
    jit_compile: str = choice_field("auto", ("auto", "on", "off"))  # XLA; auto: on for GPUs
    steps_per_execution: int = 1  # batches per graph call; 8-32 helps small nets on GPUs
    # where training and prediction read images: memory (the fold's rows copied into one tensor),
    # stream (batches gathered from the memory-mapped decode cache: bounded memory at any data size),
    # auto: memory when the fold's images fit train.memory_budget_gb, else stream
    pipeline: str = choice_field("auto", ("auto", "memory", "stream"))
    memory_budget_gb: float = 1.5  # auto: the largest fold (train + validation + test images) held in memory
    accumulate: int = 1  # gradient accumulation: apply the summed gradients of N batches at once (small GPUs)
    strategy: str = choice_field("none", ("none", "mirrored"))  # mirrored: one fold over all local GPUs
    # the epoch whose weights a fold keeps; auto: the competition's metric on the validation rows
    monitor: str = choice_field("auto", ("auto", "val_accuracy", "val_macro_f1", "val_log_loss", "val_loss"))
    # Two-phase fine-tuning, for models with a pretrained "backbone" layer (model `transfer` with
    # model.weights imagenet or a file); other models, and backbones with weights = "none" (which
    # train as a whole from the first epoch), ignore these keys. Phase 1 trains the new head on a
    # frozen backbone, so its random gradients never reach the pretrained weights; phase 2
    # fine-tunes the top of the backbone gently. Batch norm stays frozen throughout (small
    # batches would spoil the pretrained statistics).
    freeze_epochs: int = 2  # phase 1: the first N of train.epochs, backbone frozen, at train.lr
    unfreeze_fraction: float = 0.3  # phase 2: share of the backbone's layers with weights, from the top, that train
    finetune_lr_factor: float = 0.1  # phase 2: peak learning rate = train.lr * this, same schedule shape
    tensorboard: bool = False  # TensorBoard event files per fold in fold-<k>/tensorboard (scalars per epoch)
    # imbalanced classes: weights (balanced class weights as per-sample loss weights) or sampling
    # (each epoch draws its rows with probability 1 / their class's count); see comp.train.balance
    class_balance: str = choice_field("none", ("none", "weights", "sampling"))


@dataclass
class Recipe:
    name: str = ""
    description: str = ""
    model: dict = field(default_factory=lambda: {"name": "vgg"})  # name + the builder's keyword options
    augment: AugmentCfg = field(default_factory=AugmentCfg)
    train: TrainCfg = field(default_factory=TrainCfg)
    predict: PredictCfg = field(default_factory=PredictCfg)
    teacher: TeacherCfg = field(default_factory=TeacherCfg)

    @property
    def model_name(self) -> str:
        return self.model["name"]

    @property
    def model_options(self) -> dict:
        return {k: v for k, v in self.model.items() if k != "name"}


# --------------------------------------------------------------------------- --set overrides


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``key.sub=value``; the value is read as TOML, else taken as a bare string.

    >>> parse_override("train.epochs=3")
    (['train', 'epochs'], 3)
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise CompError(f"--set {text!r}: expected key=value, for example --set train.epochs=30")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if raw[:1] in "[{\"'":
            raise CompError(f"--set {text!r}: the value {raw!r} does not parse as TOML") from None
        value = raw  # a bare word: model.name=resnet
    return key.split("."), value


def merge_overrides(table: dict, overrides: list[str]) -> dict:
    """A deep copy of ``table`` with each ``key=value`` override set in it."""
    table = copy.deepcopy(table)
    for text in overrides:
        parts, value = parse_override(text)
        node = table
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise CompError(f"--set {text!r}: {part} is not a table")
        node[parts[-1]] = value
    return table


# --------------------------------------------------------------------------- loading


def list_recipes() -> list[str]:
    return available("recipes")



# Values renamed since they were first accepted: old recipes and runs keep working.
RENAMED_VALUES = {("train", "schedule"): {"onecycle": "linear"}}  # "onecycle" was a linear triangle


def _rename_old_values(table: dict, where: str) -> dict:
    for (section, key), names in RENAMED_VALUES.items():
        node = table.get(section)
        if isinstance(node, dict) and isinstance(node.get(key), str) and node[key] in names:
            new = names[node[key]]
            warnings.warn(f"{where}: {section}.{key} = '{node[key]}' is now called '{new}' (read as '{new}')",
                          stacklevel=3)
            table = {**table, section: {**node, key: new}}
    return table


def recipe_from_dict(table: dict, where: str) -> Recipe:
    recipe = build_dataclass(Recipe, _rename_old_values(table, where), where)
    if "name" not in recipe.model or not isinstance(recipe.model["name"], str):
        raise CompError(f"{where}: model.name is required (see `comp models`)")
    checks = [
        ("train.epochs", recipe.train.epochs, recipe.train.epochs >= 1, "at least 1"),
        ("train.batch_size", recipe.train.batch_size, recipe.train.batch_size >= 1, "at least 1"),
        ("train.lr", recipe.train.lr, recipe.train.lr > 0, "positive"),
        ("train.label_smoothing", recipe.train.label_smoothing, 0 <= recipe.train.label_smoothing < 1, "in [0, 1)"),
        ("train.steps_per_execution", recipe.train.steps_per_execution, recipe.train.steps_per_execution >= 1, "at least 1"),
        ("train.accumulate", recipe.train.accumulate, recipe.train.accumulate >= 1, "at least 1"),
        ("train.muon_lr", recipe.train.muon_lr, recipe.train.muon_lr > 0, "positive"),
        ("train.muon_momentum", recipe.train.muon_momentum, 0 <= recipe.train.muon_momentum < 1, "in [0, 1)"),
        ("train.muon_ns_steps", recipe.train.muon_ns_steps, recipe.train.muon_ns_steps >= 1, "at least 1"),
        ("train.plateau_factor", recipe.train.plateau_factor, 0 < recipe.train.plateau_factor < 1, "in (0, 1)"),
        ("train.plateau_patience", recipe.train.plateau_patience, recipe.train.plateau_patience >= 0, "0 or more"),
        ("train.memory_budget_gb", recipe.train.memory_budget_gb, recipe.train.memory_budget_gb >= 0, "0 or more"),
        ("train.freeze_epochs", recipe.train.freeze_epochs, recipe.train.freeze_epochs >= 0, "0 or more"),
        ("train.unfreeze_fraction", recipe.train.unfreeze_fraction, 0 <= recipe.train.unfreeze_fraction <= 1, "in [0, 1]"),
        ("train.finetune_lr_factor", recipe.train.finetune_lr_factor, recipe.train.finetune_lr_factor > 0, "positive"),
        ("augment.mixup_alpha", recipe.augment.mixup_alpha, recipe.augment.mixup_alpha >= 0, "0 or more"),
        ("augment.cutmix_alpha", recipe.augment.cutmix_alpha, recipe.augment.cutmix_alpha >= 0, "0 or more"),
        ("augment.mix_prob", recipe.augment.mix_prob, 0 <= recipe.augment.mix_prob <= 1, "in [0, 1]"),
        ("augment.switch_prob", recipe.augment.switch_prob, 0 <= recipe.augment.switch_prob <= 1, "in [0, 1]"),
        ("augment.translate", recipe.augment.translate, recipe.augment.translate >= 0, "0 or more"),
        ("augment.cutout", recipe.augment.cutout, recipe.augment.cutout >= 0, "0 or more"),
    ] + recipe.augment.checks() + recipe.predict.checks() + recipe.teacher.checks()
    for key, value, ok, allowed in checks:
        if not ok:
            raise CompError(f"{where}: {key} must be {allowed}. Received: {key}={value!r}")
    return recipe


def _deep_merge(base: dict, top: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _keys_for_model(keys: dict, table: dict, overrides) -> dict:
    """A competition's [recipe] keys, less the ``model.*`` keys the recipe's model has no option
    for: ``model.widths`` sizes the VGG-style nets of a small data set, and is no key of a ResNet."""
    model_keys = keys.get("model")
    if not isinstance(model_keys, dict) or not model_keys:
        return keys
    name = merge_overrides(_deep_merge(table, keys), list(overrides)).get("model", {}).get("name")
    if not isinstance(name, str):
        return keys  # recipe_from_dict says what is missing
    from comp.models import list_models, model_info  # registers the builders (imports TensorFlow)

    if name not in list_models():
        return keys  # check_recipe names the unknown model
    options = model_info(name)["options"]
    return {**keys, "model": {k: v for k, v in model_keys.items() if k in options or k == "name"}}


def load_recipe(name_or_path: str, overrides: list[str] | tuple[str, ...] = (),
                competition: Competition | None = None) -> Recipe:
    """Load a recipe, apply the competition's [recipe] keys, then ``--set`` overrides (``key=value``)."""
    path = resolve(name_or_path, "recipe")
    table = read_toml(path)
    if competition is not None and competition.recipe:
        table = _deep_merge(table, _keys_for_model(competition.recipe, table, overrides))
    table = merge_overrides(table, list(overrides))
    parts = [" with the competition's [recipe] keys"] if competition is not None and competition.recipe else []
    parts += [" with --set overrides"] if overrides else []
    where = str(path) + "".join(parts)
    recipe = recipe_from_dict(table, where)
    if not recipe.name:
        recipe.name = path.stem
    return recipe
