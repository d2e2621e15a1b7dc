"""comp: a toolkit for image-classification competitions (Dacon, Kaggle).

From-scratch k-fold training with heavy augmentation and mixup, fold ensembles with
test-time augmentation, and submissions checked against the competition's sample file.
"""

__version__ = "0.1.0"
