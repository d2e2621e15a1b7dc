"""A submission's manifest, ``<name>.json`` beside each ``<name>.csv`` that ``comp predict`` writes:
typed, written (:meth:`Manifest.write`) and read back checked (:meth:`Manifest.read`) here alone.

Its keys, in the order they are written (``blend`` only for ``--weights oof``)::

    competition, created_by,
    runs         [{run, recipe, folds, fold_models, total_folds, oof_score, pretrained, fold_agreement}, ...]
    ensemble, weights, weights_mode, tta, metric,
    rule_check   {pretrained_weights_allowed, external_data_allowed, test_data_training_allowed,
                  runs_used_pretrained, runs_used_test_data, passed}
    tta_share    only for selective TTA (a share below 1)
    blend        {method, oof_rows, metric, oof_score, oof_log_loss, runs: [{run, weight, oof_score,
                  oof_log_loss}, ...], and where a single run was kept: note, fitted_weights}
    csv, rows, sha256

A person, or a crash, may have changed the file: :meth:`Manifest.read` checks that every key is
there, of its type and in its range, and says what is not in one line naming the file and the key
(``submissions/x.json: runs[1].oof_score must be a finite number...``).

Example::

    manifest = Manifest.read(Path("submissions/x.csv"))
    print(manifest.run_ids, manifest.oof_score)
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path

from comp.errors import CompError, coerce
from comp.files.atomic import write_json
from comp.files.paths import check_name

MEAN_OF_FOLDS, BEST_FOLD = ENSEMBLES = ("mean of fold probabilities", "best fold")  # --ensemble, or not
WEIGHTS_MODES = ("equal", "oof")
SHA256 = re.compile(r"[0-9a-f]{64}")
OLDER = "absent"  # a field's metadata key: its value where a manifest older than the field lacks it


def _added_later(absent):
    """A field that manifests written before it was added lack: read as ``absent`` there."""
    return field(metadata={OLDER: absent})


def check_csv_suffix(path: str | Path, what: str | None = None) -> Path:
    """``path`` if its name ends in ``.csv`` (any case); else one line saying so, starting with
    ``what`` (default: the path). The manifest is the same name ending in ``.json``, so the CSV's
    name must never be that of its own manifest."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        manifest = path.with_suffix(".json").name if path.name else "<name>.json"
        raise CompError(f"{what or path}: a submission's name must end in .csv (its manifest is "
                        f"written beside it as {manifest})")
    return path


def manifest_path(csv: str | Path) -> Path:
    """The manifest of a submission CSV: the same name, ending in ``.json``."""
    return Path(csv).with_suffix(".json")


def _fail(where: str, key: str, rule: str, value) -> CompError:
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return CompError(f"{where}: {key} must be {rule}. Received: {key}={shown}")


def _at_least(value: int, low: int, key: str, where: str) -> None:
    if value < low:
        raise _fail(where, key, f"at least {low}", value)


def _one_of(value: str, allowed, key: str, where: str) -> None:
    if value not in allowed:
        raise _fail(where, key, "one of " + ", ".join(repr(a) for a in allowed), value)


class _Record:
    """What every part of a manifest shares: read from a JSON object checked field by field
    (:meth:`from_dict`), written back with the same keys (:meth:`to_dict`)."""

    @classmethod
    def from_dict(cls, data, where: str, key: str = ""):
        return _parse(cls, data, key, where)

    def to_dict(self) -> dict:
        return _plain(self)

    def check(self, key: str, where: str) -> None:
        """The ranges and rules the types do not say; ``key``: where the record lies in the manifest."""


