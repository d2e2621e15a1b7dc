"""``COMPETITIONS``: the 16 competitions by their Kaggle slug, each a ``KaggleCase`` (its metric,
builder, grader, private answers file and the direction of its score)."""

from __future__ import annotations

from . import builders_basic as basic
from . import builders_labels as labels
from . import builders_meta as meta
from . import graders as g
from .case import KaggleCase

_CASES = [
    # name, metric, answers file, higher is better, build, grade
    ("histopathologic-cancer-detection", "roc_auc", "answers.csv", True,
     basic.build_histopathologic, g.grade_histopathologic),
    ("aerial-cactus-identification", "roc_auc", "test.csv", True, basic.build_cactus, g.grade_cactus),
    ("dogs-vs-cats-redux-kernels-edition", "log_loss", "answers.csv", False,
     basic.build_dogs_vs_cats, g.grade_dogs_vs_cats),
    ("dog-breed-identification", "log_loss", "test.csv", False, basic.build_dog_breed, g.grade_dog_breed),
    ("plant-pathology-2020-fgvc7", "mean_roc_auc", "test.csv", True, labels.build_plant_2020, g.grade_plant_2020),
    ("plant-pathology-2021-fgvc8", "micro_f1", "answers.csv", True, labels.build_plant_2021, g.grade_plant_2021),
    ("ranzcr-clip-catheter-line-classification", "mean_roc_auc", "test.csv", True,
     labels.build_ranzcr, g.grade_ranzcr),
    ("aptos2019-blindness-detection", "qwk", "test.csv", True, basic.build_aptos, g.grade_aptos),
    ("whale-categorization-playground", "map_at_5", "test.csv", True, labels.build_whale, g.grade_whale),
    ("plant-seedlings-classification", "micro_f1", "answers.csv", True, labels.build_seedlings, g.grade_seedlings),
    ("cassava-leaf-disease-classification", "accuracy", "test.csv", True, basic.build_cassava, g.grade_cassava),
    ("siim-isic-melanoma-classification", "roc_auc", "test.csv", True, meta.build_siim, g.grade_siim),
    ("petfinder-pawpularity-score", "rmse", "test.csv", False, basic.build_petfinder, g.grade_petfinder),
    ("imet-2020-fgvc7", "micro_f1", "answers.csv", True, labels.build_imet, g.grade_imet),
    ("herbarium-2020-fgvc7", "macro_f1", "answers.csv", True, meta.build_herbarium, g.grade_herbarium),
    ("iwildcam-2019-fgvc6", "macro_f1", "answers.csv", True, meta.build_iwildcam, g.grade_iwildcam),
]

COMPETITIONS: dict[str, KaggleCase] = {
    name: KaggleCase(name=name, metric=metric, answers_file=answers, higher_is_better=higher, build=build,
                     grade=grade)
    for name, metric, answers, higher, build, grade in _CASES
}
