"""What makes a run what it is: the part of its config that decides its results
(:func:`config_identity`), the hash in its default id (:func:`config_hash`), and the differences
between a saved run and the one asked for now (:func:`changes`). The one place a run is hashed.

The rules, each in one place below:

- **Not what a run computes**: how it was asked for (``overrides``, ``recipe_ref``), where the
  data lives (``data.root``, and the data fingerprint, checked apart when a run is reopened),
  where submissions go (``[platform]``) and what may be submitted (``rules.test_data_training``).
- **Keys that apply only under a condition** (:data:`CONDITIONAL`): the Muon keys of a run of
  another optimizer, the ``[teacher]`` keys of a run without teachers.
- **Keys added since** :data:`BASELINE` (the keys every run id hashed when the rule was made):
  hashed only where they differ from their default. Adding a key whose default keeps the old
  behaviour therefore never changes an old run's id, and setting it to anything else always
  does. Never edit the baseline; a new key needs nothing here. A key added later must keep its
  first default: changing it would move the ids of runs that left it unset.

``tests/test_run_config.py`` pins real run ids as literal strings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from comp.runs.config import RunConfig

# The [run] keys that say how a run was asked for or where its data lives, not what it computes.
# ``external_data`` was written by older versions, which nothing could set.
NOT_HASHED_RUN_KEYS = ("overrides", "recipe_ref", "external_data", "data_fingerprint")

# key -> (the key it depends on, the value under which it applies; None: wherever that key is set)
CONDITIONAL = {
    "recipe.train.muon_lr": ("recipe.train.optimizer", "muon"),
    "recipe.train.muon_momentum": ("recipe.train.optimizer", "muon"),
    "recipe.train.muon_ns_steps": ("recipe.train.optimizer", "muon"),
    "recipe.teacher": ("run.teacher", None),
}

# Every key a run id hashed on 2026-12-04, whatever its value. Sections hashed whole: "recipe.model"
# (the builder's options) and "competition.recipe" (a spec's recipe keys).
BASELINE = frozenset(
    ["run." + k for k in "competition recipe folds val_fraction seed pretrained subset split_seed "
                         "time_budget_s teacher test_data".split()]
    + ["recipe." + k for k in "name description model".split()]
    + ["recipe.augment." + k for k in
       "preset flip alternate_flip translate translate_fill cutout mixup_alpha cutmix_alpha mix_prob "
       "switch_prob mix_off_epochs crop_scale crop_ratio rotate scale color_jitter erase_prob erase_scale "
       "erase_fill".split()]
    + ["recipe.train." + k for k in
       "epochs batch_size optimizer muon_lr muon_momentum muon_ns_steps lr momentum nesterov offset_lr_scale "
       "weight_decay schedule plateau_factor plateau_patience warmup_epochs start_fraction final_fraction "
       "label_smoothing ema ema_momentum lookahead seed precision jit_compile steps_per_execution pipeline "
       "memory_budget_gb accumulate strategy monitor freeze_epochs unfreeze_fraction finetune_lr_factor "
       "tensorboard class_balance".split()]
    + ["recipe.predict." + k for k in "tta batch_size crop".split()]
    + ["recipe.teacher." + k for k in
       "temperature distill_weight pseudo_threshold pseudo_top_share pseudo_targets pseudo_weight".split()]
    + ["competition." + k for k in "name title metric recipe".split()]
    + ["competition.data." + k for k in
       "root layout image_size train test sample_submission labels label_columns images classes train_list "
       "test_list class_names answers builder".split()]
    + ["competition.submission." + k for k in "id_column target_column target_format".split()]
    + ["competition.rules." + k for k in "pretrained_weights external_data test_data_training".split()]
    + ["competition.platform." + k for k in "kaggle dacon".split()]
)


def _flat(table: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in table.items():
        if isinstance(value, dict) and f"{prefix}{key}" not in ("recipe.model", "competition.recipe"):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _defaults(obj: Any, prefix: str) -> dict[str, Any]:
    """Every field's default by dotted key, nested dataclasses walked (the classes of ``obj``'s
    own values: a key of a subclass counts too)."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out.update(_defaults(value, f"{prefix}{f.name}."))
        elif f.default is not dataclasses.MISSING:
            out[f"{prefix}{f.name}"] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f"{prefix}{f.name}"] = f.default_factory()
    return out


def _unflat(flat: dict[str, Any]) -> dict:
    out: dict = {}
    for key, value in flat.items():
        *parents, last = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _applies(key: str, flat: dict[str, Any]) -> bool:
    for conditional, (depends_on, value) in CONDITIONAL.items():
        if key == conditional or key.startswith(conditional + "."):
            present = flat.get(depends_on) is not None or any(k.startswith(depends_on + ".") for k in flat)
            return present if value is None else flat.get(depends_on) == value
    return True


def _hashed(key: str, value: Any, defaults: dict[str, Any]) -> bool:
    """A key added since the baseline counts where it differs from its default."""
    parts = key.split(".")
    in_baseline = any(".".join(parts[:i]) in BASELINE for i in range(1, len(parts) + 1))
    return in_baseline or key not in defaults or value != defaults[key]


def config_identity(config: RunConfig) -> dict:
    """What makes a run what it is: its config less what it does not compute, less the keys of
    :data:`CONDITIONAL` where they do not apply, less the keys added since :data:`BASELINE` where
    they hold their defaults."""
    table = config.to_table()
    table["competition"]["data"]["root"] = ""
    flat = _flat({"run": table["run"], "recipe": table["recipe"], "competition": table["competition"]})
    defaults = {**_defaults(config.recipe, "recipe."), **_defaults(config.competition, "competition."),
                **{f"run.{k}": v for k, v in _defaults(config, "").items() if "." not in k}}
    dropped = {f"run.{k}" for k in NOT_HASHED_RUN_KEYS} | {"competition.rules.test_data_training"}
    kept = {k: v for k, v in flat.items()
            if k not in dropped and not k.startswith("competition.platform.")
            and _applies(k, flat) and _hashed(k, v, defaults)}
    return _unflat(kept)


def config_hash(config: RunConfig) -> str:
    """A short hash of what determines a run's results (not where the data lives)."""
    return hashlib.sha1(json.dumps(config_identity(config), sort_keys=True).encode()).hexdigest()[:6]


def run_id_for(config: RunConfig, prefix: str | None = None) -> str:
    """``<prefix>-<folds>f-<config hash>``; the prefix defaults to the recipe's name."""
    return f"{prefix or config.recipe.name}-{config.folds}f-{config_hash(config)}"


def _diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


def changes(saved: RunConfig, new: RunConfig) -> list[str]:
    """What differs between a run's saved config and the one asked for now, in its identity; a
    recipe's description is prose (its edit gives new runs a new id, as it always has, but never
    stops an existing run from resuming under ``--run``)."""
    def compared(config: RunConfig) -> dict:
        identity = config_identity(config)
        identity["recipe"].pop("description", None)
        return identity

    return _diff(compared(saved), compared(new))
