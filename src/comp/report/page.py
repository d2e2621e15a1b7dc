"""``comp report``: one self-contained HTML page of a run, ``runs/<competition>/<run>/report/index.html``.

The page shows the run's learning curves per fold, its fold table, the out-of-fold confusion
matrix, per-class accuracy (and F1 where the metric is ``macro_f1``), the costliest
out-of-fold mistakes as an image grid, and the submissions made from the run with their
leaderboard scores where ``submissions/ledger.csv`` has them. Figures and thumbnails are
embedded as base64 PNGs, so the page is one file that can be copied or mailed; it is written
atomically. Every name put into the page is escaped.

A partial run reports its finished folds and names the missing ones; a run with no finished
fold is refused with one line. Example::

    path = write_report(open_run("dacon-cifar10", "fast-5f-fcda51"))
"""

from __future__ import annotations

import base64
import io
import re
from html import escape
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.metrics import precision_recall_fscore_support

from comp import metrics
from comp.runs.decided import read_decisions
from comp.report import plots
from comp.report.kind_sections import PER_LABEL_HEADERS, hard_predictions, per_label_rows, roc_columns, roc_figure
from comp.files.atomic import sweep_temporary, write_text
from comp.data.images import load_train_images
from comp.errors import CompError
from comp.submit.ledger import ledger_path, read_ledger
from comp.runs.data import reopen_data
from comp.runs.run import Run
from comp.submit.submission import manifests_for_run

