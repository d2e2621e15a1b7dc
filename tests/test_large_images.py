"""The large-image recipes end to end at 128 px: `large` (resnet18, random resized crops,
erasing, cutmix/mixup) and `alexnet` (the course model) train with their own augmentation and
training keys (at small widths, one epoch) and write a validated submission."""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

SMALL = {
    "large": ["model.width=8", "model.blocks=[1, 1, 1, 1]", "train.batch_size=8"],
    "alexnet": ["model.widths=[8, 16, 16, 16, 16]", "model.dense=[16, 16, 8]", "train.batch_size=8"],
}


@pytest.mark.parametrize("recipe", sorted(SMALL))
def test_a_large_image_recipe_trains_and_writes_a_checked_submission(tiny_competition, recipe, cli):
    spec = tiny_competition / "competition" / "tiny.toml"
    spec.write_text(spec.read_text().replace("image_size = [12, 12]", "image_size = [128, 128]"))
    sets = [a for s in [*SMALL[recipe], "train.epochs=1"] for a in ("--set", s)]
    trained = cli("train", "-c", "tiny", "-r", recipe, "--folds", "2", "--run", recipe, "--executor",
                  "inline", "-q", *sets)
    assert trained.exit_code == 0, trained.output
    out = tiny_competition / "submissions" / f"{recipe}.csv"
    predicted = cli("predict", "-c", "tiny", "--run", recipe, "--ensemble", "--out", str(out))
    assert predicted.exit_code == 0, predicted.output
    csv = pd.read_csv(out)
    sample = pd.read_csv(tiny_competition / "data" / "tiny" / "sample_submission.csv")
    assert csv["id"].tolist() == sample["id"].tolist()
    assert set(csv["target"]) <= {"circle", "square", "stripe"}
    assert cli("validate", str(out), "-c", "tiny").exit_code == 0
