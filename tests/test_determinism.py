"""Determinism: the same seed gives the same folds and, on CPU, the same out-of-fold predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _train(cli, run: str, seed: int) -> None:
    res = cli("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--fold", "0",
              "--run", run, "--executor", "inline", "-q", "--set", f"train.seed={seed}", catch=True)
    assert res.exit_code == 0, res.output


@pytest.mark.slow
def test_same_seed_same_folds_and_oof_predictions(tiny_competition, cli):
    _train(cli, "a", 7)
    _train(cli, "b", 7)
    _train(cli, "c", 8)
    runs = tiny_competition / "runs" / "tiny"
    folds = {r: pd.read_csv(runs / r / "folds.csv", dtype=str) for r in "abc"}
    pd.testing.assert_frame_equal(folds["a"], folds["b"])
    assert not folds["a"]["fold"].equals(folds["c"]["fold"])  # another seed, another split
    oof_a = np.load(runs / "a" / "fold-0" / "oof.npy")
    oof_b = np.load(runs / "b" / "fold-0" / "oof.npy")
    np.testing.assert_allclose(oof_a, oof_b, atol=1e-5)
    hist_a = pd.read_csv(runs / "a" / "fold-0" / "history.csv")
    hist_b = pd.read_csv(runs / "b" / "fold-0" / "history.csv")
    np.testing.assert_allclose(hist_a["loss"], hist_b["loss"], rtol=1e-5)
