"""The VGG family: stacks of 3x3 conv, batch norm and ReLU (a shortcut per stage at most).

One generic builder, :func:`vgg_family`, and thin registered variants:

- ``vgg``: the default from-scratch net. Four stages of two convs, widths 64-512,
  global average pooling and dropout. Deep and wide: the GPU recipe's model.
- ``fast``: tuned for time to accuracy (after cifar10-airbench and Page's ResNet-9 trials):
  a frozen 2x2 patch-whitening first layer set from the training images, pool *before*
  batch norm (4x less BN work), three stages, max-pooled head with a scaled-down output,
  BN momentum suited to short runs.

Inputs are 0-255 images; the model scales them itself, so the pipeline can feed uint8.
"""

from __future__ import annotations

import math

import numpy as np

from comp.tf_quiet import keras

from comp.errors import CompError
from comp.models.registry import register_model

layers = keras.layers


@keras.saving.register_keras_serializable(package="comp")
class PartialIdentity(keras.initializers.Initializer):
    """A conv kernel whose first ``min(cin, cout)`` filters pass their input channel through.

    The rest are uniform with bound ``sqrt(3 * scale / fan_in)``; the default scale of 1/3 is
    PyTorch's default conv init (bound ``1/sqrt(fan_in)``), which airbench's learning rates
    assume: batch norm makes the conv scale-invariant, so the kernel's norm sets the effective
    step size until weight decay takes over. The net starts close to identity, so a deep plain
    stack trains like a shallow one in its first steps (airbench's ``dirac_`` on half the filters).
    """

    def __init__(self, scale: float = 1.0 / 3.0):
        self.scale = float(scale)

    def __call__(self, shape, dtype=None):
        kernel = keras.initializers.VarianceScaling(self.scale, "fan_in", "uniform")(shape, dtype=dtype)
        kh, kw, cin, cout = shape
        n = min(cin, cout)
        identity = np.zeros(shape, dtype="float32")
        identity[kh // 2, kw // 2, np.arange(n), np.arange(n)] = 1.0
        keep = np.ones(shape, dtype="float32")
        keep[..., :n] = 0.0
        return kernel * keras.ops.convert_to_tensor(keep, dtype=kernel.dtype) + keras.ops.convert_to_tensor(
            identity, dtype=kernel.dtype)

    def get_config(self):
        return {"scale": self.scale}


def _conv_bn(x, filters: int, bn_momentum: float, pool: bool = False, name: str = "", activation: str = "relu",
             bn_scale: bool = True, identity_init: bool = False, kernel: int = 3, stride: int = 1,
             shortcut=None):
    """Conv, (pool), batch norm, (+ ``shortcut``), activation."""
    init = PartialIdentity() if identity_init else "glorot_uniform"
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, kernel_initializer=init,
                      name=f"{name}_conv")(x)
    if pool:  # pooling first makes batch norm and the activation 4x cheaper
        x = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    # scale=False: the following conv is scale-invariant anyway; a frozen scale of 1 (airbench)
    x = layers.BatchNormalization(momentum=bn_momentum, epsilon=1e-5, scale=bn_scale, name=f"{name}_bn")(x)
    if shortcut is not None:
        x = layers.Add(name=f"{name}_residual")([x, shortcut])
    return layers.Activation(_activation(activation), name=f"{name}_{activation}")(x)


def _activation(name: str):
    return gelu_tanh if name == "gelu_tanh" else name


@keras.saving.register_keras_serializable(package="comp")
def gelu_tanh(x):
    """GELU with the tanh approximation: as accurate for training, and on CPUs under bfloat16
    about twice as fast as the exact (erf) form for the whole ``fast`` net."""
    return keras.activations.gelu(x, approximate=True)


ACTIVATIONS = ("relu", "gelu", "gelu_tanh", "silu")
WHITEN_PATCH = 2  # patch side of the whitening layer; 2 * 3 * 2**2 = 24 output channels
MAX_WHITEN_PATCHES = 5_000_000  # init_whitening's sample: bounded memory at any image size


@keras.saving.register_keras_serializable(package="comp")
class PatchWhitening(layers.Conv2D):
    """A 2x2 conv whose frozen kernel :func:`init_whitening` sets from the training images.

    ``train_bias``: the bias learns (airbench trains it, for the first 3 epochs; its ablation
    found freezing it afterwards a speed gain, not an accuracy one); else the layer is frozen.

    It carries its own ``eps`` (relative to the pixel variance, see :func:`init_whitening`), so
    the model option that sets it reaches the initialisation without the training loop knowing
    about it.
    """

    def __init__(self, filters, eps: float = 5e-4, train_bias: bool = False, **kwargs):
        kwargs.setdefault("kernel_size", WHITEN_PATCH)
        kwargs.setdefault("padding", "valid")
        kwargs.setdefault("trainable", bool(train_bias))
        super().__init__(filters, **kwargs)
        self.eps = float(eps)
        self.train_bias = bool(train_bias)

    def build(self, input_shape):
        super().build(input_shape)
        self._kernel.trainable = False  # set from the data, never by the optimizer; the bias may learn

    def get_config(self):
        return {**super().get_config(), "eps": self.eps, "train_bias": self.train_bias}


