"""Teacher targets: softening, confident selection, distillation blends, stacked rows, weighted batches."""

from __future__ import annotations

import json

import numpy as np
import pytest

from comp.data.folds import FoldData
from comp.data.stream import Rows, Stacked, is_streamed
from comp.config.recipe import TeacherCfg, load_recipe, recipe_from_dict
from comp.errors import CompError
from comp.train.teacher import apply_targets, distill_targets, pseudo_targets, select_confident, soften


def test_soften_keeps_t1_and_the_order_and_flattens_above_1():
    p = np.array([[0.7, 0.2, 0.1], [0.05, 0.05, 0.9]])
    assert np.allclose(soften(p, 1.0), p)
    warm = soften(p, 3.0)
    assert np.allclose(warm.sum(1), 1.0)
    assert (warm.argmax(1) == p.argmax(1)).all()
    assert (warm.max(1) < p.max(1)).all()  # flatter
    # the softmax of log p / T
    logits = np.log(p[0]) / 3.0
    assert np.allclose(warm[0], np.exp(logits) / np.exp(logits).sum())
    assert (soften(p, 0.5).max(1) > p.max(1)).all()  # sharper below 1


def test_select_confident_applies_the_threshold_and_the_top_share_of_each_predicted_class():
    probs = np.array([
        [0.95, 0.05], [0.90, 0.10], [0.60, 0.40], [0.55, 0.45],  # class 0: 4 rows
        [0.20, 0.80], [0.30, 0.70],                              # class 1: 2 rows
    ])
    assert select_confident(probs, 0.0, 1.0).tolist() == [0, 1, 2, 3, 4, 5]
    assert select_confident(probs, 0.0, 0.5).tolist() == [0, 1, 4]  # top half of each class
    assert select_confident(probs, 0.75, 1.0).tolist() == [0, 1, 4]
    assert select_confident(probs, 0.92, 0.5).tolist() == [0]
    assert select_confident(probs, 0.0, 0.1).tolist() == [0, 4]  # a class keeps one at least


def test_pseudo_targets_soft_or_hard():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]])
    rows, soft = pseudo_targets(probs, TeacherCfg(pseudo_top_share=1.0, temperature=2.0))
    assert rows.tolist() == [0, 1, 2] and np.allclose(soft, soften(probs, 2.0))
    rows, hard = pseudo_targets(probs, TeacherCfg(pseudo_top_share=0.5, pseudo_targets="hard"))
    assert rows.tolist() == [0, 2] and hard.tolist() == [[1, 0], [0, 1]]


def test_distill_targets_blend_the_label_and_the_teacher():
    oof = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    t = distill_targets(oof, np.array([1, 2]), TeacherCfg(distill_weight=0.25))
    assert np.allclose(t, [[0.15, 0.825, 0.025], [0.05, 0.05, 0.9]])
    assert np.allclose(t.sum(1), 1.0) and t.dtype == np.float32
    assert np.allclose(distill_targets(oof, np.array([1, 2]), TeacherCfg(distill_weight=0.0)), np.eye(3)[[1, 2]])


def test_teacher_keys_are_checked():
    table = {"model": {"name": "vgg"}, "teacher": {"pseudo_top_share": 0}}
    with pytest.raises(CompError, match=r"teacher.pseudo_top_share must be in \(0, 1\]. Received: "):
        recipe_from_dict(table, "r.toml")
    with pytest.raises(CompError, match="teacher.pseudo_targets"):
        recipe_from_dict({"model": {"name": "vgg"}, "teacher": {"pseudo_targets": "fuzzy"}}, "r.toml")
    assert load_recipe("fast", ["teacher.temperature=2"]).teacher.temperature == 2.0


