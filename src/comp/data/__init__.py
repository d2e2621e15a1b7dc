"""Data: layouts → (id, path, label) tables, decoded image caches, folds, demo builders."""
