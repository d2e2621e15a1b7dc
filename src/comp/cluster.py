"""Ray executor: folds as one-GPU tasks on an existing Ray cluster (``--executor ray``).

The cluster's machines must share the working directory (``runs/``, ``data/``, the specs),
for example over NFS: each task runs ``comp train-fold`` for one fold in that directory, and
writes its artifacts where the driver reads them. ``RAY_ADDRESS`` names the cluster; without
it a local Ray instance is started (what the tests do).

Install with the ``cluster`` extra: ``pip install -e '.[cluster]'``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from comp.errors import CompError


def _train_fold_task(command: list[str], cwd: str) -> tuple[int, str]:
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    return proc.returncode, proc.stderr[-2000:]


def run_folds_ray(run, folds: list[int]) -> None:
    """Train ``folds`` of ``run`` as Ray tasks (one GPU each where the cluster has GPUs)."""
    try:
        import ray
    except ImportError:
        raise CompError("--executor ray needs Ray: pip install -e '.[cluster]'") from None
    from comp.train import fold_command

    address = os.environ.get("RAY_ADDRESS")
    ray.init(address=address, ignore_reinit_error=True, include_dashboard=False,
             log_to_driver=False, **({} if address else {"num_cpus": os.cpu_count() or 1}))
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        task = ray.remote(num_gpus=1 if gpus else 0, num_cpus=1 if gpus else (os.cpu_count() or 1),
                          max_retries=2)(_train_fold_task)
        cwd = str(Path.cwd().resolve())
        refs = {k: task.remote(fold_command(run.dir.resolve(), k), cwd) for k in folds}
        failed = []
        for k, ref in refs.items():
            code, tail = ray.get(ref)
            if code != 0:
                failed.append((k, code, tail.strip().splitlines()[-1:] or [""]))
        if failed:
            k, code, last = failed[0]
            raise CompError(f"{run.dir}: fold {k} failed on the Ray cluster (exit {code}): {last[0]}")
    finally:
        if not address:
            ray.shutdown()