def test_stacked_rows_read_like_the_concatenated_array():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 255, (7, 4, 4, 3), np.uint8), rng.integers(0, 255, (5, 4, 4, 3), np.uint8)
    rows = Rows(b, np.array([4, 0, 2]))
    stacked, whole = Stacked(a, rows), np.concatenate([a, b[[4, 0, 2]]])
    assert len(stacked) == 10 and stacked.shape == whole.shape and stacked.nbytes == whole.nbytes
    for key in (np.array([9, 0, 7, 3, 8]), slice(2, 9), np.array([8, 8])):
        assert np.array_equal(stacked[key], whole[key])
    assert np.array_equal(stacked[np.array([9, 1]), 1:3, 0:2], whole[np.array([9, 1]), 1:3, 0:2])
    assert np.array_equal(stacked[8], whole[8])
    assert np.array_equal(np.asarray(stacked), whole)
    assert not is_streamed(Stacked(a, b)) and is_streamed(stacked)


def test_apply_targets_appends_the_pseudo_rows_with_their_weight():
    x = np.arange(6 * 2 * 2 * 3, dtype=np.uint8).reshape(6, 2, 2, 3)
    test = np.full((4, 2, 2, 3), 200, np.uint8) + np.arange(4, dtype=np.uint8)[:, None, None, None]
    val = np.array([False, True, False, False, True, False])
    data = FoldData(x[~val], np.array([0, 1, 1, 0]), x[val], np.array([1, 0]), None, 2, "accuracy")
    targets = {"train": np.tile([[0.3, 0.7]], (6, 1)).astype(np.float32), "pseudo_index": np.array([3, 1]),
               "pseudo": np.array([[1, 0], [0, 1]], np.float32), "pseudo_weight": np.float32(0.5)}
    out = apply_targets(data, targets, val, test)
    assert out.n_pseudo == 2 and len(out.x_train) == 6
    assert np.array_equal(out.x_train[4:], test[[3, 1]]) and np.array_equal(out.x_train[:4], data.x_train)
    assert np.allclose(out.y_train, [[0.3, 0.7]] * 4 + [[1, 0], [0, 1]])
    assert out.weights.tolist() == [1, 1, 1, 1, 0.5, 0.5]
    assert np.array_equal(out.x_val, data.x_val) and out.y_val.tolist() == [1, 0]  # scored on true labels
    plain = apply_targets(data, {"pseudo_index": np.array([0]), "pseudo": np.array([[0, 1]], np.float32),
                                 "pseudo_weight": np.float32(1.0)}, val, test)
    assert plain.weights is None and np.allclose(plain.y_train[:4], np.eye(2)[[0, 1, 1, 0]])


def test_weighted_soft_batches_come_out_as_keras_sample_weights_mixed_like_the_targets():
    from comp.train.pipeline import train_dataset

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (32, 8, 8, 3), np.uint8)
    y = rng.dirichlet(np.ones(3), 32).astype(np.float32)
    w = np.where(np.arange(32) < 16, 1.0, 0.25).astype(np.float32)
    plain = load_recipe("fast", ["augment.flip=false", "augment.translate=0", "train.epochs=2"])
    images, targets, weights = next(iter(train_dataset(x, y, plain, 3, 8, 0, w)))
    from comp.train.pipeline import epoch_order

    order = epoch_order(plain.train.seed, 0, 32).numpy()[:8]
    assert np.allclose(targets.numpy(), y[order]) and np.allclose(weights.numpy(), w[order])
    mixed = load_recipe("fast", ["augment.mixup_alpha=0.5", "train.epochs=2"])
    _, targets, weights = next(iter(train_dataset(x, y, mixed, 3, 8, 0, w)))
    lam = (targets.numpy() - y[order][::-1]) / (y[order] - y[order][::-1])  # per sample, any column
    lam = lam[:, 0]
    assert np.allclose(weights.numpy(), lam * w[order] + (1 - lam) * w[order][::-1], atol=1e-4)
    assert np.allclose(targets.numpy().sum(1), 1.0, atol=1e-5)
    two = next(iter(train_dataset(x, y.argmax(1), plain, 3, 8, 0)))
    assert len(two) == 2  # no weights: (images, targets) as before


# --------------------------------------------------------------------------- end to end (tiny competition)

