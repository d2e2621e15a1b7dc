"""``comp report``: a tiny run's HTML page, partial and whole, rendered in headless Chromium.

The page is loaded from disk with a small script added that, once the page has loaded, writes
what the browser shows into a ``<pre>``: every table's cells (their innerText), the number of
thumbnails laid out in the mistakes grid, and how many ``<img>`` decoded (naturalWidth > 0).
``chromium --dump-dom`` prints the DOM after it ran. Chromium comes from the Debian packages
``chromium`` and ``chromium-driver`` (.ci/run installs them); without a binary the browser
test is skipped.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from comp.submit.ledger import COLUMNS

LEDGER_HEAD = ",".join(COLUMNS)
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
TRAIN = ("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--run", "rep", "--set", "train.epochs=1",
         "--executor", "inline", "-q")

PROBE = """<script>
window.addEventListener("load", () => {
  const tables = {};
  for (const t of document.querySelectorAll("table[id]"))
    tables[t.id] = [...t.rows].map(r => [...r.cells].map(c => c.innerText.trim()));
  const images = [...document.images];
  const shown = [...document.querySelectorAll("#mistakes figure")].filter(f => f.offsetWidth > 0);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({tables, shown: shown.length, images: images.length,
    decoded: images.filter(i => i.complete && i.naturalWidth > 0).length});
  document.body.appendChild(out);
});
</script>"""


def render(page, tmp_path) -> dict:
    """What Chromium shows of ``page``: the probe's JSON from the DOM after the load event."""
    probed = page.with_name("probed.html")  # beside the page: the same folder, as a reader opens it
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=5000",
           "--dump-dom", probed.resolve().as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    probed.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run; Chromium printed: {dom[:500]}"
    return json.loads(html.unescape(found.group(1)))


def expected_mistakes(run_dir, classes: list[str]) -> int:
    table = pd.read_csv(run_dir / "folds.csv", dtype={"id": str, "label": str})
    rows = np.concatenate([np.flatnonzero(table["fold"] == k) for k in (0, 1)])
    probs = np.concatenate([np.load(run_dir / f"fold-{k}" / "oof.npy") for k in (0, 1)])
    truth = table["label"].map(classes.index).to_numpy()[rows]
    return min(24, int((probs.argmax(1) != truth).sum()))


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium chromium-driver; "
                                              ".ci/run installs it)")
def test_report_of_a_partial_then_whole_run_renders_in_chromium(tiny_competition, tmp_path, cli, tiny_classes):
    first = cli(*TRAIN, "--fold", "0", catch=True)
    assert first.exit_code == 0, first.output
    run_dir = tiny_competition / "runs" / "tiny" / "rep"
    partial = cli("report", "rep", catch=True)  # the competition found from the run id
    assert partial.exit_code == 0, partial.output
    page = tiny_competition / partial.stdout.strip()
    assert page == run_dir / "report" / "index.html"
    assert 'id="missing-folds"' in page.read_text() and "fold(s) 1" in page.read_text()

    second = cli(*TRAIN, catch=True)
    assert second.exit_code == 0, second.output
    pred = cli("predict", "-c", "tiny", "--run", "rep", "--ensemble", catch=True)
    assert pred.exit_code == 0, pred.output
    csv = pred.stdout.strip()
    (tiny_competition / "submissions" / "ledger.csv").write_text(f"{LEDGER_HEAD}\nt,tiny,{csv},,rep,accuracy,,,0.6123,,\n")
    whole = cli("report", "rep", "-c", "tiny", catch=True)
    assert whole.exit_code == 0, whole.output
    assert whole.stdout.strip() == str(page.relative_to(tiny_competition))
    assert "missing-folds" not in page.read_text()

    shown = render(page, tmp_path)
    folds = shown["tables"]["folds"]
    assert folds[0][:3] == ["fold", "accuracy", "log_loss"] and [r[0] for r in folds[1:]] == ["0", "1", "OOF"]
    for k in (0, 1):
        m = json.loads((run_dir / f"fold-{k}" / "metrics.json").read_text())
        assert folds[k + 1][1:5] == [f"{m['score']:.4f}", f"{m['log_loss']:.4f}", str(m["best_epoch"]),
                                     str(m["epochs"])]
        assert folds[k + 1][-1] == f"{m['seconds']:.1f}"
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert folds[3][1] == f"{summary['oof_score']:.4f}" and folds[3][5] == "36"
    per_class = shown["tables"]["per-class"]
    assert [r[0] for r in per_class[1:]] == tiny_classes and sum(int(r[1]) for r in per_class[1:]) == 36
    n = expected_mistakes(run_dir, tiny_classes)
    assert shown["shown"] == n
    assert shown["images"] == 2 + n and shown["decoded"] == shown["images"]  # curves, confusion, thumbnails
    (submission,) = shown["tables"]["submissions"][1:]
    assert submission[0] == csv and submission[1] == "rep" and submission[5:] == ["0.6123", "-"]


