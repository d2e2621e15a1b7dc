"""Nothing outside its folder: ids and names that would become paths are refused with one line,
and no write or delete leaves runs/, data/.cache/ or submissions/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from comp.errors import CompError


def _a_finished_looking_run(root: Path) -> Path:
    keep = root / "runs" / "tiny" / "keep-me"
    keep.mkdir(parents=True)
    (keep / "config.toml").write_text("# someone's run\n")
    return keep


@pytest.mark.parametrize("run_id", ["..", ".", "../..", "a/b", ".hidden", "x" * 200, "sp ace"])
def test_a_run_id_that_is_not_a_plain_name_is_refused_before_any_delete(tiny_competition, run_id, cli, train_args,
                                                                        error_line):
    keep = _a_finished_looking_run(tiny_competition)
    result = cli(*train_args, "--run", run_id, "--restart")
    error_line(result, "--run must be a plain name", f"Received: --run={run_id!r}", only_line=False)
    assert (keep / "config.toml").is_file()  # runs/ and every run in it survive


def test_restart_with_an_absolute_run_folder_deletes_nothing(tiny_competition, tmp_path_factory, cli, train_args,
                                                             error_line):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "precious.txt").write_text("not comp's")
    result = cli(*train_args, "--run", str(elsewhere), "--restart")
    error_line(result, "--run must be a plain name", only_line=False)
    assert (elsewhere / "precious.txt").read_text() == "not comp's"


@pytest.mark.parametrize("name", ["../..", "../outside", "a/b", ""])
def test_a_spec_name_that_is_not_a_plain_name_is_refused(tiny_competition, name, cli, train_args, error_line):
    spec = tiny_competition / "competition" / "tiny.toml"
    spec.write_text(spec.read_text().replace('name = "tiny"', f'name = "{name}"'))
    result = cli(*train_args)
    expected = "the key 'name' is required" if not name else "name must be a plain name"
    error_line(result, "competition/tiny.toml", expected)
    assert not (tiny_competition.parent / "runs").exists() and not (tiny_competition / "runs").exists()
    assert not (tiny_competition / "data" / ".cache").exists()


def test_predict_refuses_a_run_id_that_leaves_runs(tiny_competition, cli, error_line):
    error_line(cli("predict", "-c", "tiny", "--run", "../../etc"), "--run must be a plain name")


# --------------------------------------------------------------------------- locks


def _hold_in_another_process(path: Path):
    """A process that holds comp's lock on ``path`` until it is killed; returns it once it holds it."""
    import subprocess
    import sys
    import time

    code = ("import sys, time\nfrom comp.files.locks import hold\n"
            "with hold(sys.argv[1], 'x', 'held'):\n    print('held', flush=True)\n    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    time.sleep(0.05)
    return proc


@pytest.mark.parametrize("extra", [[], ["--restart"]])
def test_a_second_train_of_a_run_in_training_stops_at_once(tiny_competition, extra, cli, train_args, error_line):
    lock = tiny_competition / "runs" / "tiny" / ".busy.lock"
    holder = _hold_in_another_process(lock)
    try:
        result = cli(*train_args, "--folds", "2", "--run", "busy", *extra)
        error_line(result, "run 'busy' is being trained by process", str(holder.pid), only_line=False)
    finally:
        holder.kill()
        holder.wait()
    # a lock whose process was killed blocks nobody
    again = cli(*train_args, "--folds", "2", "--run", "busy", "--set", "train.epochs=1")
    assert again.exit_code == 0, again.output


def test_a_stray_train_fold_on_a_fold_in_training_stops(tiny_competition, cli, train_args, error_line):
    assert cli(*train_args, "--folds", "2", "--fold", "0", "--run", "f", "--set", "train.epochs=1").exit_code == 0
    holder = _hold_in_another_process(tiny_competition / "runs" / "tiny" / "f" / ".fold-1.lock")
    try:
        result = cli("train-fold", "--run-dir", "runs/tiny/f", "--fold", "1")
        error_line(result, "fold 1 of run 'f' is being trained by process", only_line=False)
    finally:
        holder.kill()
        holder.wait()
    assert not (tiny_competition / "runs" / "tiny" / "f" / "fold-1" / "metrics.json").exists()


# --------------------------------------------------------------------------- interrupted writes


def test_a_run_interrupted_while_it_is_created_is_created_again(tiny_competition, monkeypatch, cli, train_args):
    import comp.runs.run

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(comp.runs.run, "write_json", killed)  # classes.json, after config.toml
        assert cli(*train_args, "--folds", "2", "--run", "c", "--set", "train.epochs=1").exit_code == 130
    again = cli(*train_args, "--folds", "2", "--run", "c", "--set", "train.epochs=1")
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in (tiny_competition / "runs" / "tiny").iterdir() if p.name.startswith(".tmp")) == []


