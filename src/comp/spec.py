"""Competition specs and training recipes: typed dataclasses loaded from TOML.

Precedence is dataclass defaults < TOML file < ``--set key=value`` overrides. Unknown keys,
wrong types and values outside a field's choices raise :class:`~comp.errors.CompError` with
a message that names the file and key, says what is allowed and shows what was received.

Example::

    comp = load_competition("dacon-cifar10")
    recipe = load_recipe("vgg-mixup", ["train.epochs=1"])
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from comp.errors import CompError

# An editable install (what the Makefile does) runs from the repository, whose competition/
# folder holds the shipped specs and recipes.
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "competition"

LAYOUTS = ("class-folders", "csv-labels", "meta-lists")
METRICS = ("accuracy", "macro_f1", "log_loss")


def _choice(default: Any, choices: tuple, doc: str = "") -> Any:
    return field(default=default, metadata={"choices": choices, "doc": doc})


# --------------------------------------------------------------------------- competition


@dataclass
class DataSpec:
    root: str = ""  # folder of the competition's files, relative to the current directory
    layout: str = _choice("class-folders", LAYOUTS)
    image_size: list[int] = field(default_factory=lambda: [32, 32])  # [height, width] after resizing
    # class-folders: train/<class>/<image>, test/<image>; csv-labels: train/<id>.<ext>, test/<id>.<ext>
    train: str = "train"
    test: str = "test"
    sample_submission: str | None = None  # id,target CSV whose ids and order the submission must match
    labels: str | None = None  # csv-labels: the labels CSV
    label_columns: list[str] = field(default_factory=lambda: ["id", "label"])  # id column, class column
    # meta-lists (Food-101): images/<class>/<name>.<ext> and list files of "<class>/<name>"
    images: str = "images"
    classes: str = "meta/classes.txt"
    train_list: str = "meta/train.txt"
    test_list: str = "meta/test.txt"
    class_names: list[str] | None = None  # explicit class order; default: sorted names found in the data
    answers: str | None = None  # id,target CSV of the test labels, where known (the demo)
    builder: str | None = _choice(None, (None, "sklearn-digits"))  # builds the data on first use


@dataclass
class SubmissionSpec:
    id_column: str = "id"
    target_column: str = "target"
    target_format: str = _choice("name", ("name", "index"))  # class name or class index


@dataclass
class RulesSpec:
    pretrained_weights: bool = False  # may runs that loaded pretrained weights be submitted?
    external_data: bool = False  # may runs that used data outside the competition be submitted?


@dataclass
class Competition:
    name: str = ""
    title: str = ""
    metric: str = _choice("accuracy", METRICS)
    data: DataSpec = field(default_factory=DataSpec)
    submission: SubmissionSpec = field(default_factory=SubmissionSpec)
    rules: RulesSpec = field(default_factory=RulesSpec)
    # Recipe keys this competition sets for every recipe, before --set (e.g. fewer epochs for a
    # tiny data set): [recipe] train.epochs = 12
    recipe: dict = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return Path(self.data.root)

    def path(self, key: str) -> Path | None:
        """The data file or folder named by ``data.<key>``, under the root (None if unset)."""
        value = getattr(self.data, key)
        return None if value is None else self.root / value


# --------------------------------------------------------------------------- recipe


@dataclass
class AugmentCfg:
    preset: str = "heavy"  # albumentations preset: none | light | heavy (see comp.augment)
    flip: bool = False  # in-graph per-sample horizontal flip
    alternate_flip: bool = False  # with flip: each image flipped one way in even epochs, the other in odd
    translate: int = 0  # in-graph per-sample random translation, in pixels
    translate_fill: str = _choice("zeros", ("zeros", "reflect"))  # what the translation shifts in
    cutout: int = 0  # in-graph per-sample cutout square, side in pixels (0 = off)
    mixup_alpha: float = 0.0  # mixup Beta(alpha, alpha); 0 = off
    cutmix_alpha: float = 0.0  # cutmix Beta(alpha, alpha); 0 = off
    mix_prob: float = 1.0  # probability that a batch is mixed at all
    switch_prob: float = 0.5  # with both on: probability of cutmix rather than mixup for a batch
    mix_off_epochs: int = 0  # no mixing in the last N epochs (train on clean images to finish)


@dataclass
class TrainCfg:
    epochs: int = 30
    batch_size: int = 128
    optimizer: str = _choice("sgd", ("sgd", "adamw"))
    lr: float = 0.1  # peak learning rate
    momentum: float = 0.9
    nesterov: bool = True
    offset_lr_scale: float = 1.0  # sgd: learning-rate multiplier for batch-norm offsets (airbench's 64)
    weight_decay: float = 5e-4  # decoupled; biases and batch-norm parameters are excluded
    schedule: str = _choice("onecycle", ("constant", "cosine", "onecycle"))  # onecycle: linear up, linear down
    warmup_epochs: float = 1.0  # linear warm-up from lr * start_fraction to lr
    start_fraction: float = 0.1  # learning rate at step 0, as a fraction of lr
    final_fraction: float = 0.0  # learning rate at the last step, as a fraction of lr
    label_smoothing: float = 0.1
    ema: bool = False  # evaluate and keep an exponential moving average of the weights
    ema_momentum: float = 0.99
    lookahead: bool = False  # every 5 steps pull the weights towards a slow average (airbench); the last step keeps the average
    seed: int = 42
    precision: str = _choice("auto", ("auto", "float32", "mixed_float16", "mixed_bfloat16"))
    # auto: mixed_float16 on GPUs with tensor cores, mixed_bfloat16 on CPUs with AMX, else float32
    jit_compile: str = _choice("auto", ("auto", "on", "off"))  # XLA; auto: on for GPUs
    steps_per_execution: int = 1  # batches per graph call; 8-32 helps small nets on GPUs
    strategy: str = _choice("none", ("none", "mirrored"))  # mirrored: one fold over all local GPUs
    monitor: str = _choice("val_accuracy", ("val_accuracy", "val_loss"))  # best checkpoint by
    # Two-phase fine-tuning, for models with a pretrained "backbone" layer (model `transfer` with
    # model.weights imagenet or a file); other models, and backbones with weights = "none" (which
    # train as a whole from the first epoch), ignore these keys. Phase 1 trains the new head on a
    # frozen backbone, so its random gradients never reach the pretrained weights; phase 2
    # fine-tunes the top of the backbone gently. Batch norm stays frozen throughout (small
    # batches would spoil the pretrained statistics).
    freeze_epochs: int = 2  # phase 1: the first N of train.epochs, backbone frozen, at train.lr
    unfreeze_fraction: float = 0.3  # phase 2: share of the backbone's layers with weights, from the top, that train
    finetune_lr_factor: float = 0.1  # phase 2: peak learning rate = train.lr * this, same schedule shape


@dataclass
class PredictCfg:
    tta: str = "flip"  # none | flip | flip-shift (see comp.predict.TTA_LEVELS)
    batch_size: int = 512


@dataclass
class Recipe:
    name: str = ""
    description: str = ""
    model: dict = field(default_factory=lambda: {"name": "vgg"})  # name + the builder's keyword options
    augment: AugmentCfg = field(default_factory=AugmentCfg)
    train: TrainCfg = field(default_factory=TrainCfg)
    predict: PredictCfg = field(default_factory=PredictCfg)

    @property
    def model_name(self) -> str:
        return self.model["name"]

    @property
    def model_options(self) -> dict:
        return {k: v for k, v in self.model.items() if k != "name"}


# --------------------------------------------------------------------------- building and checking


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        elem = typing.get_args(tp)[0]
        return "a list of " + {str: "strings", int: "integers", float: "numbers", bool: "booleans"}.get(elem, str(elem))
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            dict: "a table", type(None): "absent"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted where floats are."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        for arg in typing.get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(value, arg, key, where)
            except CompError:
                pass
    elif origin is list and isinstance(value, list):
        (elem,) = typing.get_args(tp)
        try:
            return [_coerce(v, elem, key, where) for v in value]
        except CompError:
            pass
    elif tp is bool and isinstance(value, bool):
        return value
    elif tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    elif tp is str and isinstance(value, str):
        return value
    elif tp is dict and isinstance(value, dict):
        return value
    raise CompError(f"{where}: {key} must be {_type_name(tp)}. Received: {key}={value!r}")


def unknown_key_error(where: str, key: str, known: list[str]) -> CompError:
    """A CompError for an unknown key, suggesting the closest known one."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    hint = f" Did you mean '{close[0]}'?" if close else f" Known keys: {', '.join(sorted(known))}."
    return CompError(f"{where}: unknown key '{key}'.{hint}")