QUICK = ["-c", "tiny", "-r", "tiny", "--executor", "inline", "-q", "--folds", "2", "--set", "train.epochs=1"]


def config_of(run_dir):
    import tomllib

    return tomllib.loads((run_dir / "config.toml").read_text())


@pytest.fixture
def teacher(tiny_competition, cli):
    res = cli("train", *QUICK, "--run", "teach")
    assert res.exit_code == 0, res.output
    return tiny_competition / "runs" / "tiny" / "teach"


@pytest.mark.slow
def test_a_distilled_and_pseudo_labelled_student_trains_on_its_teachers_targets(teacher, tiny_competition, cli):
    res = cli("train", *QUICK, "--run", "student", "--distill", "teach", "--pseudo-label", "teach",
              "--set", "teacher.pseudo_top_share=0.5", "--set", "teacher.pseudo_weight=0.5")
    assert res.exit_code == 0, res.output
    student = tiny_competition / "runs" / "tiny" / "student"
    assert "distillation: targets of 36 training rows from 'teach'" in res.output
    assert "pseudo-labels: " in res.output and " of 9 test images from 'teach'" in res.output
    assert "comp predict will refuse it" in res.output  # the tiny spec's rules forbid it
    assert (student / "folds.csv").read_text() == (teacher / "folds.csv").read_text()  # the teacher's folds
    cfg = config_of(student)
    assert cfg["run"]["teacher"] == {"distill": ["teach"], "pseudo_label": ["teach"]}
    assert cfg["run"]["test_data"] is True and cfg["recipe"]["teacher"]["pseudo_weight"] == 0.5
    from comp.runs.config import read_run_config
    from comp.runs.identity import config_identity

    # a run without teachers keeps its old identity: its [teacher] keys are saved, not hashed
    assert "teacher" in config_of(teacher)["recipe"]
    assert "teacher" not in config_identity(read_run_config(teacher / "config.toml"))["recipe"]
    with np.load(student / "teacher.npz") as saved:
        n_pseudo, train_targets = len(saved["pseudo_index"]), saved["train"]
    assert 3 <= n_pseudo <= 6  # half of each predicted class, rounded up
    assert np.allclose(train_targets.sum(1), 1.0) and (train_targets.max(1) >= 0.5).all()
    for k in (0, 1):
        fold = json.loads((student / f"fold-{k}" / "metrics.json").read_text())
        assert fold["n_pseudo"] == n_pseudo and fold["n_train"] == 18 + n_pseudo and fold["n_val"] == 18
    summary = json.loads((student / "metrics.json").read_text())
    assert summary["oof_rows"] == 36  # scored on the 36 labelled rows only
    listing = cli("runs", "-c", "tiny").stdout.splitlines()
    column = listing[0].split().index("teacher")
    assert {line.split()[1]: line.split()[column] for line in listing[1:3]} == {"teach": "-",
                                                                                "student": "distill+pseudo"}
    refused = cli("predict", "-c", "tiny", "--run", "student", "--ensemble", catch=True)
    assert refused.exit_code != 0
    assert "run 'student' trained on the test images (pseudo-labels)" in refused.output
    assert "test_data_training = false" in refused.output and "Traceback" not in refused.output


@pytest.mark.slow
def test_test_data_runs_submit_where_the_rules_allow_and_the_manifest_records_it(teacher, tiny_competition, cli):
    spec = tiny_competition / "competition" / "tiny.toml"
    spec.write_text(spec.read_text() + "test_data_training = true\n")
    res = cli("train", *QUICK, "--run", "student", "--pseudo-label", "teach", "--fold", "0")
    assert res.exit_code == 0, res.output and "will refuse" not in res.output
    res = cli("predict", "-c", "tiny", "--run", "student", "--allow-partial", "--ensemble")
    assert res.exit_code == 0, res.output
    manifest = json.loads(next((tiny_competition / "submissions").glob("*.json")).read_text())
    assert manifest["rule_check"]["runs_used_test_data"] is True
    assert manifest["rule_check"]["test_data_training_allowed"] is True


