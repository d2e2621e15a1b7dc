"""comp.train.compare through ``comp compare`` and ``comp sweep``: every row is a real run, the table is
written as Markdown and CSV (best first) with a bar chart, and bad rows fail before any training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from comp.train.compare import grid_rows, parse_grid, sort_best_first, split_list, split_values
from comp.report.plots import markdown_table
from comp.errors import CompError
from comp.predict.probs import load_model
from comp.tf_quiet import keras

TABLE_COLUMNS = ["model", "params", "oof_accuracy", "oof_log_loss", "train_seconds", "images_per_second", "run"]


def written(tiny_competition, result) -> tuple:
    out_dir = tiny_competition / result.stdout.strip()
    assert out_dir.parent == tiny_competition / "runs" / "tiny"
    for name in ("table.md", "table.csv"):
        assert (out_dir / name).is_file()
    assert (out_dir / "chart.png").stat().st_size > 1000
    assert not list(out_dir.glob(".tmp-*"))
    return out_dir, pd.read_csv(out_dir / "table.csv")


@pytest.mark.slow
def test_compare_trains_a_backbone_and_a_recipe_and_writes_the_table_and_chart(tiny_competition, cli):
    args = ["compare", "-c", "tiny", "--backbones", "MobileNetV2", "--recipes", "tiny", "--folds", "1",
            "--executor", "inline", "-q", "--set", "model.weights=none", "--set", "model.input_size=32",
            "--set", "train.epochs=1", "--set", "train.batch_size=8", "--set", "predict.batch_size=32"]
    res = cli(*args)
    assert res.exit_code == 0, res.output
    assert "recipe tiny: model.weights=none, model.input_size=32 not applied (its model has no such option)" \
        in res.stderr
    out_dir, table = written(tiny_competition, res)
    assert list(table.columns) == ["row", *TABLE_COLUMNS]
    assert sorted(table["row"]) == ["MobileNetV2", "tiny"]
    assert table["oof_accuracy"].is_monotonic_decreasing
    by_row = table.set_index("row")
    assert by_row.loc["MobileNetV2", "model"] == "transfer:MobileNetV2"
    assert by_row.loc["MobileNetV2", "params"] > by_row.loc["tiny", "params"]
    assert (table["images_per_second"] > 0).all() and (table["train_seconds"] > 0).all()
    transfer_run = tiny_competition / "runs" / "tiny" / by_row.loc["MobileNetV2", "run"]
    assert transfer_run.name.startswith("transfer-MobileNetV2-1f-")
    assert (transfer_run / "fold-0" / "metrics.json").is_file() and not (transfer_run / "fold-0" / "backup").exists()
    # weights=none: nothing to protect, so no frozen phase; the backbone trains as a whole and its
    # batch norm learns (frozen, its moving statistics would still be the initial 0 and 1)
    assert "phase 1" not in res.stderr
    backbone = load_model(transfer_run / "fold-0" / "model.keras").get_layer("backbone")
    assert all(layer.trainable for layer in backbone.layers)
    first_bn = next(layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization))
    moving_mean = np.asarray(first_bn.moving_mean)
    assert np.abs(moving_mean).max() > 0
    markdown = (out_dir / "table.md").read_text()
    assert "| row | model | params |" in markdown and "| MobileNetV2 | transfer:MobileNetV2 |" in markdown
    assert "| row | model | params |" in res.stderr  # printed too

    again = cli(*args)  # every row finished: reused, not retrained
    assert again.exit_code == 0
    assert again.stderr.count("nothing to train: every requested fold is finished") == 2
    _, table_again = written(tiny_competition, again)
    pd.testing.assert_frame_equal(table_again, table)


@pytest.mark.slow
def test_sweep_over_a_2x2_grid_writes_a_table_best_first(tiny_competition, cli):
    res = cli("sweep", "-c", "tiny", "-r", "tiny", "--grid", "train.batch_size=4,8", "--grid", "train.lr=0.01,0.05",
              "--folds", "1", "--executor", "inline", "-q", "--set", "train.epochs=1")
    assert res.exit_code == 0, res.output
    _, table = written(tiny_competition, res)
    assert list(table.columns) == ["row", "train.batch_size", "train.lr", *TABLE_COLUMNS]
    assert len(table) == 4 and len(set(table["run"])) == 4
    assert sorted(zip(table["train.batch_size"], table["train.lr"])) == [(4, 0.01), (4, 0.05), (8, 0.01), (8, 0.05)]
    pd.testing.assert_frame_equal(table, sort_best_first(table, "accuracy"))
    ranked = list(zip(-table["oof_accuracy"], table["oof_log_loss"]))
    assert ranked == sorted(ranked)  # best accuracy first, ties by lower log loss
    assert "sweep 4/4" in res.stderr


# --------------------------------------------------------------------------- bad rows fail first


@pytest.mark.parametrize("args, message", [
    (["compare", "--backbones", "MobileNetV9"], "unknown backbone 'MobileNetV9'. Did you mean 'MobileNetV2'?"),
    (["compare"], "nothing to compare: pass --backbones and/or --recipes"),
    (["compare", "--backbones", "VGG16,VGG16"], "'VGG16' is listed twice"),
    (["compare", "--recipes", "tiny", "--set", "train.epoch=1"], "unknown key 'train.epoch'. Did you mean 'train.epochs'?"),
    (["sweep", "-r", "tiny", "--grid", "train.epoch=1,2"], "unknown key 'train.epoch'. Did you mean 'train.epochs'?"),
    (["sweep", "-r", "tiny", "--grid", "train.epochs"], "--grid expects key=value1,value2,..."),
    (["sweep", "-r", "tiny", "--grid", "train.epochs=1,2", "--grid", "train.epochs=3"], "--grid names train.epochs twice"),
])
def test_bad_rows_fail_before_anything_trains(tiny_competition, args, message, cli):
    res = cli(*args, "-c", "tiny")
    assert res.exit_code == 2
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tiny_competition / "runs").exists()


# --------------------------------------------------------------------------- parsing and tables


def test_grid_values_split_at_top_level_commas_and_read_as_toml():
    assert parse_grid("train.batch_size=100,200") == ("train.batch_size", ["100", "200"], [100, 200])
    assert parse_grid("model.widths=[8,16],[16, 32]")[2] == [[8, 16], [16, 32]]
    assert parse_grid("train.schedule=cosine,'linear'")[2] == ["cosine", "linear"]
    assert split_values('a,"b,c",[1,2]') == ["a", '"b,c"', "[1,2]"]
    assert split_list(" MobileNetV2, ResNet50V2,,") == ["MobileNetV2", "ResNet50V2"]
    with pytest.raises(CompError, match=r"Received: --grid 'train.epochs=1,'"):
        parse_grid("train.epochs=1,")


def test_a_grid_is_the_product_of_its_axes():
    rows = grid_rows("fast", ["train.batch_size=100,200", "train.epochs=20,30,40"], ["augment.flip=false"])
    assert len(rows) == 6
    assert rows[0].label == "train.batch_size=100 train.epochs=20"
    assert rows[0].overrides == ["augment.flip=false", "train.batch_size=100", "train.epochs=20"]
    assert rows[-1].settings == {"train.batch_size": 200, "train.epochs": 40}


def test_log_loss_competitions_rank_lower_first_and_markdown_aligns_numbers():
    table = pd.DataFrame({"row": ["a", "b"], "model": ["fast", "vgg"], "params": [1200, 4_700_000],
                          "oof_accuracy": [0.9, 0.8], "oof_log_loss": [0.5, 0.3], "train_seconds": [10.0, 20.0],
                          "images_per_second": [100.0, 50.0], "run": ["r1", "r2"]})
    assert sort_best_first(table, "log_loss")["row"].tolist() == ["b", "a"]
    assert sort_best_first(table, "accuracy")["row"].tolist() == ["a", "b"]
    lines = markdown_table(table).splitlines()
    assert lines[0] == "| row | model | params | oof_accuracy | oof_log_loss | train_seconds | images_per_second | run |"
    assert lines[1] == "|---|---|---:|---:|---:|---:|---:|---|"
    assert lines[3] == "| b | vgg | 4,700,000 | 0.8000 | 0.3000 | 20.0 | 50.0 | r2 |"
