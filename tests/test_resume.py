"""Nothing lost: a fold killed mid-way (SIGKILL) resumes from its last finished epoch, finished
folds are not retrained, and a finished run re-run is a no-op."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

CMD = [sys.executable, "-m", "comp", "train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--run", "r",
       "--executor", "inline", "--set", "train.epochs=30"]


def _epochs_logged(path) -> int:
    try:
        return max(0, len(path.read_text().strip().splitlines()) - 1)
    except FileNotFoundError:
        return 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_killed_fold_resumes_and_finished_folds_are_skipped(tiny_competition):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    history = tiny_competition / "runs/tiny/r/fold-1/history.csv"
    proc = subprocess.Popen(CMD, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 240
    while _epochs_logged(history) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stdout.read().decode()
    os.killpg(proc.pid, signal.SIGKILL)  # no clean-up: exactly what a pre-empted machine does
    proc.wait()
    fold0 = tiny_competition / "runs/tiny/r/fold-0"
    fold1 = tiny_competition / "runs/tiny/r/fold-1"
    assert (fold0 / "metrics.json").is_file()  # fold 0 finished before the kill
    assert not (fold1 / "metrics.json").exists()
    assert (fold1 / "backup" / "training_metadata.json").is_file()
    fold0_model_mtime = (fold0 / "model.keras").stat().st_mtime_ns

    again = subprocess.run(CMD, env=env, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr
    assert "fold(s) 0 already finished: skipped" in again.stderr
    assert "[fold-1] resuming after epoch" in again.stderr
    assert "[fold-0]" not in again.stderr  # fold 0 is not retrained
    assert (fold0 / "model.keras").stat().st_mtime_ns == fold0_model_mtime
    for name in ("model.keras", "history.csv", "oof.npy", "test.npy", "metrics.json"):
        assert (fold1 / name).is_file()
    hist = pd.read_csv(fold1 / "history.csv")
    assert list(hist["epoch"]) == list(range(30))  # every epoch once, none repeated
    assert json.loads((fold1 / "metrics.json").read_text())["epochs"] == 30
    assert not (fold1 / "backup").exists()
    summary = json.loads((tiny_competition / "runs/tiny/r/metrics.json").read_text())
    assert summary["finished_folds"] == 2 and summary["oof_rows"] == 36

    noop = subprocess.run(CMD, env=env, capture_output=True, text=True, timeout=120)
    assert noop.returncode == 0
    assert "nothing to train" in noop.stderr


def test_restart_starts_over(tiny_competition, cli):
    args = ["train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--fold", "0", "--run", "x",
            "--executor", "inline", "-q", "--set", "train.epochs=1"]
    assert cli(*args, catch=True).exit_code == 0
    first = (tiny_competition / "runs/tiny/x/fold-0/metrics.json").stat().st_mtime_ns
    res = cli(*args, "--restart", catch=True)
    assert res.exit_code == 0
    assert "already finished" not in res.stderr
    assert (tiny_competition / "runs/tiny/x/fold-0/metrics.json").stat().st_mtime_ns != first


def test_changed_config_in_an_existing_run_is_refused(tiny_competition, cli):
    base = ["train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--fold", "0", "--run", "y",
            "--executor", "inline", "-q"]
    assert cli(*base, "--set", "train.epochs=1", catch=True).exit_code == 0
    res = cli(*base, "--set", "train.epochs=2", catch=True)
    assert res.exit_code == 2
    assert "already exists with a different config" in res.stderr and "train.epochs: 1 -> 2" in res.stderr
