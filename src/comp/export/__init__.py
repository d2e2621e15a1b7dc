"""Code competitions: runs exported as a Kaggle dataset and an offline inference kernel (``comp export``)."""