def unknown_name_error(what: str, name: str, known: list[str]) -> CompError:
    """A CompError for an unknown recipe, model, preset...: "Did you mean" plus what exists."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return CompError(f"unknown {what} '{name}'.{hint} Available: {', '.join(sorted(known)) or 'none'}")


def _build(cls: type, table: dict, where: str, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in table.items():
        full = prefix + key
        if key not in fields:
            raise unknown_key_error(where, full, [prefix + k for k in fields])
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise CompError(f"{where}: {full} must be a table. Received: {full}={value!r}")
            kwargs[key] = _build(tp, value, where, full + ".")
            continue
        value = _coerce(value, tp, full, where)
        choices = fields[key].metadata.get("choices")
        if choices is not None and value not in choices:
            allowed = ", ".join(repr(c) if c is not None else "absent" for c in choices)
            raise CompError(f"{where}: {full} must be one of {allowed}. Received: {full}={value!r}")
        kwargs[key] = value
    return cls(**kwargs)


def to_dict(obj: Any) -> dict:
    """A dataclass as a plain TOML-ready dict (None values dropped, as TOML has no null)."""

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not None}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return clean(dataclasses.asdict(obj))


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


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise CompError(f"{path}: TOML syntax error: {e}") from None
    except OSError as e:
        raise CompError(f"{path}: cannot read ({e.strerror})") from None


def _available(folder: str) -> list[str]:
    names = set()
    for base in (Path.cwd() / "competition", SHIPPED_DIR):
        d = base / folder if folder else base
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)


def resolve(name_or_path: str, kind: str) -> Path:
    """A spec (kind='competition') or recipe (kind='recipe') file from a name or a path.

    A name resolves to ./competition[/recipes]/NAME.toml first, then to the shipped files.
    """
    folder = "recipes" if kind == "recipe" else ""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or "/" in name_or_path:
        if not candidate.is_file():
            raise CompError(f"{kind} file not found: {candidate}")
        return candidate
    for base in (Path.cwd() / "competition", SHIPPED_DIR):
        path = (base / folder if folder else base) / f"{name_or_path}.toml"
        if path.is_file():
            return path
    raise unknown_name_error(kind, name_or_path, _available(folder))


def list_recipes() -> list[str]:
    return _available("recipes")


def list_competitions() -> list[str]:
    return _available("")


def competition_from_dict(table: dict, where: str) -> Competition:
    comp = _build(Competition, table, where)
    if not comp.name:
        raise CompError(f"{where}: the key 'name' is required")
    if not comp.data.root:
        raise CompError(f"{where}: the key 'data.root' is required")
    size = comp.data.image_size
    if len(size) != 2 or min(size) < 8:
        raise CompError(f"{where}: data.image_size must be [height, width], each at least 8. "
                        f"Received: data.image_size={size!r}")
    if comp.data.layout == "csv-labels" and not comp.data.labels:
        raise CompError(f"{where}: layout 'csv-labels' needs the key 'data.labels' (the labels CSV)")
    if len(comp.data.label_columns) != 2:
        raise CompError(f"{where}: data.label_columns must name two columns [id, label]. "
                        f"Received: data.label_columns={comp.data.label_columns!r}")
    return comp


def load_competition(name_or_path: str, data: str | Path | None = None) -> Competition:
    """Load and check a competition spec; ``data`` overrides ``data.root``."""
    path = resolve(name_or_path, "competition")
    comp = competition_from_dict(_read_toml(path), str(path))
    if data is not None:
        comp.data.root = str(data)
    return comp


def recipe_from_dict(table: dict, where: str) -> Recipe:
    recipe = _build(Recipe, table, where)
    if "name" not in recipe.model or not isinstance(recipe.model["name"], str):
        raise CompError(f"{where}: model.name is required (see `comp models`)")
    checks = [
        ("train.epochs", recipe.train.epochs, recipe.train.epochs >= 1, "at least 1"),
        ("train.batch_size", recipe.train.batch_size, recipe.train.batch_size >= 1, "at least 1"),
        ("train.lr", recipe.train.lr, recipe.train.lr > 0, "positive"),
        ("train.label_smoothing", recipe.train.label_smoothing, 0 <= recipe.train.label_smoothing < 1, "in [0, 1)"),
        ("train.steps_per_execution", recipe.train.steps_per_execution, recipe.train.steps_per_execution >= 1, "at least 1"),
        ("train.freeze_epochs", recipe.train.freeze_epochs, recipe.train.freeze_epochs >= 0, "0 or more"),
        ("train.unfreeze_fraction", recipe.train.unfreeze_fraction, 0 <= recipe.train.unfreeze_fraction <= 1, "in [0, 1]"),
        ("train.finetune_lr_factor", recipe.train.finetune_lr_factor, recipe.train.finetune_lr_factor > 0, "positive"),
        ("augment.mixup_alpha", recipe.augment.mixup_alpha, recipe.augment.mixup_alpha >= 0, "0 or more"),
        ("augment.cutmix_alpha", recipe.augment.cutmix_alpha, recipe.augment.cutmix_alpha >= 0, "0 or more"),
        ("augment.mix_prob", recipe.augment.mix_prob, 0 <= recipe.augment.mix_prob <= 1, "in [0, 1]"),
        ("augment.switch_prob", recipe.augment.switch_prob, 0 <= recipe.augment.switch_prob <= 1, "in [0, 1]"),
        ("augment.translate", recipe.augment.translate, recipe.augment.translate >= 0, "0 or more"),
        ("augment.cutout", recipe.augment.cutout, recipe.augment.cutout >= 0, "0 or more"),
    ]
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


def load_recipe(name_or_path: str, overrides: list[str] | tuple[str, ...] = (),
                competition: Competition | None = None) -> Recipe:
    """Load a recipe, apply the competition's [recipe] keys, then ``--set`` overrides (``key=value``)."""
    path = resolve(name_or_path, "recipe")
    table = _read_toml(path)
    if competition is not None and competition.recipe:
        table = _deep_merge(table, competition.recipe)
    table = merge_overrides(table, list(overrides))
    parts = [" with the competition's [recipe] keys"] if competition is not None and competition.recipe else []
    parts += [" with --set overrides"] if overrides else []
    where = str(path) + "".join(parts)
    recipe = recipe_from_dict(table, where)
    if not recipe.name:
        recipe.name = path.stem
    return recipe
