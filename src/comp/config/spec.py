"""Competition specs: typed dataclasses loaded from TOML (recipes: :mod:`comp.config.recipe`).

Values are dataclass defaults, then the TOML file's; ``--data`` replaces ``data.root``. Each
field declares what it may hold (choices, a range: :mod:`comp.config.fields`); unknown keys,
wrong types and values outside a field's choices or range raise :class:`~comp.errors.CompError`
with a message that names the file and key, says what is allowed and shows what was received
(:func:`build_dataclass`, shared with :mod:`comp.config.recipe`).

Example::

    competition = load_competition("dacon-cifar10")
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

# build_dataclass and to_dict live in comp.config.fields; callers import them from here too
from comp.config.fields import Integral, Interval, Pair, Real, build_dataclass, choice_field, setting, to_dict  # noqa: F401
from comp.errors import CompError, unknown_name_error
from comp.files.paths import check_name
from comp.metrics import METRICS as _METRIC_FUNCTIONS

# An editable install (what the Makefile does) runs from the repository, whose competition/
# folder holds the shipped specs and recipes.
SHIPPED_DIR = Path(__file__).resolve().parents[3] / "competition"

LAYOUTS = ("class-folders", "csv-labels", "meta-lists", "file-names", "coco-json")
METRICS = tuple(_METRIC_FUNCTIONS)  # the registered metrics' names (comp.metrics)
# what one row's target is (comp.targets): one class of several (Dacon), the probability of the
# positive class, one probability per class, several labels, an ordinal grade, a number, k ranked labels
TARGET_KINDS = ("class", "binary", "class-probabilities", "multi-label", "grade", "regression", "top-k")
ID_FORMS = ("auto", "stem", "name")
MAX_PIXELS = 16_384  # the largest image side, translation or cutout a key may ask for (a sanity bound)


# --------------------------------------------------------------------------- competition


@dataclass
class DataSpec:
    root: str = ""  # folder of the competition's files, relative to the current directory
    layout: str = choice_field("class-folders", LAYOUTS)
    # [height, width] the images are resized to
    image_size: list[int] = setting([32, 32], Pair(("height", "width"), Interval(Integral, 8, MAX_PIXELS)))
    # class-folders: train/<class>/<image>, test/<image>; csv-labels: train/<id>.<ext>, test/<id>.<ext>
    train: str = "train"
    test: str = "test"
    sample_submission: str | None = None  # id,target CSV whose ids and order the submission must match
    labels: str | None = None  # csv-labels: the labels CSV
    label_columns: list[str] = setting(["id", "label"], Pair(("id", "label"), of="column names"))  # of labels
    # meta-lists (Food-101): images/<class>/<name>.<ext> and list files of "<class>/<name>"
    images: str = "images"
    classes: str = "meta/classes.txt"
    train_list: str = "meta/train.txt"
    test_list: str = "meta/test.txt"
    class_names: list[str] | None = None  # explicit class order; default: sorted names found in the data
    answers: str | None = None  # id,target CSV of the test labels, where known (the demo)
    # builds the data on first use (comp.data.demo.BUILDERS)
    builder: str | None = choice_field(None, (None, "sklearn-digits", "upscaled-cifar10"))
    # ids in the labels CSV and the sample submission: the image's name with its extension
    # ("name": 0a1b.jpg) or without ("stem": 0a1b); auto: whichever the files match
    id_form: str = choice_field("auto", ID_FORMS)
    # file-names: a regular expression whose first group is the label (dogs-vs-cats: '^(cat|dog)\\.')
    label_pattern: str | None = None
    # a labels CSV column whose rows stay in one fold (a patient id): StratifiedGroupKFold
    group_column: str | None = None
    # inner archives (.zip, .tar, .tar.gz, .tgz) unpacked once into the data folder, each into a
    # folder named as the archive without its suffix (train.zip -> train/)
    archives: list[str] = field(default_factory=list)
    # coco-json: COCO-style metadata (images, annotations with category_id) of the train and test images
    train_metadata: str | None = None
    test_metadata: str | None = None


@dataclass
class TargetSpec:
    """What one row's target is and how it is read (comp.targets)."""

    kind: str = choice_field("class", TARGET_KINDS)
    # labels CSV columns holding one 0/1 value per class (one-hot, or several labels per row);
    # empty: the label column of data.label_columns
    columns: list[str] = field(default_factory=list)
    separator: str = " "  # between the labels of one cell (multi-label, top-k)
    positive: str | None = None  # binary: the class whose probability is written (default: the last class, "1")
    k: int = setting(5, Interval(Integral, 1, 100))  # top-k: labels written per row
    new_label: str | None = None  # top-k: the label for "none of the known ones" (new_whale); its score is fitted


