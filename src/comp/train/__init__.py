"""Training, one module per stage, in the order a fold runs through them:

- :mod:`~comp.train.devices`: precision policy, XLA and distribution strategy per device,
  said out loud at the start of every fold;
- :mod:`~comp.train.optim`: warm-up then constant, linear or cosine decay, per step; SGD with
  Nesterov momentum (batch-norm offsets at a scaled rate) or AdamW, decoupled weight decay;
- :mod:`~comp.train.callbacks`: Lookahead, per-epoch timing, an atomic BackupAndRestore;
- :mod:`~comp.train.pipeline`: uint8 index batches gathered from memory, augmented per batch
  (:mod:`comp.augment.transform`), a pure function of (seed, epoch, step);
- :mod:`~comp.train.fold`: one fold: ``model.fit`` with resume, the best checkpoint by the
  competition's metric, then out-of-fold and test probabilities with TTA;
- :mod:`~comp.train.finetune`: the two phases of a model with a pretrained ``backbone``;
- :mod:`~comp.train.kfold`: a run prepared (config, classes, folds) and its folds trained and
  summarised, for ``comp train`` and ``comp compare`` alike;
- :mod:`~comp.train.executors`: where folds run: this process, one subprocess per fold (one
  per GPU at a time), or a Ray cluster.

Import the stage you need (``from comp.train.kfold import train_folds``); this package
module imports nothing, so loading one stage never loads the others.
"""
