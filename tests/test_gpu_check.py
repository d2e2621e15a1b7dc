"""`make gpu-check` (tests/benchmarks/gpu_check.py): it refuses a machine without a GPU in one
line, and with --allow-cpu runs every part on tiny competitions and writes its JSON."""

from __future__ import annotations

import json

import pytest

from tests.benchmarks import gpu_check


def test_without_a_gpu_it_says_so_and_exits_2(tiny_competition, capsys, monkeypatch):
    import comp.train.devices

    monkeypatch.setattr(comp.train.devices.tf.config, "list_physical_devices", lambda kind=None: [])
    assert gpu_check.main(["--small", "tiny", "--large", "tiny", "--large-recipe", "tiny"]) == 2
    assert "gpu-check: no GPU visible (devices: CPU" in capsys.readouterr().err


@pytest.mark.slow
def test_with_allow_cpu_every_part_runs_and_lands_in_the_json(tiny_competition, tmp_path):
    spec = tiny_competition / "competition" / "tiny.toml"
    big = spec.read_text().replace('name = "tiny"', 'name = "tiny64"').replace("[12, 12]", "[64, 64]")
    (tiny_competition / "competition" / "tiny64.toml").write_text(big)  # the same images, decoded at 64 px
    out = tmp_path / "bench"
    args = ["--small", "tiny", "--small-recipe", "tiny", "--set-small", "train.epochs=1", "--large", "tiny64",
            "--set-large", "model.width=8", "--set-large", "model.blocks=[1, 1, 1, 1]", "--set-large",
            "train.batch_size=8", "--steps", "2", "--allow-cpu", "--out", str(out)]
    assert gpu_check.main(args) == 0
    report = json.loads(next(out.glob("gpu-check-*.json")).read_text())
    assert report["devices"][0].startswith("CPU (") and report["xla"] is False
    for part in ("pipeline_tiny", "pipeline_tiny64"):
        figures = report[part]
        assert figures["memory_img_s"] > 0 and figures["stream_img_s"] > 0 and figures["bare_img_s"] > 0
        assert figures["stream_over_memory"] == pytest.approx(figures["stream_img_s"] / figures["memory_img_s"], abs=2e-3)
        assert 0 <= figures["input_wait_share"] < 1
    assert report["fold_fast"]["epochs"] == 1 and report["epoch_large"]["epochs"] == 1
    assert report["epoch_large"]["train_img_s"] > 0
