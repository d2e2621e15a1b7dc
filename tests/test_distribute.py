"""GPU paths that can be exercised on a CPU: tf.distribute MirroredStrategy over two logical
CPU devices, and the Ray executor on a local Ray instance."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest

MIRRORED_SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np
    from comp.tf_quiet import tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from comp.data.folds import FoldData
    from comp.config.recipe import load_recipe
    from comp.train.fold import train_fold
    recipe = load_recipe("tiny", [f"train.strategy={sys.argv[1]}", "train.epochs=2"])
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (48, 12, 12, 3), dtype=np.uint8)
    y = np.arange(48) % 3
    x[y == 1, :6] = 255  # learnable: class 1 has a bright top half
    data = FoldData(x[:32], y[:32], x[32:], y[32:], x[:5], 3, "accuracy")
    out = train_fold(recipe, data, Path(sys.argv[2]), verbose=0)
    print(json.dumps(out))
""")


def _train(strategy: str, tmp_path) -> tuple[dict, str]:
    proc = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT, strategy, str(tmp_path / strategy)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.mark.slow
def test_mirrored_strategy_trains_a_fold_over_two_logical_cpus(tiny_competition, tmp_path):
    mirrored, log = _train("mirrored", tmp_path)
    assert "mirrored over 2 replicas" in log
    single, _ = _train("none", tmp_path)
    for result in (mirrored, single):
        correct = result["accuracy"] * result["n_val"]  # a share of the validation rows
        assert result["epochs"] == 2 and result["score"] == result["accuracy"] and correct == pytest.approx(round(correct))
        assert math.isfinite(result["log_loss"])
    # Same data, seed and global batch: one and two replicas must land close (keras#21061 gave NaN).
    assert abs(mirrored["log_loss"] - single["log_loss"]) < 0.5
    assert (tmp_path / "mirrored" / "model.keras").is_file()


@pytest.mark.slow
def test_ray_executor_trains_two_folds_on_a_local_instance(tiny_competition, cli):
    pytest.importorskip("ray")
    res = cli("train", "-c", "tiny", "-r", "tiny", "--folds", "2", "--run", "ray",
              "--executor", "ray", "-q", "--set", "train.epochs=1", catch=True)
    assert res.exit_code == 0, res.output
    run = tiny_competition / "runs" / "tiny" / "ray"
    for k in (0, 1):
        assert (run / f"fold-{k}" / "metrics.json").is_file()
    assert json.loads((run / "metrics.json").read_text())["finished_folds"] == 2


def test_a_failed_fold_process_is_named_by_its_fold_and_how_it_ended(monkeypatch, tmp_path):
    from types import SimpleNamespace

    import comp.train.executors as executors

    ends = {1: "pass", 2: "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", 3: "raise SystemExit(3)"}
    monkeypatch.setattr(executors, "fold_command", lambda run_dir, k, parent: [sys.executable, "-c", ends[k]])
    with pytest.raises(executors.CompError) as e:
        executors.run_folds_in_subprocesses(SimpleNamespace(dir=tmp_path), [1, 2], None)
    assert str(e.value).endswith("fold(s) 2 failed (killed by SIGSEGV); re-run the same command to resume")
    with pytest.raises(executors.CompError, match=r"fold\(s\) 3 failed \(exit 3\)"):
        executors.run_folds_in_subprocesses(SimpleNamespace(dir=tmp_path), [3], None)


@pytest.mark.parametrize("code, advice", [
    (2, "its error line above says what to change; re-running as it is fails the same way"),
    (1, "its internal error above is a bug in comp; re-run with --debug for the traceback"),
])
def test_a_fold_that_would_fail_again_is_not_told_to_re_run(monkeypatch, tmp_path, code, advice):
    """A fold that refused its input (a diverged lr, exit 2) or hit a bug (exit 1) is not resumable as it is."""
    from types import SimpleNamespace

    import comp.train.executors as executors

    monkeypatch.setattr(executors, "fold_command", lambda run_dir, k, parent: [sys.executable, "-c",
                                                                                f"raise SystemExit({code})"])
    with pytest.raises(executors.CompError) as e:
        executors.run_folds_in_subprocesses(SimpleNamespace(dir=tmp_path), [0], None)
    assert str(e.value).endswith(f"fold(s) 0 failed (exit {code}); {advice}")
    assert "resume" not in str(e.value)


def test_a_ray_task_starts_its_fold_watching_the_worker_that_runs_it(tmp_path, monkeypatch):
    """When the Ray worker goes (its driver, `comp train`, died), the fold's process exits with
    it instead of training on as an orphan that holds the fold's lock."""
    import os
    from pathlib import Path
    from types import SimpleNamespace

    import comp.train.executors as executors

    class InlineRay:
        """Ray as run_folds_ray calls it, its tasks run here: this process stands for the worker."""
        def __init__(self):
            self.calls = []  # each task's arguments

        def init(self, **kwargs):
            pass

        def shutdown(self):
            pass

        def cluster_resources(self):
            return {}

        def remote(self, **options):
            return lambda task: SimpleNamespace(remote=lambda *args: self.calls.append(args) or task(*args))

        def get(self, result):
            return result

    # the fold writes the arguments it was started with and fails: its last line reaches the error
    echo = [sys.executable, "-c", "import sys; sys.stderr.write(' '.join(sys.argv[1:])); sys.exit(3)", "fold"]
    real = executors.fold_command
    monkeypatch.setattr(executors, "fold_command", lambda run_dir, k, parent: [*echo, *real(run_dir, k, parent)[-2:]])
    ray = InlineRay()
    monkeypatch.setitem(sys.modules, "ray", ray)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(executors.CompError, match=rf"fold 1 failed on the Ray cluster \(exit 3\): "
                                                  rf"fold --parent-pid {os.getpid()}$"):
        executors.run_folds(SimpleNamespace(dir=tmp_path), [1], "ray", None, None)
    assert ray.calls == [(str(tmp_path.resolve()), 1, str(Path.cwd().resolve()))]