@pytest.mark.slow
def test_teacher_errors_are_one_line(teacher, tiny_competition, cli):
    res = cli("train", *QUICK, "--run", "s", "--distill", "nobody", catch=True)
    assert res.exit_code != 0 and "run 'nobody' not found" in res.output
    three = [a if a != "2" else "3" for a in QUICK]
    res = cli("train", *three, "--run", "s", "--distill", "teach", catch=True)
    assert res.exit_code != 0 and "teacher run 'teach' has 2 folds" in res.output and "--folds 2" in res.output
    cli("train", *QUICK, "--run", "half", "--fold", "0")
    res = cli("train", *QUICK, "--run", "s", "--distill", "half", catch=True)
    assert res.exit_code != 0 and "teacher run 'half' has 1 of 2 folds finished" in res.output
    res = cli("train", *QUICK, "--run", "s2", "--distill", "teach", "--subset", "4", catch=True)
    assert res.exit_code != 0 and "other training images or labels" in res.output
    assert "Traceback" not in res.output


def test_a_student_inherits_pretrained_and_test_data_from_its_teachers():
    from types import SimpleNamespace

    from comp.config.spec import load_competition
    from comp.runs.config import build_run_config
    from comp.train.teacher import Teachers

    def teacher(run_id, pretrained=False, test_data=False):
        return SimpleNamespace(id=run_id, pretrained=pretrained, test_data=test_data)

    def student(teachers):
        return build_run_config(load_competition("demo-digits"), recipe, "fast", [], 5, teachers=teachers).to_table()

    recipe = load_recipe("fast", ["teacher.distill_weight=0.3"])
    plain = student(Teachers([teacher("a")], []))
    assert plain["run"]["teacher"] == {"distill": ["a"], "pseudo_label": []}
    assert plain["run"]["test_data"] is False and plain["run"]["pretrained"] is False
    assert plain["recipe"]["teacher"]["distill_weight"] == 0.3
    inherited = student(Teachers([teacher("t", pretrained=True), teacher("p", test_data=True)], []))
    assert inherited["run"]["pretrained"] is True and inherited["run"]["test_data"] is True
    assert student(Teachers([], [teacher("a")]))["run"]["test_data"] is True
    assert "teacher" not in student(None)["run"] and "test_data" not in student(None)["run"]


@pytest.mark.slow
def test_a_run_that_is_its_own_teacher_is_not_deleted_by_restart(teacher, tiny_competition, cli):
    """--restart would delete the folds the targets come from: refused before anything is deleted."""
    before = {p: p.stat().st_mtime_ns for p in teacher.rglob("*") if p.is_file()}
    res = cli("train", *QUICK, "--run", "teach", "--distill", "teach", "--restart", catch=True)
    assert res.exit_code == 2, res.output
    assert res.stderr.strip() == ("error: run 'teach' is its own teacher (--distill/--pseudo-label teach): "
                                  "--restart would delete the folds its targets come from; pass another --run")
    assert {p: p.stat().st_mtime_ns for p in teacher.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_a_teacher_of_another_class_order_is_refused(teacher, tiny_competition, cli):
    spec = tiny_competition / "competition" / "tiny.toml"
    text = spec.read_text()
    classes = json.loads((teacher / "classes.json").read_text())["classes"]
    spec.write_text(text.replace("[data]\n", f"[data]\nclass_names = {json.dumps(classes[::-1])}\n", 1))
    res = cli("train", *QUICK, "--run", "student", "--distill", "teach", catch=True)
    assert res.exit_code == 2, res.output
    assert res.stderr.strip() == (f"error: teacher run 'teach' has the classes {classes} in another order than "
                                  f"this run's {classes[::-1]}; its probabilities would be read against the wrong "
                                  f"classes (train the teacher again, or keep the spec's class_names)")
    assert not (tiny_competition / "runs" / "tiny" / "student").exists()
