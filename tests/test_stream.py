"""The streaming input path: the same batches as the in-memory path, read from the memory-mapped
cache a batch at a time, chosen automatically by size, and bounded in memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from comp.data.folds import split_fold
from comp.errors import CompError
from comp.data.stream import Rows, row_batches
from comp.config.recipe import AugmentCfg, Recipe, TrainCfg
from comp.train.memory_budget import check_fold_memory, fold_memory, input_path
from comp.train.pipeline import eval_dataset, train_dataset


@pytest.fixture
def cache(tmp_path):
    """A (40, 8, 8, 3) uint8 memory map on disk, as the decode cache is."""
    x = np.lib.format.open_memmap(tmp_path / "train-8x8.npy", mode="w+", dtype=np.uint8, shape=(40, 8, 8, 3))
    x[:] = np.random.default_rng(0).integers(0, 256, x.shape, dtype=np.uint8)
    x.flush()
    return np.load(tmp_path / "train-8x8.npy", mmap_mode="r")


def test_rows_read_only_their_rows_in_the_order_asked(cache):
    rows = Rows(cache, np.array([3, 5, 7, 30]))
    assert len(rows) == 4 and rows.shape == (4, 8, 8, 3) and rows.nbytes == 4 * 192
    np.testing.assert_array_equal(rows[1:3], cache[[5, 7]])
    np.testing.assert_array_equal(rows[np.array([3, 0])], cache[[30, 3]])
    np.testing.assert_array_equal(np.asarray(rows), cache[[3, 5, 7, 30]])
    assert not isinstance(rows[0:2], np.memmap)  # a copy, never a view into the map
    np.testing.assert_array_equal(rows[:3, 2:5, 1:4], cache[[3, 5, 7], 2:5, 1:4])  # as init_whitening crops


def test_fast_initialises_its_whitening_from_streamed_rows(tmp_path):
    from comp.models import create_model, initialise_model

    x = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.uint8, shape=(30, 16, 16, 3))
    x[:] = np.random.default_rng(1).integers(0, 256, x.shape, dtype=np.uint8)
    rows = Rows(x, np.arange(5, 30))
    streamed, in_memory = create_model("fast", (16, 16, 3), 3), create_model("fast", (16, 16, 3), 3)
    initialise_model("fast", streamed, rows)
    initialise_model("fast", in_memory, np.asarray(rows))
    np.testing.assert_array_equal(streamed.get_layer("whiten").get_weights()[0],
                                  in_memory.get_layer("whiten").get_weights()[0])


def test_a_streamed_fold_copies_nothing_and_holds_the_same_rows(cache):
    fold_of_row = np.arange(40) % 4
    labels = np.arange(40) % 3
    memory = split_fold(fold_of_row, 1, cache, labels, None, 3, "accuracy", "t")
    stream = split_fold(fold_of_row, 1, cache, labels, None, 3, "accuracy", "t", stream=True)
    assert isinstance(stream.x_train, Rows) and stream.x_train.source is cache
    assert isinstance(memory.x_train, np.ndarray) and not isinstance(memory.x_train, np.memmap)
    np.testing.assert_array_equal(np.asarray(stream.x_train), memory.x_train)
    np.testing.assert_array_equal(np.asarray(stream.x_val), memory.x_val)


@pytest.mark.parametrize("augment", [
    dict(preset="none", flip=True, translate=2, cutout=3),
    dict(preset="light", mixup_alpha=0.4, cutmix_alpha=1.0),
])
def test_both_paths_give_the_same_batches_in_every_epoch(cache, augment):
    recipe = Recipe(augment=AugmentCfg(**augment), train=TrainCfg(epochs=3, seed=5))
    labels = np.arange(40) % 3
    rows = Rows(cache, np.arange(2, 38))
    memory = train_dataset(np.asarray(rows), labels[2:38], recipe, 3, 8, initial_epoch=1)
    stream = train_dataset(rows, labels[2:38], recipe, 3, 8, initial_epoch=1)
    steps = len(rows) // 8
    for (xm, ym), (xs, ys) in zip(memory.take(2 * steps), stream.take(2 * steps)):
        np.testing.assert_array_equal(xm.numpy(), xs.numpy())
        np.testing.assert_array_equal(ym.numpy(), ys.numpy())


def test_evaluation_batches_come_in_row_order_with_a_short_last_batch(cache):
    rows = Rows(cache, np.arange(0, 40, 3))  # 14 rows
    sizes, seen = [], []
    for images, targets in eval_dataset(rows, np.arange(14) % 3, 3, 4):
        sizes.append(len(images))
        seen.append(images.numpy())
        assert targets.shape == (len(images), 3)
    assert sizes == [4, 4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(seen), np.asarray(rows).astype(np.float32))
    assert [len(b) for b in row_batches(cache, 16)] == [16, 16, 8]


def test_auto_streams_what_does_not_fit_the_budget_and_keys_force_a_path():
    image = 224 * 224 * 3
    assert input_path("auto", 1.5, 1000, 250, 0, (224, 224)) == "memory"  # 0.19 GB
    assert input_path("auto", 1.5, 20_000, 5_000, 10_000, (224, 224)) == "stream"  # 4.9 GB
    assert input_path("memory", 1.5, 20_000, 5_000, 0, (224, 224)) == "memory"
    assert input_path("stream", 1.5, 10, 5, 0, (32, 32)) == "stream"
    assert input_path("auto", 0.0, 10, 5, 0, (32, 32)) == "stream"  # a budget of 0: always stream
    assert fold_memory(20_000, 5_000, 0, (224, 224), "stream") < fold_memory(4000, 1000, 0, (224, 224))
    assert fold_memory(20_000, 5_000, 0, (224, 224)) - fold_memory(0, 0, 0, (224, 224)) == image * 45_000
    with pytest.raises(CompError, match=r"on the memory path.*--set train\.pipeline=stream"):
        check_fold_memory("r", 20_000, 5_000, 0, (224, 224), available=4 * 2**30)
    check_fold_memory("r", 20_000, 5_000, 0, (224, 224), available=4 * 2**30, path="stream")


@pytest.mark.slow
def test_a_fold_trains_the_same_on_both_paths_and_says_which(tiny_competition, cli, train_args):
    stderr = {}
    for path in ("memory", "stream"):
        args = (*train_args[:-1], "--folds", "2", "--fold", "0", "--run", path, "--set", f"train.pipeline={path}")
        result = cli(*args)
        assert result.exit_code == 0, result.output
        stderr[path] = result.stderr
    assert "input: in memory" in stderr["memory"]
    assert "input: streamed from the decode cache" in stderr["stream"]
    runs = tiny_competition / "runs" / "tiny"
    np.testing.assert_allclose(pd.read_csv(runs / "memory" / "fold-0" / "history.csv")["loss"],
                               pd.read_csv(runs / "stream" / "fold-0" / "history.csv")["loss"], rtol=1e-5)
    np.testing.assert_allclose(np.load(runs / "memory" / "fold-0" / "oof.npy"),
                               np.load(runs / "stream" / "fold-0" / "oof.npy"), atol=1e-5)


GROWTH = textwrap.dedent("""
    import json, sys
    import numpy as np
    from comp.data.stream import Rows
    from comp.config.recipe import AugmentCfg, Recipe, TrainCfg
    from comp.train.pipeline import train_dataset

    def anon():
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024

    cache = np.load(sys.argv[1], mmap_mode="r")
    rows = Rows(cache, np.arange(len(cache)))
    x = rows if sys.argv[2] == "stream" else np.asarray(rows)
    recipe = Recipe(augment=AugmentCfg(preset="none", flip=True), train=TrainCfg(epochs=1))
    labels = np.zeros(len(cache), np.int64)
    warm = train_dataset(Rows(cache, np.arange(64)), labels[:64], recipe, 2, 8)
    for _ in warm.take(2):
        pass  # TensorFlow's own buffers, before the baseline
    before = anon()
    peak = 0
    for _ in train_dataset(x, labels, recipe, 2, 8).take(len(cache) // 8):
        peak = max(peak, anon())
    print(json.dumps({"growth": peak - before}))
""")


@pytest.mark.slow
def test_the_stream_path_holds_a_window_not_the_data(tmp_path):
    """An epoch over 98 MB of 128-px images: the memory path's anonymous memory grows by at
    least the data (the tensor it gathers from), the stream path's by a few batches. Batches of
    8: the window is a number of batches (tf.data's autotuned prefetch), and at batches of 32 it
    reached 39-44 MB, over a third of the data, on a 2-core AVX2 CPU (10-15 MB at 8)."""
    n, shape = 2000, (128, 128, 3)
    x = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.uint8, shape=(n, *shape))
    x[:] = 7
    x.flush()
    del x
    data_bytes = n * int(np.prod(shape))
    growth = {}
    for path in ("memory", "stream"):
        out = subprocess.run([sys.executable, "-c", GROWTH, str(tmp_path / "big.npy"), path],
                             capture_output=True, text=True, check=True)
        growth[path] = json.loads(out.stdout.strip().splitlines()[-1])["growth"]
    assert growth["memory"] > data_bytes, growth
    assert growth["stream"] < data_bytes / 3, growth


def test_a_resumed_stream_sees_the_batches_the_uninterrupted_one_saw(cache):
    """A fold resumed after epoch 1 (BackupAndRestore: initial_epoch=1) reads the batches an
    uninterrupted fold reads from epoch 1 on."""
    recipe = Recipe(augment=AugmentCfg(preset="none", flip=True, translate=2, cutmix_alpha=1.0), train=TrainCfg(epochs=3))
    rows, labels = Rows(cache, np.arange(40)), np.arange(40) % 3
    steps = 40 // 8
    uninterrupted = list(train_dataset(rows, labels, recipe, 3, 8).take(3 * steps))[steps:]
    resumed = list(train_dataset(rows, labels, recipe, 3, 8, initial_epoch=1).take(2 * steps))
    for (xa, ya), (xb, yb) in zip(uninterrupted, resumed):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert not np.array_equal(uninterrupted[0][0].numpy(), uninterrupted[steps][0].numpy())  # epochs differ
