"""Training-batch augmentation: the in-graph per-sample ops (``ops``) and the training transform
built from a recipe's ``[augment]`` table, with albumentations presets and mixup/cutmix (``transform``)."""
