"""Kill anywhere: ``comp train`` and ``comp predict`` SIGKILL-ed at seeded random moments, each
time re-run with the same command, end in the state of an uninterrupted run: the same folds,
every fold finished with the same out-of-fold rows, a valid CSV, and nothing stale on disk (no
temporary files, backups, best-epoch checkpoints or processes left).

Only the ``comp train`` process is killed: its fold subprocesses must notice and exit on their
own. The tiny generated competition stands in for the demo, so that many kill points fit in
the test's time."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

TRAIN_KILLS, PREDICT_KILLS, SEED = 4, 3, 20261201
TRAIN = ["train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--run", "k", "-q", "--set", "train.epochs=3"]
PREDICT = ["predict", "-c", "tiny", "--run", "k", "--ensemble", "--out", "submissions/k.csv", "--force"]


LAST_STDERR: list[str] = [""]  # the last finished command's stderr, for an assertion's message


def comp(root: Path, args: list[str], kill_after: float | None = None) -> int | None:
    """Run ``comp ARGS`` in ``root``; with ``kill_after``, SIGKILL it then (None: it was killed)."""
    proc = subprocess.Popen([sys.executable, "-m", "comp", *args], cwd=root, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        _, LAST_STDERR[0] = proc.communicate(timeout=kill_after if kill_after is not None else 300)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        return None
    return proc.returncode


def fold_processes(root: Path) -> list[int]:
    """Processes still training a fold of a run under ``root``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "train-fold" in text and "runs/tiny/k" in text and int(cmdline.parent.name) != os.getpid():
            try:
                if Path(f"/proc/{cmdline.parent.name}/cwd").resolve() == root.resolve():
                    found.append(int(cmdline.parent.name))
            except OSError:
                continue
    return found


def wait_for_orphans(root: Path, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while fold_processes(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fold_processes(root) == [], "a fold kept running after its comp train was killed"


def stale(root: Path) -> list[str]:
    out = []
    for p in root.rglob("*"):
        if p.name.startswith(".tmp") or p.name.endswith(".tmp") or p.name in ("backup", "best.weights.h5"):
            out.append(str(p.relative_to(root)))
    return out


def finished_state(root: Path) -> dict:
    run = root / "runs" / "tiny" / "k"
    folds = pd.read_csv(run / "folds.csv", dtype=str)
    oof_rows = {k: np.load(run / f"fold-{k}" / "oof.npy").shape for k in (0, 1)}
    metrics = {k: json.loads((run / f"fold-{k}" / "metrics.json").read_text())["epochs"] for k in (0, 1)}
    return {"folds": folds.to_dict("list"), "oof_rows": oof_rows, "epochs": metrics,
            "summary_rows": json.loads((run / "metrics.json").read_text())["oof_rows"]}


@pytest.fixture
def two_copies(tiny_competition, tmp_path_factory):
    """The tiny competition twice: one trained without interruption, one killed again and again."""

    killed = tmp_path_factory.mktemp("killed")
    for name in ("competition", "data"):
        shutil.copytree(tiny_competition / name, killed / name)
    return tiny_competition, killed


def test_kill_train_and_predict_anywhere_then_rerun(two_copies):
    reference, killed = two_copies
    start = time.monotonic()
    assert comp(reference, TRAIN) == 0
    train_seconds = time.monotonic() - start
    start = time.monotonic()
    assert comp(reference, PREDICT) == 0
    predict_seconds = time.monotonic() - start  # about a second: the folds' test predictions are on disk

    rng = np.random.default_rng(SEED)
    kills = 0
    moments = list(rng.uniform(0.3, train_seconds, TRAIN_KILLS))
    while moments:
        moment = moments.pop(0)
        result = comp(killed, TRAIN, kill_after=float(moment))
        kills += result is None
        wait_for_orphans(killed)
        if result == 0 and kills:
            break  # finished before the kill: the remaining points would find nothing to do
        if result == 0 and moment > 0.6:  # faster than the reference (a loaded machine timed it): kill sooner
            shutil.rmtree(killed / "runs")
            moments.insert(0, moment / 2)
    assert kills >= 1
    assert comp(killed, TRAIN) == 0, LAST_STDERR[0][-2000:]
    assert finished_state(killed) == finished_state(reference)

    predict_kills = 0
    for moment in rng.uniform(0.2, predict_seconds, PREDICT_KILLS):
        predict_kills += comp(killed, PREDICT, kill_after=float(moment)) is None
    assert predict_kills >= 1
    assert comp(killed, PREDICT) == 0
    assert comp(killed, ["validate", "submissions/k.csv", "-c", "tiny"]) == 0
    ref_csv = pd.read_csv(reference / "submissions" / "k.csv", dtype=str)
    assert list(pd.read_csv(killed / "submissions" / "k.csv", dtype=str)["id"]) == list(ref_csv["id"])
    assert stale(killed) == [] and fold_processes(killed) == []
    print(f"kills that landed: {kills} of {TRAIN_KILLS} during comp train, {predict_kills} of {PREDICT_KILLS} "
          f"during comp predict")