MAX_MISTAKES = 24  # thumbnails in the mistakes grid
THUMB_PX = 128  # larger training images are shrunk to this (the page stays small)
NUMBER = re.compile(r"-?\d+(\.\d+)?")  # a formatted number: right-aligned like one

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; } td, th { padding: 0.2em 0.7em; }
th { background: #eee; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #f7f7f7; } .warning { color: #a40; font-weight: bold; }
.grid { display: flex; flex-wrap: wrap; gap: 0.6em; } figure { margin: 0; width: 140px; font-size: 0.8em; }
figure img, .noimg { width: 128px; height: 128px; image-rendering: pixelated; border: 1px solid #ccc; }
.noimg { display: flex; align-items: center; justify-content: center; background: #eee; }
img.figure { max-width: 100%; } #confusion img { max-width: 700px; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.1em 1em; }
dt { color: #666; } dd { margin: 0; }
"""


def write_report(run: Run, say=lambda msg: None) -> Path:
    """Write the run's page and return its path."""
    finished = run.finished_folds()
    if not finished:
        raise CompError(f"run '{run.id}' has no finished folds (0 of {run.n_folds}): nothing to report yet")
    rows, labels, probs = run.oof()
    by_class = [_confusion(run, labels, probs), _per_class(run, labels, probs),
                _mistakes(run, rows, labels, probs, say)] if run.softmax else []  # one class per image
    by_kind = [_roc(run, labels, probs)] if run.competition.metric in ("roc_auc", "mean_roc_auc") else []
    by_kind += [_per_label(run, labels, probs)] if run.competition.target.kind == "multi-label" else []
    body = "\n".join([_header(run, finished, labels, probs), _curves(run, finished),
                      _fold_table(run, finished, labels, probs), *by_kind, *by_class, _submissions(run, say)])
    title = f"{run.competition_name} / {run.id}"
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            f"<title>{escape(title)}</title>\n<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
    path = run.dir / "report" / "index.html"
    if path.parent.is_dir():
        sweep_temporary(path.parent)  # what a killed report left
    write_text(path, page)
    return path


# --------------------------------------------------------------------------- building blocks


def _table(table_id: str, headers: list[str], rows: list[list]) -> str:
    """An HTML table, every cell escaped; numbers right-aligned (floats to 4 places)."""
    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return f'<td class="num">{value:.4f}</td>'
        if isinstance(value, (int, np.integer)) or NUMBER.fullmatch(str(value)):
            return f'<td class="num">{escape(str(value))}</td>'
        return f"<td>{escape(str(value))}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f'<table id="{escape(table_id)}">\n<tr>{head}</tr>\n{body}\n</table>'


def _png(data: bytes, alt: str, css: str = "") -> str:
    src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return f'<img src="{src}" alt="{escape(alt)}"' + (f' class="{css}"' if css else "") + ">"


def _thumbnail(image: np.ndarray) -> bytes:
    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    picture.thumbnail((THUMB_PX, THUMB_PX))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


# --------------------------------------------------------------------------- sections


def _oof_scores(run: Run, labels, probs) -> dict:
    """The run's out-of-fold scores, with its fitted decisions applied (as its summary has them)."""
    return metrics.scores(run.competition.metric, labels, probs, read_decisions(run.dir, len(run.class_names)))


def _header(run: Run, finished: list[int], labels, probs) -> str:
    metric = run.competition.metric
    oof = _oof_scores(run, labels, probs)
    facts = [("recipe", run.recipe_name), ("model", run.model_label), ("metric", metric),
             ("folds finished", f"{len(finished)} of {run.n_folds}"),
             (f"OOF {metric}", f"{oof['score']:.4f}"),
             *[(f"OOF {k.replace('_', ' ')}", f"{oof[k]:.4f}") for k in ("accuracy", "log_loss")
               if k != metric and k in oof],
             ("OOF rows", len(labels)),
             ("subset", f"{run.subset} images per class" if run.subset else "all images"),
             ("created", run.created), ("toolkit", run.toolkit_version)]
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts)
    missing = [k for k in range(run.n_folds) if k not in finished]
    note = ""
    if missing:
        note = (f'<p class="warning" id="missing-folds">Not finished: fold(s) {escape(", ".join(map(str, missing)))}. '
                f"This page covers fold(s) {escape(', '.join(map(str, finished)))} only.</p>")
    return f"<h1>{escape(run.competition_name)} / {escape(run.id)}</h1>\n{note}\n<dl>{items}</dl>"


def _histories(run: Run, finished: list[int]) -> dict:
    """Each fold's history.csv, checked (:func:`comp.report.plots.fold_history`): every finished fold's
    that is there (a damaged one is an error), and that of a fold still training where it can be read."""
    out = {}
    for k in range(run.n_folds):
        try:
            history = plots.fold_history(run, k)
        except CompError:
            if k in finished:
                raise
            continue  # being written, or left by a killed attempt
        if history is not None:
            out[k] = history
    return out


def _curves(run: Run, finished: list[int]) -> str:
    histories = _histories(run, finished)
    if not histories:
        return "<h2>Learning curves</h2>\n<p>No fold has a history.csv.</p>"
    labels = {k: f"fold {k} (unfinished)" for k in histories if k not in finished}
    figure = _png(plots.png_bytes(plots.curves_figure(run, histories, labels)), "learning curves", "figure")
    return f'<h2>Learning curves</h2>\n<div id="curves">{figure}</div>'


def _fold_table(run: Run, finished: list[int], labels, probs) -> str:
    """Per fold: the metric (then accuracy and log loss, where the metric is neither), epochs, time."""
    metric = run.competition.metric
    oof = _oof_scores(run, labels, probs)
    keys = [metric] + [k for k in ("accuracy", "log_loss") if k != metric and k in oof]
    rows, seconds = [], 0.0
    for k in finished:
        m = run.fold_metrics(k)
        seconds += float(m.get("seconds", 0.0))
        scores = [m.get("score" if key == metric else key, float("nan")) for key in keys]
        rows.append([k, *scores, m.get("best_epoch", "-"), m.get("epochs", "-"), m.get("n_val", "-"),
                     f"{m.get('epoch_seconds', 0.0):.1f}", f"{m.get('seconds', 0.0):.1f}"])
    oof_scores = [oof["score"] if key == metric else oof[key] for key in keys]
    rows.append(["OOF", *oof_scores, "", "", len(labels), "", f"{seconds:.1f}"])
    headers = ["fold", *keys, "best epoch", "epochs", "val images", "s/epoch", "seconds"]
    return "<h2>Folds</h2>\n" + _table("folds", headers, rows)


def _roc(run: Run, labels, probs) -> str:
    columns = roc_columns(run.competition.target.kind, labels, probs, run.class_names)
    figure = roc_figure(columns, f"out-of-fold ROC ({run.competition.metric})")
    return f'<h2>ROC curves (out of fold)</h2>\n<div id="roc">{_png(plots.png_bytes(figure), "ROC curves", "figure")}</div>'


def _per_label(run: Run, labels, probs) -> str:
    rows = per_label_rows(labels, probs, run.class_names, read_decisions(run.dir, len(run.class_names)))
    return "<h2>Per label (out of fold)</h2>\n" + _table("per-label", PER_LABEL_HEADERS, rows)


def _confusion(run: Run, labels, probs) -> str:
    decisions = read_decisions(run.dir, len(run.class_names))
    figure = plots.confusion_figure(labels, hard_predictions(run.competition.target.kind, probs, decisions),
                                    run.class_names)
    image = _png(plots.png_bytes(figure), "confusion matrix", "figure")
    return f'<h2>Out-of-fold confusion</h2>\n<div id="confusion">{image}</div>'


def _per_class(run: Run, labels, probs) -> str:
    names, pred, f1_too = run.class_names, probs.argmax(1), run.competition.metric == "macro_f1"
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, pred, labels=np.arange(len(names)), zero_division=0)
    rows = []
    for c, name in enumerate(names):
        correct = int(((labels == c) & (pred == c)).sum())
        row = [name, int(support[c]), correct, float(recall[c]) if support[c] else "-"]
        rows.append(row + ([float(precision[c]), float(f1[c])] if f1_too else []))
    headers = ["class", "images", "correct", "accuracy"] + (["precision", "F1"] if f1_too else [])
    return "<h2>Per class (out of fold)</h2>\n" + _table("per-class", headers, rows)


def _train_images(run: Run):
    """(the run's training images as training decodes them, or None; why not)."""
    try:
        dataset = reopen_data(run, advice="")  # the thumbnails must be the images the run was scored on
        return load_train_images(run.competition, dataset, run.subset), ""
    except CompError as e:
        return None, str(e)


def _mistakes(run: Run, rows, labels, probs, say) -> str:
    names, pred = run.class_names, probs.argmax(1)
    p_true = probs[np.arange(len(labels)), labels]
    wrong = np.flatnonzero(pred != labels)
    if not len(wrong):
        return '<h2>Costliest mistakes</h2>\n<p id="no-mistakes">No out-of-fold mistakes.</p>'
    shown = wrong[np.argsort(p_true[wrong], kind="stable")][:MAX_MISTAKES]
    images, why = _train_images(run)
    if images is None:
        say(f"warning: report without images: {why}")
    table = run.fold_table()
    figures = []
    for i in shown:
        row = rows[i]
        thumb = (_png(_thumbnail(images[row]), table["id"][row]) if images is not None
                 else '<div class="noimg">no image</div>')
        caption = (f"{escape(table['id'][row])} (fold {table['fold'][row]})<br>true {escape(names[labels[i]])} "
                   f"p={p_true[i]:.3f}<br>predicted {escape(names[pred[i]])} p={probs[i, pred[i]]:.3f}")
        figures.append(f'<figure class="mistake">{thumb}<figcaption>{caption}</figcaption></figure>')
    note = f'<p class="warning">Images not shown: {escape(why)}</p>\n' if images is None else ""
    intro = (f"<p>The {len(shown)} of {len(wrong)} misclassified out-of-fold images whose true class got "
             f"the lowest probability.</p>")
    grid = '<div class="grid" id="mistakes">\n' + "\n".join(figures) + "\n</div>"
    return f"<h2>Costliest mistakes</h2>\n{intro}\n{note}{grid}"


def _ledger() -> tuple[dict[str, dict], str]:
    """comp.submit.ledger's rows by CSV path and by file name; a note where there is none or it cannot be read."""
    path = ledger_path()
    if not path.is_file():
        return {}, f"no leaderboard ledger ({path})"
    try:
        frame = read_ledger(path)
    except CompError as e:
        return {}, f"the ledger cannot be read: {e}"
    out = {}
    for record in frame.to_dict("records"):  # a later row of a CSV wins
        out[record["csv"]] = record
        out.setdefault("name:" + record["csv"].replace("\\", "/").rsplit("/", 1)[-1], record)
    return out, ""


def _score(entry: dict, board: str) -> str:
    """A ledger row's ``public`` / ``private`` score; ``-``: none."""
    return entry.get(board) or "-"


def _submissions(run: Run, say=lambda msg: None) -> str:
    """The submissions that name the run (a damaged manifest is skipped with a warning through ``say``)."""
    competition = run.competition_name
    manifests = manifests_for_run(run.id, competition, say)
    if not manifests:
        return (f'<h2>Submissions</h2>\n<p id="no-submissions">No submission names this run yet '
                f"(comp predict -c {escape(competition)} --run {escape(run.id)} --ensemble).</p>")
    ledger, note = _ledger()
    rows = []
    for m in manifests:
        entry = ledger.get(m.csv) or ledger.get("name:" + m.csv.replace("\\", "/").rsplit("/", 1)[-1], {})
        oof = m.blend.oof_score if m.blend is not None else m.record(run.id).oof_score
        rows.append([m.csv, ", ".join(m.run_ids), m.ensemble, m.tta, oof,
                     _score(entry, "public"), _score(entry, "private")])
    headers = ["csv", "runs", "ensemble", "tta", f"OOF {run.competition.metric}", "public LB", "private LB"]
    extra = f"<p>{escape(note)}</p>\n" if note else ""
    return "<h2>Submissions</h2>\n" + extra + _table("submissions", headers, rows)