def test_restart_deletes_the_old_run_only_once_the_new_one_is_written(tiny_competition, monkeypatch, cli, train_args):
    """--restart is destructive: a failure while the new run is written (a full disk) keeps the old run whole."""
    import comp.runs.run
    from comp.errors import CompError

    args = (*train_args, "--folds", "2", "--fold", "0", "--run", "r", "--set", "train.epochs=1")
    assert cli(*args).exit_code == 0
    run = tiny_competition / "runs" / "tiny" / "r"
    before = sorted(str(p.relative_to(run)) for p in run.rglob("*"))

    def disk_full(*a, **k):
        raise CompError("runs/tiny/r/classes.json: cannot write (No space left on device)")

    with monkeypatch.context() as m:
        m.setattr(comp.runs.run, "write_json", disk_full)
        result = cli(*args, "--restart", catch=True)
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*")) == before
    assert [p.name for p in run.parent.iterdir() if p.name.startswith(".tmp")] == []
    restarted = cli(*args, "--restart")
    assert restarted.exit_code == 0 and "already finished" not in restarted.stderr


def test_a_fold_killed_while_saving_its_results_resumes_there(tiny_competition, monkeypatch, cli, train_args):
    import numpy as np

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    args = (*train_args, "--folds", "2", "--fold", "0", "--run", "k", "--set", "train.epochs=3")
    with monkeypatch.context() as m:
        m.setattr(np, "save", killed)  # the fold's oof.npy: after fit and model.keras, before metrics.json
        assert cli(*args).exit_code == 130
    again = cli(*args)
    assert again.exit_code == 0, again.output
    assert "resuming after epoch 3 of 3" in again.stderr  # not retrained from epoch 0
    fold = tiny_competition / "runs" / "tiny" / "k" / "fold-0"
    assert len(__import__("pandas").read_csv(fold / "history.csv")) == 3
    assert (fold / "metrics.json").is_file() and not (fold / "backup").exists()