def test_a_run_with_no_finished_folds_is_one_error_line(tiny_competition, cli):
    import tomli_w

    from comp.config.recipe import load_recipe
    from comp.config.spec import load_competition
    from comp.runs.config import build_run_config

    run_dir = tiny_competition / "runs" / "tiny" / "empty"
    run_dir.mkdir(parents=True)
    config = build_run_config(load_competition("tiny"), load_recipe("tiny"), "tiny", [], 2)
    (run_dir / "config.toml").write_text(tomli_w.dumps(config.to_table()))
    result = cli("report", "empty", "-c", "tiny", catch=True)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: run 'empty' has no finished folds (0 of 2): nothing to report yet"]
    assert not (run_dir / "report").exists()


def test_an_unknown_run_is_named(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    result = cli("report", "nope", catch=True)
    assert result.exit_code == 2 and "no run 'nope'" in result.output


def test_cells_are_escaped():
    from comp.report.page import _table

    out = _table("t", ["<h>"], [["<script>alert(1)</script>"], ["a & b"]])
    assert "<script>" not in out and "&lt;script&gt;" in out and "a &amp; b" in out and "&lt;h&gt;" in out


def test_per_class_f1_where_the_metric_is_macro_f1():
    from types import SimpleNamespace

    from sklearn.metrics import f1_score

    from comp.report.page import _per_class

    labels = np.array([0, 0, 1, 1, 2, 2])
    probs = np.eye(3)[[0, 1, 1, 1, 0, 2]]
    run = SimpleNamespace(class_names=["a<b", "c", "d"], competition=SimpleNamespace(metric="macro_f1"))
    out = _per_class(run, labels, probs)
    assert "<th>F1</th>" in out and "a&lt;b" in out
    for f1 in f1_score(labels, probs.argmax(1), average=None):
        assert f'<td class="num">{f1:.4f}</td>' in out
    run.competition.metric = "accuracy"
    assert "F1" not in _per_class(run, labels, probs)


def test_submissions_take_the_ledger_scores_by_csv_path_or_name(tmp_path, monkeypatch, a_manifest):
    from types import SimpleNamespace

    from pathlib import Path

    from comp.report.page import _submissions
    from comp.submit.submission import write_submission

    monkeypatch.chdir(tmp_path)
    run = SimpleNamespace(id="r1", competition_name="tiny", competition=SimpleNamespace(metric="accuracy"))
    assert 'id="no-submissions"' in _submissions(run)
    (tmp_path / "submissions").mkdir()
    for name, runs in (("tiny-r1-1", ["r1"]), ("tiny-blend2-2", ["r1", "r2"]), ("tiny-r2-3", ["r2"])):
        write_submission(pd.DataFrame({"id": ["1"], "target": ["a"]}), Path("submissions") / f"{name}.csv",
                         a_manifest(runs, oof=0.5))
    out = _submissions(run)  # no ledger: the submissions, without leaderboard scores
    assert "tiny-r1-1.csv" in out and "tiny-blend2-2.csv" in out and "tiny-r2-3" not in out
    assert "no leaderboard ledger" in out
    (tmp_path / "submissions" / "ledger.csv").write_text(
        f"{LEDGER_HEAD}\nt,tiny,submissions/tiny-r1-1.csv,,r1,accuracy,,,0.71,0.70,x\n"
        "t,tiny,tiny-blend2-2.csv,,r1 r2,accuracy,,,0.74,,<b>\n")
    out = _submissions(run)
    assert "<td>0.71</td>" not in out  # numbers right-aligned
    assert '<td class="num">0.71</td><td class="num">0.70</td>' in out
    assert '<td class="num">0.74</td><td>-</td>' in out and "no leaderboard ledger" not in out
    (tmp_path / "submissions" / "ledger.csv").write_text(  # a later row of a CSV wins
        f"{LEDGER_HEAD}\nt,tiny,submissions/tiny-r1-1.csv,,r1,accuracy,,,0.71,0.70,x\n"
        "t,tiny,submissions/tiny-r1-1.csv,,r1,accuracy,,,0.69,0.68,y\n")
    assert '<td class="num">0.69</td><td class="num">0.68</td>' in _submissions(run)
    (tmp_path / "submissions" / "ledger.csv").write_text("file,score\nx,1\n")  # not the ledger's columns
    assert "cannot be read" in _submissions(run) and "not a comp ledger" in _submissions(run)
