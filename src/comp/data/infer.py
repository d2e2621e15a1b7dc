"""``comp init``: a competition spec inferred from a competition folder, as Kaggle hands it out, and
the competition's metric.

:func:`infer_spec` reads the folder (nothing is unpacked, images are opened for their header only)
and returns the spec's tables and one line per inference; :func:`render` writes them as TOML. The
rules, in the order they run:

- the sample submission, its id column and target columns: :mod:`comp.data.infer_files`;
- the layout, the train and test images and the labels: :mod:`comp.data.infer_layout` (and
  :mod:`comp.data.infer_coco`);
- the target kind: :mod:`comp.data.infer_target`;
- the image size: the median height and width of up to 200 sampled train images, each clipped to
  [16, 128] and rounded to a multiple of 8 (:mod:`comp.data.infer_sizes`);
- the group column: a labels CSV column named like a patient id (``patient_id``, ``PatientID``);
- ``[rules]``: everything false, with a comment telling to check the competition's rules.

Anything it cannot decide stops it with one :class:`~comp.errors.CompError` line that names the
ambiguity and the spec key to set; nothing is written then.

Example::

    tables, lines = infer_spec(Path("data/aerial-cactus-identification"), "roc_auc", "aerial-cactus-identification")
"""

from __future__ import annotations

import re
from pathlib import Path

import tomli_w

from comp.data.infer_coco import coco_layout
from comp.data.infer_files import Sample, find_sample, read_sample
from comp.data.infer_layout import Layout, find_layout
from comp.data.infer_sizes import choose_image_size
from comp.data.infer_target import Target, few, infer_target
from comp.errors import CompError

GROUP_NAMES = {"patientid", "patient"}  # a column's name, lowercase, letters only
RULES_COMMENT = ("# comp init cannot read the competition's rules: check them on its rules page (pretrained "
                 "weights,\n# external data, training on the test images) and set these keys to match.\n")


def group_column(layout: Layout) -> str | None:
    """The labels CSV's patient column (rows of one patient stay in one fold), if it has one."""
    if layout.table is None:
        return None
    found = [c for c in layout.table.columns if re.sub(r"[^a-z]", "", c.lower()) in GROUP_NAMES]
    return found[0] if found else None


def _data_table(root: Path, sample: Sample, layout: Layout, target: Target, size: list[int]) -> dict:
    """The spec's [data] table: the keys comp init decided, in the order a person reads them."""
    data = {"root": str(root), "layout": layout.layout, "train": layout.train.folder, "test": layout.test.folder,
            "sample_submission": sample.path.relative_to(root).as_posix()}
    if layout.labels_csv is not None:
        data["labels"] = layout.labels_csv.relative_to(root).as_posix()
        data["label_columns"] = [layout.id_column, target.label_column]
    data["id_form"] = layout.id_form
    data["image_size"] = size
    group = group_column(layout)
    if group is not None:
        data["group_column"] = group
    archives = sorted({s.archive for s in (layout.train, layout.test) if s.archive})
    if archives:
        data["archives"] = archives
    data.update(layout.keys)
    if target.class_names is not None:
        data["class_names"] = target.class_names
    return data


def _id_line(sample: Sample, layout: Layout) -> str:
    """The printed line on the id column and the id form, with an example id."""
    example = sample.ids.iloc[0]
    if layout.id_form == "auto":
        form = f"the images' 'id' in {layout.keys['test_metadata']}"
    elif layout.id_form == "name":
        form = "id form name: the image's file name with its extension"
    else:
        form = "id form stem: the image's file name without its extension"
    skipped = f"; its unnamed first column '{sample.skipped_index}' (an index) is skipped" \
        if sample.skipped_index is not None else ""
    return f"ids: column '{sample.id_column}' of {sample.path.name}, {form} (e.g. {example!r}){skipped}"


def _lines(sample: Sample, layout: Layout, target: Target, data: dict, size_why: str) -> list[str]:
    """One printed line per inference (the spec's path is the CLI's, once written)."""
    images = ", ".join(s.describe() for s in (layout.train, layout.test))
    if layout.train.folder == layout.test.folder:
        images = f"{layout.train.describe()}, train and test images together"
    if data.get("archives"):
        images += f"; data.archives {', '.join(data['archives'])}: unpacked into those folders on first use"
    lines = [f"layout: {layout.layout} ({layout.why})", _id_line(sample, layout),
             f"target: {target.kind}, {target.why}",
             f"classes: {target.summary or f'{len(target.classes)}: {few(target.classes)}'}",
             f"images: {images}", f"image size: {data['image_size']}: {size_why}"]
    if "group_column" in data:
        lines.append(f"group column: {data['group_column']} (a patient column of {data['labels']}: "
                     f"one patient's rows stay in one fold)")
    lines.append("rules: pretrained_weights, external_data and test_data_training are false: check the "
                 "competition's rules and set [rules] to match")
    return lines


def infer_spec(root: Path, metric: str, name: str) -> tuple[dict, list[str]]:
    """The spec's tables and the lines that say what was inferred (see the module's docstring)."""
    if not root.is_dir():
        raise CompError(f"{root}: data folder not found; pass the folder that holds the competition's files")
    sample = read_sample(find_sample(root))
    layout = coco_layout(root, sample) or find_layout(root, sample)
    target = infer_target(metric, sample, layout)
    size, size_why = choose_image_size(root, layout.train)
    data = _data_table(root, sample, layout, target, size)
    tables = {
        "name": name,
        "title": name.replace("-", " ").replace("_", " ").capitalize(),
        "metric": metric,
        "data": data,
        "target": {"kind": target.kind, **target.keys},
        "submission": {"id_column": sample.id_column, "target_column": sample.targets[0], "target_format": "name"},
        "rules": {"pretrained_weights": False, "external_data": False, "test_data_training": False},
    }
    return tables, _lines(sample, layout, target, data, size_why)


def _literal(value) -> str:
    """A TOML value as tomli_w writes it."""
    return tomli_w.dumps({"v": value})[len("v = "):].rstrip("\n")


def _keys(table: dict) -> str:
    """``key = value`` lines; a list on one line where it fits in 100 characters (tomli_w breaks every one)."""
    lines = []
    for key, value in table.items():
        inline = "[" + ", ".join(_literal(v) for v in value) + "]" if isinstance(value, list) else ""
        lines.append(f"{key} = {inline}" if inline and len(key) + len(inline) <= 97
                     else tomli_w.dumps({key: value}).rstrip("\n"))
    return "\n".join(lines) + "\n"


def render(tables: dict, command: str) -> str:
    """The spec as TOML text, with a header saying where it came from and the rules' comment."""
    parts = [f"# Written by `{command}`;\n# check each key against the competition's data page.\n",
             _keys({k: v for k, v in tables.items() if not isinstance(v, dict)})]
    for key, table in tables.items():
        if isinstance(table, dict):
            parts.append((RULES_COMMENT if key == "rules" else "") + f"[{key}]\n" + _keys(table))
    return "\n".join(parts)
