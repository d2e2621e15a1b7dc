"""comp export (code competitions): the dataset and kernel it writes, the kernel run offline in an
environment without comp and without the network giving comp predict's CSV, and the time limit."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from comp.errors import CompError
from comp.export.bundle import slug_of
from comp.export.offline import version_drift
from comp.export.plan import kaggle_owner
from comp.export.timing import Timing, fit_to_limit

# Runs a script with comp absent (no site module: the editable install's finder is never set up;
# the libraries come from PYTHONPATH) and every socket refused.
OFFLINE = """\
import runpy, socket, sys
def refuse(*args, **kwargs):
    raise OSError("network access in an offline kernel")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
try:
    import comp
    sys.exit("comp is importable: not the environment a Kaggle kernel has")
except ImportError:
    pass
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def offline_run(script: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join(site.getsitepackages())
    return subprocess.run([sys.executable, "-S", "-c", OFFLINE, str(script), *args], capture_output=True,
                          text=True, env=env, timeout=300)


def with_platform(root: Path, extra: str) -> None:
    spec = root / "competition" / "tiny.toml"
    spec.write_text(spec.read_text() + f"\n[platform]\nkaggle = \"tiny-code\"\n{extra}\n")


@pytest.mark.slow
def test_the_exported_kernel_writes_comp_predicts_csv_offline_without_comp(tiny_competition, cli, train_args):
    with_platform(tiny_competition, "kernel_time_limit = 9\nkernel_gpu = true")
    assert cli(*train_args, "--folds", "2").exit_code == 0
    predicted = cli("predict", "-c", "tiny", "--ensemble", "--out", "predicted.csv")
    assert predicted.exit_code == 0, predicted.output
    result = cli("export", "-c", "tiny", "--owner", "tester", "--out", "export")
    assert result.exit_code == 0, result.output
    assert "fits the kernel time limit of 9 h" in result.stderr
    dataset, kernel = tiny_competition / "export" / "dataset", tiny_competition / "export" / "kernel"
    meta = json.loads((kernel / "kernel-metadata.json").read_text())
    assert meta["enable_internet"] is False and meta["enable_gpu"] is True
    assert meta["title"].lower().replace(" ", "-") == meta["id"].split("/")[1]  # Kaggle's title -> slug rule
    assert meta["competition_sources"] == ["tiny-code"] and meta["dataset_sources"] == [f"tester/{dataset_slug(dataset)}"]
    export = json.loads((dataset / "export.json").read_text())
    assert [len(r["models"]) for r in export["runs"]] == [2] and export["versions"]["tensorflow"]
    assert {p.name for p in dataset.iterdir()} == {"models", "export.json", "lib", "dataset-metadata.json"}

    run = offline_run(kernel / "kernel.py", "--competition-dir", "data/tiny", "--dataset-dir", str(dataset),
                      "--out", "kernel.csv")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "9 test images, 2 model(s)" in run.stdout
    assert (tiny_competition / "kernel.csv").read_text() == (tiny_competition / "predicted.csv").read_text()


def dataset_slug(dataset: Path) -> str:
    return json.loads((dataset / "dataset-metadata.json").read_text())["id"].split("/", 1)[1]


@pytest.mark.slow
def test_an_export_that_cannot_fit_the_time_limit_is_refused_and_writes_nothing(tiny_competition, cli, train_args):
    with_platform(tiny_competition, "kernel_time_limit = 0.0000001")
    assert cli(*train_args, "--folds", "2").exit_code == 0
    result = cli("export", "-c", "tiny", "--owner", "tester", "--out", "export", "--test-images", "100000000")
    assert result.exit_code == 2, result.output
    assert "over 80% of [platform] kernel_time_limit" in result.stderr and "Traceback" not in result.output
    assert not (tiny_competition / "export").exists()


def test_the_share_is_cut_to_fit_the_limit_and_refused_where_nothing_fits():
    timing = Timing(decode_s=0.001, predict_s=0.01, machine="test")
    said = []
    # per image 1 ms to decode + 5 models x (1 + share x 3) views x 10 ms: share 1: 2,010 s, 0.5: 1,260 s,
    # 0.25: 885 s for 10,000 images; 80 % of 0.4 h: 1,152 s
    assert fit_to_limit(timing, 0.4, 10_000, 5, 4, 1.0, said.append) == 0.25
    assert any("TTA cut" in line and "1 -> 0.25" in line for line in said)
    assert fit_to_limit(timing, 2.0, 10_000, 5, 4, 1.0, said.append) == 1.0
    with pytest.raises(CompError, match="about 0.1 h for 10000 test images with 5 model"):
        fit_to_limit(timing, 0.1, 10_000, 5, 4, 1.0, said.append)


def test_slugs_owner_and_version_drift(monkeypatch, tmp_path):
    assert slug_of("Dacon CIFAR10 / fast-muon-5f-941c79") == "dacon-cifar10-fast-muon-5f-941c79"
    assert slug_of("ab") == "ab-comp-export"
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    with pytest.raises(CompError, match="pass --owner NAME, or set KAGGLE_USERNAME"):
        kaggle_owner(None)
    (tmp_path / "kaggle.json").write_text('{"username": "me", "key": "x"}')
    assert kaggle_owner(None) == "me" and kaggle_owner("you") == "you"
    assert version_drift({"keras": "3.14.0", "numpy": "2.1"}, {"keras": "3.15.1", "numpy": "2.1"}) == \
        ["keras: exported with 3.14.0, running with 3.15.1"]