@dataclass
class SubmissionSpec:
    id_column: str = "id"
    target_column: str = "target"
    target_format: str = choice_field("name", ("name", "index"))  # class name or class index


@dataclass
class RulesSpec:
    pretrained_weights: bool = False  # may runs that loaded pretrained weights be submitted?
    # States the rule for the manifest. comp itself never trains on data outside the
    # competition's folder (pretrained weights are the one outside source, checked above), so
    # no run can break it; it is recorded, not enforced.
    external_data: bool = False
    # may the unlabelled test images be trained on (pseudo-labels, distillation targets on
    # them)? A run that did is refused by comp predict where this is false.
    test_data_training: bool = False


DACON_ID = "the competition's id, a positive integer as in dacon.io/competitions/official/<id>"


@dataclass
class PlatformSpec:
    """Where ``comp submit`` uploads (at most one key): the competition on Kaggle or on Dacon."""

    kaggle: str | None = None  # the competition's slug: kaggle.com/competitions/<slug>
    dacon: int | None = setting(None, Interval(Integral, 1, text=DACON_ID))  # dacon.io/competitions/official/<id>
    # a code competition: the hours its offline inference kernel may run (comp export fits the
    # export to it), and whether that kernel has a GPU; None: submissions are CSV files
    kernel_time_limit: float | None = setting(None, Interval(Real, 0, 24 * 7, closed="right"))
    kernel_gpu: bool = False

    @property
    def name(self) -> str | None:
        """``kaggle``, ``dacon``, or None where the table names no platform."""
        return "kaggle" if self.kaggle is not None else "dacon" if self.dacon is not None else None

    @property
    def competition(self) -> str | None:
        """The competition's slug or id on its platform, as a string."""
        return self.kaggle if self.kaggle is not None else None if self.dacon is None else str(self.dacon)


@dataclass
class Competition:
    name: str = ""
    title: str = ""
    metric: str = choice_field("accuracy", METRICS)
    data: DataSpec = field(default_factory=DataSpec)
    target: TargetSpec = field(default_factory=TargetSpec)
    submission: SubmissionSpec = field(default_factory=SubmissionSpec)
    rules: RulesSpec = field(default_factory=RulesSpec)
    platform: PlatformSpec = field(default_factory=PlatformSpec)  # comp submit's upload target
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


# --------------------------------------------------------------------------- loading


def read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise CompError(f"{path}: TOML syntax error: {e}") from None
    except OSError as e:
        raise CompError(f"{path}: cannot read ({e.strerror})") from None


def available(folder: str) -> list[str]:
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
    raise unknown_name_error(kind, name_or_path, available(folder))


def list_competitions() -> list[str]:
    return available("")


def competition_from_dict(table: dict, where: str) -> Competition:
    competition = build_dataclass(Competition, table, where)
    if not competition.name:
        raise CompError(f"{where}: the key 'name' is required")
    check_name(competition.name, "name", where)  # it names folders under runs/, data/.cache/, submissions/
    if not competition.data.root:
        raise CompError(f"{where}: the key 'data.root' is required")
    if competition.data.layout == "csv-labels" and not competition.data.labels:
        raise CompError(f"{where}: layout 'csv-labels' needs the key 'data.labels' (the labels CSV)")
    check_platform(competition.platform, where)
    return competition


KAGGLE_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


def check_platform(platform: PlatformSpec, where: str) -> None:
    """At most one platform; a Kaggle slug of lowercase letters, digits and '-' (a positive Dacon
    id: the field's range, checked as it is built)."""
    if platform.kaggle is not None and platform.dacon is not None:
        raise CompError(f"{where}: [platform] names one platform, kaggle or dacon, not both. "
                        f"Received: platform.kaggle={platform.kaggle!r}, platform.dacon={platform.dacon!r}")
    if platform.kaggle is not None and not KAGGLE_SLUG.fullmatch(platform.kaggle):
        raise CompError(f"{where}: platform.kaggle must be the competition's slug, as in "
                        f"kaggle.com/competitions/<slug> (lowercase letters, digits and '-'). "
                        f"Received: platform.kaggle={platform.kaggle!r}")


def load_competition(name_or_path: str, data: str | Path | None = None) -> Competition:
    """Load and check a competition spec; ``data`` overrides ``data.root``."""
    path = resolve(name_or_path, "competition")
    competition = competition_from_dict(read_toml(path), str(path))
    if data is not None:
        competition.data.root = str(data)
    return competition