@dataclass(frozen=True)
class RunRecord(_Record):
    """A run the submission was made from."""

    run: str  # the run's id
    recipe: str
    folds: list[int]  # the folds whose models predicted the test images
    fold_models: int
    total_folds: int
    oof_score: float  # the run's out-of-fold score in the competition's metric
    pretrained: bool
    fold_agreement: list[float] | None = None  # each fold's share of the ensemble's test decisions

    def check(self, key: str, where: str) -> None:
        check_name(self.run, f"{key}.run", where)  # it names a folder under runs/
        _at_least(self.total_folds, 1, f"{key}.total_folds", where)
        if not self.folds or any(not 0 <= k < self.total_folds for k in self.folds):
            raise _fail(where, f"{key}.folds", f"a non-empty list of folds from 0 to {self.total_folds - 1}",
                        self.folds)
        if self.fold_models != len(self.folds):
            raise _fail(where, f"{key}.fold_models", f"the number of its folds ({len(self.folds)})", self.fold_models)
        shares = self.fold_agreement
        if shares is not None and (len(shares) != len(self.folds) or any(not 0 <= a <= 1 for a in shares)):
            raise _fail(where, f"{key}.fold_agreement", f"{len(self.folds)} shares from 0 to 1, one per fold", shares)


@dataclass(frozen=True)
class RuleCheck(_Record):
    """The competition's rules when the submission was made (:func:`comp.submit.submission.check_rules`)."""

    pretrained_weights_allowed: bool
    external_data_allowed: bool
    test_data_training_allowed: bool = _added_later(False)  # pseudo-labels came later: older runs had none
    runs_used_pretrained: bool
    runs_used_test_data: bool = _added_later(False)
    passed: bool

    def check(self, key: str, where: str) -> None:
        if not self.passed:  # comp predict writes no submission its rule check refused
            raise _fail(where, f"{key}.passed", "true", self.passed)


@dataclass(frozen=True)
class BlendRun(_Record):
    run: str
    weight: float
    oof_score: float
    oof_log_loss: float

    def check(self, key: str, where: str) -> None:
        check_name(self.run, f"{key}.run", where)
        _at_least(self.weight, 0, f"{key}.weight", where)


@dataclass(frozen=True)
class Blend(_Record):
    """The blend fitted on the runs' out-of-fold predictions (:meth:`comp.predict.blend.BlendResult.manifest`)."""

    method: str
    oof_rows: int
    metric: str
    oof_score: float  # the blend's out-of-fold score
    oof_log_loss: float
    runs: list[BlendRun]
    note: str | None = None  # where a single run was kept instead of the fitted weights
    fitted_weights: list[float] | None = None

    def check(self, key: str, where: str) -> None:
        _at_least(self.oof_rows, 1, f"{key}.oof_rows", where)
        if not self.runs:
            raise _fail(where, f"{key}.runs", "a non-empty list", self.runs)


