"""Import TensorFlow without its C++ start-up chatter.

TF 2.21 logs through absl before logging is initialised, so TF_CPP_MIN_LOG_LEVEL does not
silence the oneDNN / CUDA-stub / cuInit lines it prints on every start. They go to file
descriptor 2 directly; we point that at /dev/null while importing and probing devices.
``COMP_DEBUG=1`` keeps them.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_stderr():
    if os.environ.get("COMP_DEBUG") == "1":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
with quiet_stderr():
    import tensorflow as tf  # noqa: E402,F401
    import keras  # noqa: E402,F401

    tf.config.list_physical_devices("GPU")  # probes CUDA once; a GPU-less machine logs cuInit errors

# For tf.data functions: traced as they are. Autograph's source-to-source conversion of them and of
# the augmentation they call cost ~2.5 s a fold, and none of them branches or loops on a tensor.
plain_graph = tf.autograph.experimental.do_not_convert