def test_the_backup_names_no_epoch_whose_weights_were_not_saved(tmp_path, monkeypatch):
    import json
    import os

    import comp.files.atomic
    from comp.tf_quiet import keras
    from comp.train.callbacks import AtomicBackupAndRestore

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    backup = AtomicBackupAndRestore(str(tmp_path / "backup"))
    backup.set_model(model)
    backup.on_epoch_end(0)  # the backup after epoch 1, as fit calls it
    assert json.loads((tmp_path / "backup" / "training_metadata.json").read_text())["epoch"] == 1
    real_replace = os.replace

    def weights_fail(src, dst):
        if str(dst).endswith(".weights.h5"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(comp.files.atomic.os, "replace", weights_fail)
    with pytest.raises(CompError, match=r"\.weights\.h5: cannot write \(No space left on device\)"):
        backup.on_epoch_end(1)  # epoch 2's weights cannot be renamed into place
    assert json.loads((tmp_path / "backup" / "training_metadata.json").read_text())["epoch"] == 1


def test_a_planted_symlink_at_a_temporary_name_is_not_followed(tmp_path):
    import os

    from comp.files.atomic import write_json

    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    target = tmp_path / "out" / "metrics.json"
    target.parent.mkdir()
    for name in (f".tmp-{os.getpid()}-metrics.json", f".tmp-{os.getpid()}-metrics.json.tmp"):
        (target.parent / name).symlink_to(victim)  # the names a writer used to pick
    write_json(target, {"a": 1})
    assert victim.read_text() == "keep" and target.read_text().strip().startswith("{")


def test_a_written_file_and_its_folder_are_synced(tmp_path, monkeypatch):
    import os
    import stat

    import comp.files.atomic

    synced = []
    real_fsync = os.fsync

    def record(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        return real_fsync(fd)

    monkeypatch.setattr(comp.files.atomic.os, "fsync", record)
    comp.files.atomic.write_json(tmp_path / "m.json", {"a": 1})
    assert False in synced and True in synced  # the file, then the folder that holds its new name


# --------------------------------------------------------------------------- training that goes wrong


def test_divergence_stops_the_fold_with_the_epoch_and_a_lower_lr(tiny_competition, cli, train_args):
    result = cli(*train_args, "--folds", "2", "--fold", "0", "--run", "nan", "--set", "train.lr=1e12",
                 "--set", "train.weight_decay=0")
    assert result.exit_code == 2 and "Traceback" not in result.output and "internal error" not in result.output
    last = result.stderr.strip().splitlines()[-1]
    assert re.match(r"error: fold-0: training diverged in epoch [12] \((val_)?loss (nan|inf|[0-9.]+e\+[0-9]+)\)", last), last
    assert "train.lr is 1e+12, try --set train.lr=1e+11" in last
    assert not (tiny_competition / "runs" / "tiny" / "nan" / "fold-0" / "metrics.json").exists()


@pytest.mark.parametrize("gpus, message", [("0", "TensorFlow sees no GPU"), ("0,0", "names GPU 0 twice"),
                                           ("x", "takes GPU indices")])
def test_gpus_are_checked_against_the_visible_devices(tiny_competition, gpus, message, cli, train_args, error_line):
    error_line(cli(*train_args, "--gpus", gpus), message)
    from comp.train.devices import check_gpu_ids

    assert check_gpu_ids(["1", "0"], visible=2) == ["1", "0"]
    with pytest.raises(CompError, match="GPU 2 does not exist; TensorFlow sees 2"):
        check_gpu_ids(["2"], visible=2)


# --------------------------------------------------------------------------- saved predictions


@pytest.mark.slow
def test_saved_test_predictions_follow_a_reordered_sample_submission(tiny_competition, cli, train_args):
    import pandas as pd

    learn = ["augment.preset=none", "augment.flip=false", "augment.mixup_alpha=0.0", "train.epochs=8",
             "train.lr=0.05", "model.widths=[16,32]"]
    assert cli(*train_args, "--folds", "2", "--run", "t", *[a for s in learn for a in ("--set", s)]).exit_code == 0
    first = cli("predict", "-c", "tiny", "--ensemble")
    a = pd.read_csv(tiny_competition / first.stdout.strip(), dtype=str).set_index("id")["target"]
    sample = tiny_competition / "data" / "tiny" / "sample_submission.csv"
    frame = pd.read_csv(sample, dtype=str)
    frame.iloc[::-1].to_csv(sample, index=False)  # same ids, other order
    second = cli("predict", "-c", "tiny", "--ensemble")
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    b = pd.read_csv(tiny_competition / second.stdout.strip(), dtype=str)
    assert list(b["id"]) == list(frame["id"][::-1])
    assert dict(zip(b["id"], b["target"])) == a.to_dict()  # each id keeps its own prediction
    assert a.nunique() > 1  # the check means something: the predictions differ between images


# --------------------------------------------------------------------------- reopening a run


def test_corrected_labels_for_the_same_ids_are_not_scored_with_the_old_folds(csv_competition, cli, train_args,
                                                                             error_line):
    import pandas as pd

    root = csv_competition / "data" / "tiny"  # flat/<id>.png and labels.csv
    args = (*train_args, "--folds", "2", "--fold", "0", "--run", "l", "--set", "train.epochs=1")
    assert cli(*args).exit_code == 0
    table = pd.read_csv(root / "labels.csv", dtype=str)
    table.loc[4, "label"] = "stripe" if table.loc[4, "label"] != "stripe" else "circle"  # a corrected label
    table.to_csv(root / "labels.csv", index=False)
    error_line(cli(*args), "folds.csv: 1 training label(s) changed since this run started", "id '00004'",
               only_line=False)


def test_a_changed_image_size_is_refused_when_a_run_is_reopened(tiny_competition, cli, train_args, error_line):
    args = (*train_args, "--folds", "2", "--fold", "0", "--run", "s", "--set", "train.epochs=1")
    assert cli(*args).exit_code == 0
    spec = tiny_competition / "competition" / "tiny.toml"
    spec.write_text(spec.read_text().replace("image_size = [12, 12]", "image_size = [16, 16]"))
    error_line(cli(*args), "already exists with a different config", "competition.data.image_size",
               only_line=False)


def test_a_run_reopened_with_another_data_folder_trains_from_it(tiny_competition, cli, train_args):
    import shutil
    import tomllib

    args = (*train_args, "--folds", "2", "--fold", "0", "--run", "d", "--set", "train.epochs=1")
    assert cli(*args).exit_code == 0
    shutil.copytree(tiny_competition / "data" / "tiny", tiny_competition / "moved", copy_function=shutil.copy2)
    shutil.rmtree(tiny_competition / "data" / "tiny")
    again = cli(*args[:-4], "--fold", "1", "--run", "d", "--set", "train.epochs=1", "--data", "moved")
    assert again.exit_code == 0, again.output
    config = tomllib.loads((tiny_competition / "runs" / "tiny" / "d" / "config.toml").read_text())
    assert config["competition"]["data"]["root"] == "moved"  # what a fold subprocess reads


# --------------------------------------------------------------------------- the fold launcher


def test_folds_are_launched_without_preexec_fn_and_watch_their_parent(tiny_competition, monkeypatch):
    import os
    import subprocess
    import sys
    from types import SimpleNamespace

    import comp.train.executors as executors

    launched = []

    class Finished:
        def __init__(self, args, **kwargs):
            launched.append((args, kwargs))
            self.args, self.returncode = args, 0

        def poll(self):
            return 0

    with monkeypatch.context() as m:
        m.setattr(executors.subprocess, "Popen", Finished)
        executors.run_folds(SimpleNamespace(dir=Path("runs/tiny/r")), [0, 1], "process", None, None)
    assert [a[a.index("--fold") + 1] for a, _ in launched] == ["0", "1"]
    assert all("preexec_fn" not in kw for _, kw in launched)
    assert all(a[a.index("--parent-pid") + 1] == str(os.getpid()) for a, _ in launched)
    # a fold whose parent is gone exits at once, before any work
    orphan = subprocess.run([sys.executable, "-m", "comp", "train-fold", "--run-dir", "runs/tiny/none",
                             "--fold", "0", "--parent-pid", "999999999"], capture_output=True, timeout=120)
    assert orphan.returncode == executors.PARENT_GONE


# --------------------------------------------------------------------------- sizes before work


def test_a_fold_that_cannot_fit_in_memory_is_refused_before_training(tiny_competition, monkeypatch, cli, train_args,
                                                                     error_line):
    import comp.train.memory_budget

    monkeypatch.setattr(comp.train.memory_budget, "available_memory", lambda: 2**30)  # 1 GiB free
    result = cli(*train_args, "--folds", "2", "--run", "m")
    line = error_line(result, "a fold needs about 1.5 GiB of memory", "but 1.0 GiB is available",
                      "lower data.image_size", only_line=False)
    assert "18 training and 18 validation images at 12x12" in line
    assert not list((tiny_competition / "runs" / "tiny" / "m").glob("fold-*"))


def test_the_estimate_grows_with_the_image_size():
    from comp.train.memory_budget import check_fold_memory, fold_memory

    small, large = fold_memory(40_000, 10_000, 10_000, (32, 32)), fold_memory(40_000, 10_000, 10_000, (512, 512))
    assert large - small == (512 * 512 - 32 * 32) * 3 * 90_000  # training rows twice, validation once
    check_fold_memory("r", 40_000, 10_000, 10_000, (32, 32), available=8 * 2**30)  # fits
    with pytest.raises(CompError, match=r"a fold needs about 6[0-9]\.\d GiB"):
        check_fold_memory("r", 40_000, 10_000, 10_000, (512, 512), available=8 * 2**30)


def test_the_decode_cache_is_refused_where_the_disk_is_too_small(tiny_competition, monkeypatch, cli, train_args,
                                                                 error_line):
    from collections import namedtuple

    import comp.data.images

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(comp.data.images.shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 100, 100))
    error_line(cli(*train_args), "the decode cache data/.cache/tiny/train-12x12.npy needs 0.00 GiB",
               "has 0.00 GiB free", "lower data.image_size")


def test_what_killed_writers_left_behind_is_swept(tiny_competition, cli, train_args):
    cache = tiny_competition / "data" / ".cache" / "tiny"
    cache.mkdir(parents=True)
    dead = 2**22 + 12345  # above the default pid_max of 4,194,304: no such process
    (cache / f".tmp-{dead}-x-train-12x12.npy").write_bytes(b"\0" * 4096)  # a decode killed mid-way
    half_run = tiny_competition / "runs" / "tiny" / f".tmp-{dead}-abc"  # a run killed while created
    half_run.mkdir(parents=True)
    (half_run / "config.toml").write_text("")
    assert cli("runs", "-c", "tiny").stdout.strip() == ""  # never listed as a run
    assert cli(*train_args, "--folds", "2", "--fold", "0", "--set", "train.epochs=1").exit_code == 0
    assert not (cache / f".tmp-{dead}-x-train-12x12.npy").exists() and not half_run.exists()


def test_a_second_decode_of_the_same_cache_waits_for_the_first(tmp_path):
    import threading

    from PIL import Image

    from comp.data.images import load_images

    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(paths[-1])
    cache = tmp_path / "cache"
    holder = _hold_in_another_process(tmp_path / ".cache-train-8x8.lock")  # another decode of this cache
    done = threading.Event()
    worker = threading.Thread(target=lambda: (load_images(paths, (8, 8), cache, "train"), done.set()))
    worker.start()
    try:
        assert not done.wait(1.0)  # waiting, not writing beside the other one
    finally:
        holder.kill()
        holder.wait()
    assert done.wait(30)
    worker.join()


def test_a_fold_subprocess_rechecks_the_training_ids_against_folds_csv(tiny_competition, cli, train_args):
    assert cli(*train_args, "--folds", "2", "--fold", "0", "--run", "r", "--set", "train.epochs=1").exit_code == 0
    (tiny_competition / "data" / "tiny" / "train" / "circle" / "0003.png").unlink()
    result = cli("train-fold", "--run-dir", "runs/tiny/r", "--fold", "1")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "folds.csv: the training images changed since this run started" in result.stderr


def test_the_test_key_changes_with_the_order_and_the_files(tiny_competition):
    import os

    from comp.data.images import test_key
    from comp.data.layouts import read_dataset
    from comp.config.spec import load_competition

    competition = load_competition("tiny")
    dataset = read_dataset(competition)
    key = test_key(competition, dataset)
    assert key == test_key(competition, read_dataset(competition))
    first = dataset.test["path"].iloc[0]
    os.utime(first, ns=(10**18, 10**18))  # another file of the same name
    assert test_key(competition, read_dataset(competition)) != key
    reordered = dataset.test.iloc[::-1].reset_index(drop=True)
    assert test_key(competition, type(dataset)(dataset.train, reordered, dataset.class_names)) != \
        test_key(competition, read_dataset(competition))


def test_out_of_memory_says_which_batch_size_to_try(tiny_competition, monkeypatch, cli, train_args):
    from comp.tf_quiet import keras, tf

    def oom(self, *args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape [8,16,12,12]")

    monkeypatch.setattr(keras.Model, "fit", oom)
    result = cli(*train_args, "--folds", "2", "--fold", "0", "--run", "oom")
    assert result.exit_code == 2 and "internal error" not in result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: fold-0: out of memory on CPU") and "train.batch_size=8" in last
    assert "try --set train.batch_size=4" in last


def test_an_atomic_write_gets_the_mode_a_plain_write_would(tmp_path):
    import os

    from comp.files.atomic import write_text

    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # open(): 0o666 less the umask (mkstemp's temporary file starts 0o600)
    write_text(tmp_path / "atomic.csv", "id,target\n")
    assert os.stat(tmp_path / "atomic.csv").st_mode & 0o777 == os.stat(plain).st_mode & 0o777 != 0o600


def test_the_umask_is_read_without_setting_it(monkeypatch):
    import os

    from comp.files import atomic

    mask = os.umask(0o027)
    os.umask(mask)

    def no_setting(_):
        raise AssertionError("os.umask called: another thread could create a file under the wrong mask")

    monkeypatch.setattr(atomic.os, "umask", no_setting)
    assert atomic.process_umask() == mask


@pytest.mark.parametrize("logs, shown", [
    ({"loss": 2.3, "val_loss": float("nan")}, "val_loss nan"),  # weights gone non-finite, the mean train loss not yet
    ({"loss": 1.9e19, "val_loss": 2.30}, "loss 1.9e+19"),  # an absurd lr: finite, but no model learns at that loss
    ({"loss": float("inf")}, "loss inf"),
])
def test_divergence_watches_the_validation_loss_and_an_absurd_loss(logs, shown):
    from comp.errors import CompError
    from comp.train.callbacks import StopOnDivergence

    with pytest.raises(CompError) as e:
        StopOnDivergence("fold-0", 1e12).on_epoch_end(0, logs)
    assert str(e.value) == (f"fold-0: training diverged in epoch 1 ({shown}); lower the learning rate: "
                            f"train.lr is 1e+12, try --set train.lr=1e+11")
    StopOnDivergence("fold-0", 0.1).on_epoch_end(0, {"loss": 2.3, "val_loss": 2.2})  # a sound epoch passes
