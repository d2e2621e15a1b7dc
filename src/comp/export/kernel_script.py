"""The exported kernel's script, ``kernel.py``: what Kaggle runs, offline, with the export's
dataset attached. Without arguments it finds the competition's files and the export under
``/kaggle/input/`` and writes ``/kaggle/working/submission.csv``; for a check elsewhere it takes
``--competition-dir``, ``--dataset-dir`` and ``--out``. It imports comp from the export's
``lib/`` folder (nothing is installed) and runs :func:`comp.export.offline.run_kernel`.
"""

from __future__ import annotations

TEMPLATE = '''\
"""Offline inference kernel written by comp export: the competition {competition!r}, the models of
the dataset {dataset!r}. Needs no network and no installed comp (it imports comp from the dataset's
lib/ folder). Local check: python kernel.py --competition-dir DIR --dataset-dir EXPORT/dataset --out sub.csv
"""
import argparse
import sys
from pathlib import Path

COMPETITION = {competition!r}
DATASET = {dataset!r}
INPUT = Path("/kaggle/input")


def find_dataset(root: Path) -> Path:
    """The attached export: a folder under /kaggle/input holding export.json (DATASET's first)."""
    found = sorted({{p.parent for depth in ("*", "*/*", "*/*/*") for p in root.glob(depth + "/export.json")}},
                   key=lambda p: (p.name != DATASET, str(p)))
    if not found:
        sys.exit(f"error: no export.json under {{root}}: attach the dataset {{DATASET}} to this notebook")
    return found[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--competition-dir", type=Path, default=INPUT / COMPETITION)
    parser.add_argument("--dataset-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("/kaggle/working/submission.csv"))
    args = parser.parse_args(argv)
    dataset = args.dataset_dir or find_dataset(INPUT)
    sys.path.insert(0, str(dataset / "lib"))
    from comp.export.offline import run_kernel

    return run_kernel(dataset, args.competition_dir, args.out)


if __name__ == "__main__":
    sys.exit(main())
'''


def kernel_script(competition: str, dataset: str) -> str:
    """``kernel.py`` for a competition's slug and the export dataset's slug."""
    return TEMPLATE.format(competition=competition, dataset=dataset)
