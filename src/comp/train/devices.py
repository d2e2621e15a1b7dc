"""Devices: the precision policy, XLA and the distribution strategy a fold trains with."""

from __future__ import annotations

import os
from dataclasses import dataclass

from comp.errors import CompError
from comp.config.recipe import TrainCfg
from comp.tf_quiet import keras, quiet_stderr, tf


@dataclass
class DeviceSetup:
    devices: list[str]
    policy: str
    jit_compile: bool

    def describe(self) -> str:
        return f"devices: {', '.join(self.devices)} | precision: {self.policy} | XLA: {'on' if self.jit_compile else 'off'}"


def choose_precision(requested: str, gpu_capabilities: list[tuple[int, int]], cpu_amx: bool = False) -> str:
    """The precision policy for ``requested`` ("auto" or a policy name) on these devices.

    auto: mixed_float16 where every GPU has tensor cores (compute capability 7.0+); on a
    machine without GPUs, mixed_bfloat16 where the CPU has AMX tiles (oneDNN runs bf16
    convolutions on them: 1.8-2.9x the float32 training speed of the ``fast`` net on 2 AMX
    cores, same accuracy, tests/benchmarks/bench_precision.py); else float32. Mixed float16 on a
    CPU, and on P100-class GPUs, is slower or gains nothing.
    """
    if requested != "auto":
        return requested
    if gpu_capabilities:
        return "mixed_float16" if all(cc >= (7, 0) for cc in gpu_capabilities) else "float32"
    return "mixed_bfloat16" if cpu_amx else "float32"


def cpu_has_amx(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU advertises AMX bf16 tiles (Linux; False where that cannot be read)."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return "amx_bf16" in line.split()
    except OSError:
        pass
    return False


def choose_jit(requested: str, has_gpu: bool) -> bool:
    """XLA on GPUs by default; on CPUs it compiles slowly and gains little for convnets."""
    return {"on": True, "off": False}.get(requested, has_gpu)


def setup_devices(cfg: TrainCfg) -> DeviceSetup:
    """Probe the devices, set Keras' global precision policy, and say what was chosen."""
    with quiet_stderr():  # cuInit failures on GPU-less machines are expected, not news
        gpus = tf.config.list_physical_devices("GPU")
    caps = []
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised in this process
            pass
        details = tf.config.experimental.get_device_details(gpu)
        caps.append(tuple(details.get("compute_capability", (0, 0))))
    amx = not gpus and cpu_has_amx()
    policy = choose_precision(cfg.precision, caps, cpu_amx=amx)
    keras.mixed_precision.set_global_policy(policy)
    names = [f"GPU:{i} (cc {c[0]}.{c[1]})" for i, c in enumerate(caps)] or [f"CPU ({os.cpu_count()} cores{', AMX' if amx else ''})"]
    return DeviceSetup(names, policy, choose_jit(cfg.jit_compile, bool(gpus)))


def make_strategy(name: str) -> tf.distribute.Strategy | None:
    """tf.distribute over the local devices (GPUs, else the logical CPUs) for ``mirrored``."""
    if name != "mirrored":
        return None
    devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
              [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def check_gpu_ids(ids: list[str] | None, visible: int | None = None) -> list[str] | None:
    """``--gpus`` ids checked against the GPUs TensorFlow sees here: integers, each once, each visible.

    ``visible``: the number of visible GPUs (default: asked of TensorFlow).
    """
    if not ids:
        return None
    if visible is None:
        with quiet_stderr():
            visible = len(tf.config.list_physical_devices("GPU"))
    shown = ",".join(ids)
    if not all(i.isdigit() for i in ids):
        raise CompError(f"--gpus takes GPU indices such as 0,1. Received: --gpus {shown}")
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise CompError(f"--gpus names GPU {twice[0]} twice; each GPU takes one fold at a time. Received: --gpus {shown}")
    if not visible:
        raise CompError(f"--gpus {shown}: TensorFlow sees no GPU on this machine; leave --gpus out to train on the CPU")
    missing = [i for i in ids if int(i) >= visible]
    if missing:
        raise CompError(f"--gpus {shown}: GPU {missing[0]} does not exist; TensorFlow sees {visible} "
                        f"(indices 0-{visible - 1})")
    return ids
