"""Prediction: probabilities with test-time augmentation (``probs``, ``tta``) and blends of runs (``blend``)."""
