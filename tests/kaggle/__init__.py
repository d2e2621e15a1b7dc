"""Tiny generated competitions in the exact layouts of 16 real Kaggle competitions, with their graders.

The layouts and graders follow OpenAI's MLE-bench (``mlebench/competitions/<slug>/prepare.py`` and
``grade.py``): the files a competitor is given (names, folders, zips, CSV columns and their order,
id forms, sample submission values) and the score of a submission. The images are generated: a
class-coloured shape on a noisy background (one coloured patch per label where an image has
several), which a small CNN learns at 16-32 px. Nothing here imports ``comp``.

    from tests.kaggle import COMPETITIONS, InvalidSubmission
    case = COMPETITIONS["aptos2019-blindness-detection"]
    case.build(public, private, seed=0, scale=1)      # public files + private/<case.answers_file>
    score = case.grade(submission_df, case.answers(private))
    case.constant_submission(public)                   # the sample submission as given
    case.metric, case.higher_is_better                 # "qwk", True

Left out on purpose: the TFRecord folders of cassava and siim-isic; siim-isic's .dcm copies need
pydicom (``HAS_DICOM``).
"""

from .builders_meta import HAS_DICOM
from .case import METRICS, InvalidSubmission, KaggleCase, read_csv
from .registry import COMPETITIONS

__all__ = ["COMPETITIONS", "HAS_DICOM", "METRICS", "InvalidSubmission", "KaggleCase", "read_csv"]