def vgg_family(input_shape, num_classes, *, widths, convs_per_stage=2, stem=0, stem_kernel=3, stem_stride=1,
               whiten=False, whiten_eps=5e-4, whiten_bias=False, pool_first=False,
               head="avg", dropout=0.0, bn_momentum=0.9, logit_scale=1.0, activation="relu", bn_scale=True,
               identity_init=False, residual=False, name="vgg"):
    """Generic VGG-style builder (see module docstring); ``stem``: the width of a first conv
    of ``stem_kernel`` x ``stem_kernel``, stride ``stem_stride`` (0: none). ``residual``: each
    stage adds the output of its first conv to its last conv's batch norm, before the activation:
    a shortcut over the others (airbench96's blocks: three convs, the residual over the last two)."""
    inputs = keras.Input(shape=input_shape, name="image")
    # float32 up to the whitening output whatever the policy: the whitening filters weigh pixel
    # differences by up to ~30 with opposite signs, and in bfloat16 (8-bit mantissa) their
    # rounding leaks 10-20 % noise into the high-frequency channels (measured on CIFAR-10).
    # A 24-channel 2x2 conv costs little in float32; the first block casts to the policy.
    exact = "float32" if whiten else None
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale", dtype=exact)(inputs)
    if whiten:
        # Frozen: its kernel is set once from the data by init_whitening (before training).
        channels = 2 * input_shape[-1] * WHITEN_PATCH**2
        x = PatchWhitening(channels, eps=whiten_eps, train_bias=whiten_bias, name="whiten", dtype=exact)(x)
        # the blocks' GELU form (the exact one costs twice as much on CPUs under bfloat16)
        x = layers.Activation(_activation("gelu_tanh" if activation == "gelu_tanh" else "gelu"), name="whiten_gelu",
                              dtype=exact)(x)
    block = dict(activation=activation, bn_scale=bn_scale, identity_init=identity_init)
    if stem:
        x = _conv_bn(x, stem, bn_momentum, name="stem", kernel=stem_kernel, stride=stem_stride, **block)
    for s, width in enumerate(widths, start=1):
        first = x = _conv_bn(x, width, bn_momentum, pool=pool_first, name=f"s{s}c1", **block)
        for c in range(2, convs_per_stage + 1):
            shortcut = first if residual and c == convs_per_stage else None  # added before the activation
            x = _conv_bn(x, width, bn_momentum, name=f"s{s}c{c}", shortcut=shortcut, **block)
        if not pool_first:
            x = layers.MaxPooling2D(2, name=f"s{s}_pool")(x)
    pool = layers.GlobalAveragePooling2D if head == "avg" else layers.GlobalMaxPooling2D
    x = pool(name="head_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(num_classes, use_bias=False, name="logits")(x)
    if logit_scale != 1.0:
        x = layers.Rescaling(logit_scale, name="logit_scale")(x)
    # float32 logits under a mixed_float16 policy: the loss and softmax stay accurate
    outputs = layers.Activation("linear", dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def vgg(input_shape, num_classes, widths: list[int] = (64, 128, 256, 512), convs_per_stage: int = 2,
        dropout: float = 0.3, bn_momentum: float = 0.9, whiten: bool = False, whiten_eps: float = 5e-4,
        whiten_bias: bool = False, head: str = "avg", logit_scale: float = 1.0, activation: str = "relu",
        bn_scale: bool = True, identity_init: bool = False):
    """Deep VGG-style CNN with batch norm (the default): 4 stages x 2 convs, 64-512 wide, ~4.7M params.

    The other options are ``fast``'s (patch whitening, GELU, batch norm without a scale,
    partial-identity init, a max-pooled head, scaled logits); their defaults keep the plain VGG.
    """
    return vgg_family(input_shape, num_classes, widths=list(widths), convs_per_stage=convs_per_stage,
                      whiten=whiten, whiten_eps=whiten_eps, whiten_bias=whiten_bias, head=head, dropout=dropout,
                      bn_momentum=bn_momentum, logit_scale=logit_scale, activation=activation, bn_scale=bn_scale,
                      identity_init=identity_init, name="vgg")


def check_vgg_options(options: dict) -> None:
    activation = options.get("activation", "relu")
    if activation not in ACTIVATIONS:
        raise CompError(f"model.activation must be one of {', '.join(ACTIVATIONS)}. Received: {activation!r}")
    if options.get("head", "avg") not in ("avg", "max"):
        raise CompError(f"model.head must be 'avg' or 'max'. Received: {options['head']!r}")
    convs = options.get("convs_per_stage", 2)
    if convs < 1:  # the registry has checked that it is an integer
        raise CompError(f"model.convs_per_stage must be at least 1. Received: {convs!r}")
    if options.get("residual", False) and convs < 2:
        raise CompError(f"model.residual needs model.convs_per_stage of 2 or more (a shortcut over the convs "
                        f"after a stage's first). Received: convs_per_stage={convs!r}")


def fast(input_shape, num_classes, widths: list[int] = (64, 256, 256), whiten: bool = True, stem: int = 0,
         bn_momentum: float = 0.6, logit_scale: float = 0.125, activation: str = "relu", bn_scale: bool = True,
         identity_init: bool = False, whiten_eps: float = 5e-4, whiten_bias: bool = False, convs_per_stage: int = 2,
         residual: bool = False):
    """Speed-run VGG: patch whitening + 3 stages x 2 convs, pool before BN, max head; airbench96's
    deeper shape with ``convs_per_stage=3, residual=True``."""
    return vgg_family(input_shape, num_classes, widths=list(widths), convs_per_stage=convs_per_stage, stem=stem,
                      whiten=whiten, whiten_eps=whiten_eps, whiten_bias=whiten_bias, pool_first=True, head="max",
                      bn_momentum=bn_momentum, logit_scale=logit_scale, activation=activation, bn_scale=bn_scale,
                      identity_init=identity_init, residual=residual, name="fast")


def whitening_sample(images: np.ndarray, max_images: int = 5000) -> np.ndarray:
    """The images :func:`init_whitening` reads, as float32 in [-1, 1]: at most MAX_WHITEN_PATCHES
    2x2 patches whatever the image size (5,000 CIFAR images at 32 px, 19 at 512 px, and of a
    single image over 2,237 px its centre crop of that side).

    Only the sample is copied out of ``images`` (a memory map stays on disk). Peak memory of the
    whitening is then about 1.2 GB: the float32 patch stack, its float64 copy and np.cov's.
    """
    side = math.isqrt(MAX_WHITEN_PATCHES) + WHITEN_PATCH - 1  # a side whose patches fit the bound
    top, left = max(0, (images.shape[1] - side) // 2), max(0, (images.shape[2] - side) // 2)
    images = images[:, top:top + side, left:left + side]  # a view
    per_image = max((images.shape[1] - WHITEN_PATCH + 1) * (images.shape[2] - WHITEN_PATCH + 1), 1)
    max_images = max(1, min(max_images, MAX_WHITEN_PATCHES // per_image))
    return np.asarray(images[:max_images], dtype=np.float32) / 127.5 - 1.0


def init_whitening(model, images: np.ndarray, eps: float | None = None, max_images: int = 5000) -> bool:
    """Set a ``whiten`` layer's kernel to the PCA whitening of the images' 2x2 patches.

    Each eigenvector of the patch covariance, scaled by 1/sqrt(eigenvalue + eps * v), becomes
    a filter, together with its negative (as in cifar10-airbench). ``eps`` is relative to the
    mean pixel variance v: airbench's 5e-4 applies to images normalised to unit variance, and
    the model's inputs are scaled to [-1, 1] instead (v ~ 0.25 for CIFAR-10), so the same
    eps damps the same high-frequency directions; None: the layer's own (model option
    ``whiten_eps``). Returns False when the model has no such layer.
    """
    try:
        layer = model.get_layer("whiten")
    except ValueError:
        return False
    x = whitening_sample(images, max_images)
    p = WHITEN_PATCH
    h, w = x.shape[1] - p + 1, x.shape[2] - p + 1
    # (N, h, w, p, p, C) patches, flattened in the kernel's (kh, kw, cin) order
    patches = np.stack([np.stack([x[:, i:i + h, j:j + w, :] for j in range(p)], axis=3) for i in range(p)], axis=3)
    flat = patches.reshape(-1, p * p * x.shape[-1]).astype(np.float64)
    eigval, eigvec = np.linalg.eigh(np.cov(flat, rowvar=False))
    variance = float(np.mean(np.var(x.reshape(-1, x.shape[-1]), axis=0)))
    eps = layer.eps if eps is None else eps
    filters = (eigvec / np.sqrt(eigval + eps * variance)).T.reshape(-1, p, p, x.shape[-1])  # (F, kh, kw, cin)
    kernel = np.concatenate([filters, -filters]).transpose(1, 2, 3, 0)  # (kh, kw, cin, 2F)
    layer.set_weights([kernel.astype(np.float32), np.zeros(kernel.shape[-1], np.float32)])
    return True


register_model("vgg", check=check_vgg_options, init=init_whitening)(vgg)
register_model("fast", check=check_vgg_options, init=init_whitening)(fast)
