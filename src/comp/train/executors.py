"""Where folds run: ``inline`` (this process), ``process`` (one subprocess per fold, one per
GPU at a time) or ``ray`` (one-GPU tasks on a Ray cluster).

Folds run as separate processes by default because TensorFlow never gives GPU memory back
inside a process. Each subprocess is ``comp train-fold --run-dir DIR --fold K``, the same
command a Ray task runs.

Ray: the cluster's machines must share the working directory (``runs/``, ``data/``, the
specs), for example over NFS; ``RAY_ADDRESS`` names the cluster, and without it a local Ray
instance is started (what the tests do). Install with ``pip install -e '.[cluster]'``.

This module imports nothing from training: a fold's work is reached through the command
line, or through the ``in_process`` function the caller hands over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from comp.errors import CompError

EXECUTORS = ("process", "inline", "ray")


def fold_command(run_dir: Path, k: int, parent_pid: int | None = None) -> list[str]:
    """``comp train-fold`` for fold ``k``; ``parent_pid``: the child exits when that process is gone."""
    watch = ["--parent-pid", str(parent_pid)] if parent_pid else []
    return [sys.executable, "-m", "comp", "train-fold", "--run-dir", str(run_dir), "--fold", str(k), *watch]


PARENT_GONE = 143  # the exit status of a fold whose `comp train` is gone (as if SIGTERM-ed)


def watch_parent(parent_pid: int, every: float = 0.5) -> None:
    """In a fold's subprocess: exit when `comp train` (``parent_pid``) is gone, even killed by SIGKILL.

    A thread of the child polls its parent, so the launcher needs no ``preexec_fn`` (code run
    between fork and exec in a process with TensorFlow's threads running can deadlock).
    """
    import threading

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(every)
        os._exit(PARENT_GONE)  # the fold's lock and files stay consistent: every write is atomic

    if os.getppid() != parent_pid:
        os._exit(PARENT_GONE)
    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def run_folds(run, folds: list[int], executor: str, gpus: list[str] | None, in_process) -> None:
    """Train ``folds`` of ``run`` with ``executor``; ``in_process(k)`` trains fold k here (inline)."""
    if executor == "inline":
        for k in folds:
            in_process(k)
    elif executor == "ray":
        run_folds_ray(run, folds)
    elif executor == "process":
        run_folds_in_subprocesses(run, folds, gpus)
    else:
        raise CompError(f"executor must be one of {', '.join(EXECUTORS)}. Received: {executor!r}")


def run_folds_in_subprocesses(run, folds: list[int], gpus: list[str] | None) -> None:
    """One subprocess per fold; with ``gpus``, one fold per GPU at a time (CUDA_VISIBLE_DEVICES)."""
    slots = gpus or [None]
    pending, running, failed = list(folds), {}, []  # running: process -> (slot, fold)
    while pending or running:
        while pending and len(running) < len(slots):
            slot = next(s for s in slots if s not in [used for used, _ in running.values()])
            k = pending.pop(0)
            env = dict(os.environ)
            if slot is not None:
                env["CUDA_VISIBLE_DEVICES"] = slot
            running[subprocess.Popen(fold_command(run.dir, k, os.getpid()), env=env)] = (slot, k)
        for proc in list(running):
            if proc.poll() is not None:
                if proc.returncode != 0:
                    failed.append((running[proc][1], proc.returncode))
                del running[proc]
        if running:
            time.sleep(0.2)
    if failed:
        raise CompError(f"{run.dir}: fold(s) {', '.join(str(k) for k, _ in failed)} failed "
                        f"({exit_status(failed[0][1])}); {failure_advice(failed[0][1])}")


def failure_advice(code: int) -> str:
    """What to do about a fold process that ended with ``code``: only a fold that was stopped
    (a signal, the memory killer) resumes by itself; one that refused its input (exit 2) or met an
    internal error (exit 1) fails the same way again until what its error line says is fixed."""
    if code == 2:
        return "its error line above says what to change; re-running as it is fails the same way"
    if code == 1:
        return "its internal error above is a bug in comp; re-run with --debug for the traceback"
    return "re-run the same command to resume"


def exit_status(code: int) -> str:
    """``exit 2``, or ``killed by SIGKILL`` for a process a signal ended (a negative return code)."""
    if code >= 0:
        return f"exit {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


def _train_fold_task(run_dir: str, k: int, cwd: str) -> tuple[int, str]:
    """A Ray task: fold ``k``'s process watches the worker running it (``fold_command``'s
    ``parent_pid``), which Ray ends when the driver (`comp train`) dies, so no fold trains on as
    an orphan."""
    proc = subprocess.run(fold_command(Path(run_dir), k, os.getpid()), cwd=cwd, capture_output=True, text=True)
    return proc.returncode, proc.stderr[-2000:]


def run_folds_ray(run, folds: list[int]) -> None:
    """Train ``folds`` of ``run`` as Ray tasks (one GPU each where the cluster has GPUs)."""
    try:
        import ray
    except ImportError:
        raise CompError("--executor ray needs Ray: pip install -e '.[cluster]'") from None
    address = os.environ.get("RAY_ADDRESS")
    ray.init(address=address, ignore_reinit_error=True, include_dashboard=False,
             log_to_driver=False, **({} if address else {"num_cpus": os.cpu_count() or 1}))
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        task = ray.remote(num_gpus=1 if gpus else 0, num_cpus=1 if gpus else (os.cpu_count() or 1),
                          max_retries=2)(_train_fold_task)
        cwd = str(Path.cwd().resolve())
        refs = {k: task.remote(str(run.dir.resolve()), k, cwd) for k in folds}
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
