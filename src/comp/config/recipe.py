"""Training recipes: typed dataclasses loaded from TOML, with ``--set`` overrides.

Precedence is dataclass defaults < recipe TOML < the competition's ``[recipe]`` keys <
``--set key=value`` overrides (:mod:`comp.config.overrides`). Each field declares what it may
hold, choices or a range (:mod:`comp.config.fields`); unknown keys, wrong types and values
outside them raise :class:`~comp.errors.CompError` naming the file and key, as they are built.

Example::

    recipe = load_recipe("vgg-mixup", ["train.epochs=1"], competition)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from comp.config.fields import Integral, Interval, Pair, Real, choice_field, setting
from comp.config.overrides import deep_merge, merge_overrides, parse_override  # noqa: F401 (importable from here)
from comp.config.spec import MAX_PIXELS, Competition, available, build_dataclass, read_toml, resolve
from comp.errors import CompError
from comp.predict.tta import TTA_LEVELS

# The ranges keys share. Every number has one (tests/test_fields.py walks them): NaN and
# infinities never pass, and each count has an upper bound that only a typo reaches.
POSITIVE = Interval(Real, 0, None, closed="neither")
NON_NEGATIVE = Interval(Real, 0, None)
UNIT = Interval(Real, 0, 1)  # [0, 1]
UNIT_OPEN_TOP = Interval(Real, 0, 1, closed="left")  # [0, 1)
UNIT_OPEN_BOTTOM = Interval(Real, 0, 1, closed="right")  # (0, 1]
MAX_EPOCHS = 100_000
EPOCHS = Interval(Integral, 0, MAX_EPOCHS)
BATCH = Interval(Integral, 1, 1_000_000)
PIXELS = Interval(Integral, 0, MAX_PIXELS)
UNIT_PAIR = Pair(("min", "max"), UNIT_OPEN_BOTTOM, ordered=True)  # [min, max] with 0 < min <= max <= 1


@dataclass
class AugmentCfg:
    preset: str = "heavy"  # albumentations preset: none | light | heavy (see comp.augment.transform)
    flip: bool = False  # in-graph per-sample horizontal flip
    alternate_flip: bool = False  # with flip: each image flipped one way in even epochs, the other in odd
    translate: int = setting(0, PIXELS)  # in-graph per-sample random translation, in pixels
    translate_fill: str = choice_field("zeros", ("zeros", "reflect"))  # what the translation shifts in
    cutout: int = setting(0, PIXELS)  # in-graph per-sample cutout square, side in pixels (0 = off)
    mixup_alpha: float = setting(0.0, NON_NEGATIVE)  # mixup Beta(alpha, alpha); 0 = off
    cutmix_alpha: float = setting(0.0, NON_NEGATIVE)  # cutmix Beta(alpha, alpha); 0 = off
    mix_prob: float = setting(1.0, UNIT)  # probability that a batch is mixed at all
    switch_prob: float = setting(0.5, UNIT)  # with both on: probability of cutmix rather than mixup for a batch
    mix_off_epochs: int = setting(0, EPOCHS)  # no mixing in the last N epochs (train on clean images to finish)
    # for large images (comp.augment.ops), in the graph, all off by default:
    crop_scale: list[float] = setting([1.0, 1.0], UNIT_PAIR)  # random resized crop: area fraction range; [1, 1] = off
    # its aspect (width / height) range, log-uniform
    crop_ratio: list[float] = setting([0.75, 4 / 3], Pair(("min", "max"), POSITIVE, ordered=True))
    # rotation uniform in [-rotate, rotate] degrees, mirrored border; 0 = off
    rotate: float = setting(0.0, Interval(Real, 0, 180))
    scale: float = setting(0.0, UNIT_OPEN_TOP)  # zoom uniform in [1 - scale, 1 + scale], with the rotation; 0 = off
    color_jitter: float = setting(0.0, UNIT)  # brightness, contrast, saturation factors in [1 - s, 1 + s]; 0 = off
    erase_prob: float = setting(0.0, UNIT)  # random erasing: probability per image; 0 = off
    erase_scale: list[float] = setting([0.02, 0.25], UNIT_PAIR)  # erased box's area fraction range
    erase_fill: str = choice_field("noise", ("noise", "zeros"))  # what the erased box holds: 0-255 noise or black
    # an augmentation policy in the graph (comp.augment.policies): trivial (TrivialAugment Wide: one op
    # per image at a random magnitude) or randaugment (policy_ops ops at policy_magnitude); none = off
    policy: str = choice_field("none", ("none", "trivial", "randaugment"))
    policy_ops: int = setting(2, Interval(Integral, 1, 10))  # randaugment: ops per image
    policy_magnitude: float = setting(0.5, UNIT)  # randaugment: every op's magnitude, 0 to 1


@dataclass
class TrainCfg:
    epochs: int = setting(30, Interval(Integral, 1, MAX_EPOCHS))
    batch_size: int = setting(128, BATCH)
    optimizer: str = choice_field("sgd", ("sgd", "adamw", "muon"))  # muon: Muon for conv kernels, sgd for the rest
    # muon: the kernels' peak learning rate (a relative step: they are kept at a fixed norm)
    muon_lr: float = setting(0.24, POSITIVE)
    muon_momentum: float = setting(0.6, UNIT_OPEN_TOP)  # muon: the kernels' Nesterov momentum
    # muon: Newton-Schulz iterations that orthogonalise each update
    muon_ns_steps: int = setting(3, Interval(Integral, 1, 100))
    lr: float = setting(0.1, POSITIVE)  # peak learning rate
    momentum: float = setting(0.9, UNIT_OPEN_TOP)
    nesterov: bool = True
    # sgd: learning-rate multiplier for batch-norm offsets (airbench's 64)
    offset_lr_scale: float = setting(1.0, NON_NEGATIVE)
    weight_decay: float = setting(5e-4, NON_NEGATIVE)  # decoupled; biases and batch-norm parameters are excluded
    # after the warm-up: constant, cosine or linear decay; plateau: Keras' ReduceLROnPlateau on the monitor
    # (lr from the first step, times plateau_factor after plateau_patience epochs without improvement)
    schedule: str = choice_field("linear", ("constant", "cosine", "linear", "plateau"))
    # plateau: the lr multiplier when the monitor stops improving
    plateau_factor: float = setting(0.5, Interval(Real, 0, 1, closed="neither"))
    plateau_patience: int = setting(2, EPOCHS)  # plateau: epochs without improvement before the lr drops
    # linear warm-up from lr * start_fraction to lr
    warmup_epochs: float = setting(1.0, Interval(Real, 0, MAX_EPOCHS))
    start_fraction: float = setting(0.1, UNIT)  # learning rate at step 0, as a fraction of lr
    final_fraction: float = setting(0.0, UNIT)  # learning rate at the last step, as a fraction of lr
    label_smoothing: float = setting(0.1, UNIT_OPEN_TOP)
    ema: bool = False  # evaluate and keep an exponential moving average of the weights
    ema_momentum: float = setting(0.99, UNIT_OPEN_TOP)
    lookahead: bool = False  # every 5 steps pull the weights towards a slow average (airbench); the last step keeps the average
    seed: int = setting(42, Interval(Integral, 0, 2**32 - 1))  # NumPy's seeds are 0 to 2**32 - 1
    precision: str = choice_field("auto", ("auto", "float32", "mixed_float16", "mixed_bfloat16"))
    # auto: mixed_float16 on GPUs with tensor cores, mixed_bfloat16 on CPUs with AMX, else float32
    jit_compile: str = choice_field("auto", ("auto", "on", "off"))  # XLA; auto: on for GPUs
    # batches per graph call; 8-32 helps small nets on GPUs
    steps_per_execution: int = setting(1, Interval(Integral, 1, 10_000))
    # where training and prediction read images: memory (the fold's rows copied into one tensor),
    # stream (batches gathered from the memory-mapped decode cache: bounded memory at any data size),
    # auto: memory when the fold's images fit train.memory_budget_gb, else stream
    pipeline: str = choice_field("auto", ("auto", "memory", "stream"))
    # auto: the largest fold (train + validation + test images) held in memory
    memory_budget_gb: float = setting(1.5, NON_NEGATIVE)
    # gradient accumulation: apply the summed gradients of N batches at once (small GPUs)
    accumulate: int = setting(1, Interval(Integral, 1, 10_000))
    strategy: str = choice_field("none", ("none", "mirrored"))  # mirrored: one fold over all local GPUs
    # the epoch whose weights a fold keeps; auto: the competition's metric on the validation rows
    monitor: str = choice_field("auto", ("auto", "val_accuracy", "val_macro_f1", "val_log_loss", "val_loss"))
    # Two-phase fine-tuning, for models with a pretrained "backbone" layer (model `transfer` with
    # model.weights imagenet or a file); other models, and backbones with weights = "none" (which
    # train as a whole from the first epoch), ignore these keys. Phase 1 trains the new head on a
    # frozen backbone, so its random gradients never reach the pretrained weights; phase 2
    # fine-tunes the top of the backbone gently. Batch norm stays frozen throughout (small
    # batches would spoil the pretrained statistics).
    freeze_epochs: int = setting(2, EPOCHS)  # phase 1: the first N of train.epochs, backbone frozen, at train.lr
    # phase 2: share of the backbone's layers with weights, from the top, that train
    unfreeze_fraction: float = setting(0.3, UNIT)
    # phase 2: peak learning rate = train.lr * this, same schedule shape
    finetune_lr_factor: float = setting(0.1, POSITIVE)
    tensorboard: bool = False  # TensorBoard event files per fold in fold-<k>/tensorboard (scalars per epoch)
    # imbalanced classes: weights (balanced class weights as per-sample loss weights) or sampling
    # (each epoch draws its rows with probability 1 / their class's count); see comp.train.balance
    class_balance: str = choice_field("none", ("none", "weights", "sampling"))


@dataclass
class PredictCfg:
    tta: str = choice_field("flip", TTA_LEVELS)  # see comp.predict.tta
    batch_size: int = setting(512, BATCH)
    # every TTA view sees the centre crop of this fraction of each side, resized back; 1 = the image
    crop: float = setting(1.0, UNIT_OPEN_BOTTOM)
    # selective TTA: the level's extra views only for this share of the images the plain view is
    # least sure of (the rest keep its probabilities); 1 = every image gets every view, 0 = none
    tta_share: float = setting(1.0, UNIT)


@dataclass
class TeacherCfg:
    """How a run learns from teacher runs (``comp train --distill RUN`` / ``--pseudo-label RUN``)."""

    # the teacher's probabilities softened as p^(1/T), renormalised (its logits / T)
    temperature: float = setting(1.0, POSITIVE)
    # distillation: a training row's target = (1 - w) x its label + w x the teacher's
    distill_weight: float = setting(0.5, UNIT)
    # pseudo-labels: test images whose top teacher probability is at least this
    pseudo_threshold: float = setting(0.0, UNIT_OPEN_TOP)
    # and, of those, the most confident share of each predicted class
    pseudo_top_share: float = setting(0.5, UNIT_OPEN_BOTTOM)
    pseudo_targets: str = choice_field("soft", ("soft", "hard"))  # the teacher's probabilities, or its class
    # the loss weight of a pseudo-labelled image (a training image's is 1)
    pseudo_weight: float = setting(1.0, POSITIVE)


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
    return recipe


def _keys_for_model(keys: dict, table: dict, overrides) -> dict:
    """A competition's [recipe] keys, less the ``model.*`` keys the recipe's model has no option
    for: ``model.widths`` sizes the VGG-style nets of a small data set, and is no key of a ResNet."""
    model_keys = keys.get("model")
    if not isinstance(model_keys, dict) or not model_keys:
        return keys
    name = merge_overrides(deep_merge(table, keys), list(overrides)).get("model", {}).get("name")
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
        table = deep_merge(table, _keys_for_model(competition.recipe, table, overrides))
    table = merge_overrides(table, list(overrides))
    parts = [" with the competition's [recipe] keys"] if competition is not None and competition.recipe else []
    parts += [" with --set overrides"] if overrides else []
    where = str(path) + "".join(parts)
    recipe = recipe_from_dict(table, where)
    if not recipe.name:
        recipe.name = path.stem
    return recipe
