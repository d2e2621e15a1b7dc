"""``comp init``: write a competition spec inferred from a competition folder and its metric."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

from comp.cli.app import main, say
from comp.config.spec import METRICS


@main.command()
@click.argument("data_dir", type=click.Path(path_type=Path))
@click.option("--metric", required=True, type=click.Choice(METRICS),
              help="The competition's metric, as its evaluation page names it (it decides the target kind).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Spec path, ending in .toml (default: competition/<name>.toml).")
@click.option("--name", default=None,
              help="The competition's name in comp (runs/<name>/, submissions); default: the folder's name, lowercase.")
@click.option("--force", is_flag=True, help="Let --out replace an existing file.")
def init(data_dir, metric, out, name, force):
    """Write a competition spec inferred from DATA_DIR (the competition's files as Kaggle hands them
    out, inner archives not unpacked) and the competition's metric.

    \b
    Example:
      comp init data/aerial-cactus-identification --metric roc_auc
      comp train -c aerial-cactus-identification

    It prints one line per inference: the layout, the id column and id form, the target columns
    and kind (and why), the classes, the image folders (and the archives to unpack), the image
    size, a patient column to group folds by, and the spec written. Where it cannot decide (two
    candidate labels CSVs, several id columns, a metric that does not fit the sample's columns)
    it stops with one line naming the spec key to set, and writes nothing. Check [rules] against
    the competition's rules: comp init sets them all to false.
    """
    from comp.config.spec import competition_from_dict
    from comp.data.infer import infer_spec, render
    from comp.errors import CompError
    from comp.files.atomic import atomic_path
    from comp.files.paths import check_name

    if name is None:
        name = data_dir.resolve().name.lower()
        check_name(name, "name", f"{data_dir}: the folder's name, lowercase, names the competition; pass --name")
    check_name(name, "--name")
    out = out if out is not None else Path("competition") / f"{name}.toml"
    if out.suffix != ".toml":
        raise CompError(f"--out must end in .toml. Received: --out={str(out)!r}")
    if out.is_dir() or (out.exists() and not force):
        raise CompError(f"{out}: exists; pass --force to replace it, or --out to write the spec elsewhere"
                        if not out.is_dir() else f"{out}: a folder; --out names the spec's .toml file")
    tables, lines = infer_spec(data_dir, metric, name)
    text = render(tables, f"comp init {data_dir} --metric {metric}")
    competition_from_dict(tomllib.loads(text), str(out))  # the spec loads as comp train will load it
    for line in lines:
        say(line)
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    say(f"spec: wrote {out}; check it, then: comp train -c {out}")
    click.echo(str(out))
