"""The ``comp`` command line: thin click commands over the library's stages.

- :mod:`~comp.cli.app`: the command group, its error handling and the shared options;
- :mod:`~comp.cli.init`: ``init`` (a competition spec inferred from a competition folder);
- :mod:`~comp.cli.training`: ``train``, ``compare``, ``sweep`` (and the hidden ``train-fold``);
- :mod:`~comp.cli.submitting`: ``predict``, ``validate``, ``score``;
- :mod:`~comp.cli.export`: ``export`` (runs as a Kaggle dataset and an offline kernel: code competitions);
- :mod:`~comp.cli.listing`: ``models``, ``recipes``, ``runs``;
- :mod:`~comp.cli.reporting`: ``report`` (a run's HTML page);
- :mod:`~comp.cli.leaderboard`: ``submit``, ``lb`` (``lb add``, ``lb fetch``).
"""

from comp.cli.app import main
from comp.cli import (export, init, leaderboard, listing, reporting, submitting,  # noqa: F401  (registers the commands)
                      training)

__all__ = ["main"]
