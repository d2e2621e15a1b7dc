"""The ``comp`` command line: thin click commands over the library's stages.

- :mod:`~comp.cli.app`: the command group, its error handling and the shared options;
- :mod:`~comp.cli.training`: ``train``, ``compare``, ``sweep`` (and the hidden ``train-fold``);
- :mod:`~comp.cli.submitting`: ``predict``, ``validate``, ``score``;
- :mod:`~comp.cli.listing`: ``models``, ``recipes``, ``runs``;
- :mod:`~comp.cli.reporting`: ``report`` (a run's HTML page);
- :mod:`~comp.cli.leaderboard`: ``submit``, ``lb`` (``lb add``, ``lb fetch``).
"""

from comp.cli.app import main
from comp.cli import leaderboard, listing, reporting, submitting, training  # noqa: F401  (registers the commands)

__all__ = ["main"]