@dataclass(frozen=True)
class Manifest(_Record):
    """What a submission CSV was made from, and the CSV itself (``csv``, ``rows``, ``sha256``:
    set by :func:`comp.submit.submission.write_submission` as it writes the CSV)."""

    competition: str
    created_by: str  # comp and its version
    runs: list[RunRecord]
    ensemble: str  # one of ENSEMBLES
    weights: list[float]  # one per run
    weights_mode: str  # one of WEIGHTS_MODES
    tta: str
    metric: str
    rule_check: RuleCheck
    tta_share: float | None = None  # selective TTA (predict.tta_share, --tta-share): only where below 1
    blend: Blend | None = None  # with weights_mode "oof"
    csv: str = ""
    rows: int = 0
    sha256: str = ""

    def check(self, key: str, where: str) -> None:
        from comp.metrics import METRICS
        from comp.predict.tta import LEVELS

        check_name(self.competition, "competition", where)  # it names a folder under runs/
        if not self.runs:
            raise _fail(where, "runs", "a non-empty list (the runs the submission was made from)", self.runs)
        _one_of(self.ensemble, ENSEMBLES, "ensemble", where)
        if len(self.weights) != len(self.runs) or any(w < 0 for w in self.weights):
            raise _fail(where, "weights", f"{len(self.runs)} number(s) >= 0, one per run", self.weights)
        _one_of(self.weights_mode, WEIGHTS_MODES, "weights_mode", where)
        if self.weights_mode == "oof" and self.blend is None:
            raise CompError(f"{where}: blend is missing (weights_mode is 'oof': the fitted blend is recorded)")
        _one_of(self.tta, list(LEVELS), "tta", where)
        if self.tta_share is not None and not 0 <= self.tta_share < 1:
            raise _fail(where, "tta_share", "in [0, 1) (absent: every image got every view)", self.tta_share)
        _one_of(self.metric, list(METRICS), "metric", where)
        check_csv_suffix(self.csv, f"{where}: csv {self.csv!r}")
        _at_least(self.rows, 1, "rows", where)
        if not SHA256.fullmatch(self.sha256):
            raise _fail(where, "sha256", "64 hexadecimal digits (the CSV's SHA-256, lower case)", self.sha256)

    @property
    def run_ids(self) -> list[str]:
        return [r.run for r in self.runs]

    @property
    def oof_score(self) -> float | None:
        """The submission's out-of-fold score, where it is known: its fitted blend's, or its one run's."""
        if self.blend is not None:
            return self.blend.oof_score
        return self.runs[0].oof_score if len(self.runs) == 1 else None

    def record(self, run_id: str) -> RunRecord | None:
        return next((r for r in self.runs if r.run == run_id), None)

    def write(self, csv: str | Path) -> Path:
        """The manifest of ``csv``, written atomically beside it, after the checks :meth:`read` makes."""
        path = manifest_path(check_csv_suffix(csv))
        data = self.to_dict()
        Manifest.from_dict(data, f"the manifest for {path}")  # never write what read refuses
        write_json(path, data)
        return path

    @classmethod
    def read(cls, csv: str | Path) -> Manifest:
        """The manifest beside ``csv``, checked; CompError in one line naming the file and the key."""
        path = manifest_path(check_csv_suffix(csv))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise CompError(f"{path}: cannot read the manifest ({e.strerror or e})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CompError(f"{path}: the manifest is not valid JSON ({e})") from None
        return cls.from_dict(data, str(path))


def _optional(tp) -> bool:
    return typing.get_origin(tp) in (types.UnionType, typing.Union) and type(None) in typing.get_args(tp)


def _parse(cls, data, key: str, where: str):
    """``data``, a JSON object, as the dataclass ``cls``: every field present (those that may be
    None may be absent, and those older manifests lack), of its type, finite, then ``cls.check``;
    unknown keys ignored."""
    if not isinstance(data, dict):
        if not key:
            held = {list: "a list", str: "a string", bool: "true or false"}.get(type(data), "a number or null")
            raise CompError(f"{where}: not a comp predict manifest: it holds {held}, not a JSON object")
        raise _fail(where, key, "a JSON object", data)
    hints = typing.get_type_hints(cls)
    prefix = f"{key}." if key else ""
    known = [f for f in fields(cls) if f.name in data or OLDER not in f.metadata]
    missing = [prefix + f.name for f in known if f.name not in data and not _optional(hints[f.name])]
    if missing:
        raise CompError(f"{where}: not a comp predict manifest: no key {', '.join(missing)}")
    values = {f.name: f.metadata[OLDER] for f in fields(cls) if f not in known}
    values.update({f.name: _value(hints[f.name], data.get(f.name), prefix + f.name, where) for f in known})
    record = cls(**values)
    record.check(key, where)
    return record


def _value(tp, value, key: str, where: str):
    if _optional(tp):
        if value is None:
            return None
        (tp,) = [t for t in typing.get_args(tp) if t is not type(None)]
    if is_dataclass(tp):
        return _parse(tp, value, key, where)
    if typing.get_origin(tp) is list and is_dataclass(typing.get_args(tp)[0]):
        if not isinstance(value, list):
            raise _fail(where, key, "a list", value)
        return [_parse(typing.get_args(tp)[0], v, f"{key}[{i}]", where) for i, v in enumerate(value)]
    value = coerce(value, tp, key, where)
    if any(isinstance(v, float) and not math.isfinite(v) for v in (value if isinstance(value, list) else [value])):
        raise _fail(where, key, "finite (a number, not NaN or infinity)", value)
    return value


def _plain(value):
    """A record as JSON: its fields in order, those that are None left out."""
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value) if getattr(value, f.name) is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
