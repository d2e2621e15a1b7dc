"""Nets for large images (128-256 px), trained from scratch: their stems downsample early.

- ``resnet18``, ``resnet34``: the ImageNet ResNets of He et al. 2016: a 7x7/2 conv stem with a
  3x3/2 max pool, four stages of basic blocks ([2, 2, 2, 2] and [3, 4, 6, 3]), 64-512 wide,
  stride 2 at stages 2-4, global average pooling. The 7x7 stem is the default because it is
  the published net (its parameter counts and recipes carry over); ``stem = "3x3"`` is the
  ResNet-C stem (He et al. 2019, "Bag of Tricks"): three 3x3 convs, the first strided, the
  same receptive field and stride, a little better from scratch and about 3x the stem's cost.
  ``zero_init_residual`` starts each block's last batch norm at gamma 0 (Goyal et al. 2017),
  so every block starts as its shortcut and the deep net trains like a shallow one at first.
- ``vgg-large``: :func:`comp.models.vgg.vgg_family` behind a strided stem (a 3x3/2 conv by
  default; ``stem_kernel = 4, stem_stride = 4`` is a patchify stem), four stages of two 3x3
  convs with 2x2 max pooling, 64-512 wide, global average pooling and dropout.

Each refuses an input smaller than its total downsampling (32 px with the defaults) with one
line naming the smallest ``data.image_size`` it takes; the registry's ``check`` hooks see only
the options, so this check runs when the model is built, before any training.
"""

from __future__ import annotations

from comp.errors import CompError
from comp.models.registry import register_model
from comp.models.resnet import _block
from comp.models.vgg import vgg_family
from comp.tf_quiet import keras

layers = keras.layers

STEMS = ("7x7", "3x3")


def check_input_size(model: str, input_shape, stride: int, how: str) -> None:
    """Raise CompError when the input is smaller than the net's total downsampling ``stride``."""
    height, width = input_shape[0], input_shape[1]
    if min(height, width) < stride:
        raise CompError(f"model '{model}': a {height}x{width} input is too small for its downsampling by {stride} "
                        f"({how}); use data.image_size of {stride} or more (it is meant for 128-256 px)")


def _positive(options: dict, key: str) -> None:
    """An integer option, or a list of them, must be (non-empty and) 1 or more."""
    value = options.get(key)
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if value is not None and (not values or min(values) < 1):
        what = "a non-empty list of integers of 1 or more" if isinstance(value, (list, tuple)) else "1 or more"
        raise CompError(f"model.{key} must be {what}. Received: model.{key}={value!r}")


def _dropout(options: dict) -> None:
    dropout = options.get("dropout", 0.0)
    if not 0.0 <= dropout < 1.0:
        raise CompError(f"model.dropout must be at least 0 and below 1. Received: model.dropout={dropout!r}")


def check_resnet_options(options: dict) -> None:
    """Option values no type catches: the stem's name, positive block counts and width."""
    stem = options.get("stem", "7x7")
    if stem not in STEMS:
        raise CompError(f"model.stem must be one of {', '.join(STEMS)}. Received: model.stem={stem!r}")
    _positive(options, "blocks")
    _positive(options, "width")
    _dropout(options)


def _stem(x, width: int, kind: str, bn_momentum: float):
    """The /4 stem: a 7x7/2 conv (or three 3x3 convs, the first /2), BN, ReLU, then a 3x3/2 max pool."""
    convs = [(width, 7, 2, "stem")] if kind == "7x7" else [
        (max(1, width // 2), 3, 2, "stem1"), (max(1, width // 2), 3, 1, "stem2"), (width, 3, 1, "stem3")]
    for filters, kernel, stride, name in convs:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
        x = layers.Activation("relu", name=f"{name}_relu")(x)
    return layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)


def imagenet_resnet(input_shape, num_classes, *, blocks, width=64, stem="7x7", dropout=0.0, bn_momentum=0.9,
                    zero_init_residual=True, name="resnet18"):
    """An ImageNet-style ResNet of basic blocks: ``blocks[s]`` blocks of ``width * 2**s`` filters in stage s."""
    blocks = list(blocks)
    stride = 4 * 2 ** (len(blocks) - 1)
    check_input_size(name, input_shape, stride, f"the stem's /4, then /2 at each of stages 2-{len(blocks)}"
                     if len(blocks) > 1 else "the stem's /4")
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(inputs)
    x = _stem(x, width, stem, bn_momentum)
    for s, count in enumerate(blocks):
        for b in range(count):
            x = _block(x, width * 2**s, 2 if s > 0 and b == 0 else 1, bn_momentum, name=f"s{s + 1}b{b + 1}",
                       zero_init=zero_init_residual)
    x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    outputs = layers.Activation("linear", dtype="float32", name="output")(x)  # float32 logits under mixed precision
    return keras.Model(inputs, outputs, name=name)


@register_model("resnet18", check=check_resnet_options)
def resnet18(input_shape, num_classes, width: int = 64, blocks: list[int] = (2, 2, 2, 2), stem: str = "7x7",
             dropout: float = 0.0, bn_momentum: float = 0.9, zero_init_residual: bool = True):
    """ResNet-18 for 128-256 px (He et al. 2016): 7x7/2 stem, 2-2-2-2 basic blocks, 64-512 wide, 11.19M params."""
    return imagenet_resnet(input_shape, num_classes, blocks=blocks, width=width, stem=stem, dropout=dropout,
                           bn_momentum=bn_momentum, zero_init_residual=zero_init_residual, name="resnet18")


@register_model("resnet34", check=check_resnet_options)
def resnet34(input_shape, num_classes, width: int = 64, blocks: list[int] = (3, 4, 6, 3), stem: str = "7x7",
             dropout: float = 0.0, bn_momentum: float = 0.9, zero_init_residual: bool = True):
    """ResNet-34 for 128-256 px (He et al. 2016): 7x7/2 stem, 3-4-6-3 basic blocks, 64-512 wide, 21.31M params."""
    return imagenet_resnet(input_shape, num_classes, blocks=blocks, width=width, stem=stem, dropout=dropout,
                           bn_momentum=bn_momentum, zero_init_residual=zero_init_residual, name="resnet34")


def check_vgg_large_options(options: dict) -> None:
    """Option values no type catches: positive widths, stem width, kernel and stride."""
    for key in ("widths", "convs_per_stage", "stem", "stem_kernel", "stem_stride"):
        _positive(options, key)
    _dropout(options)


@register_model("vgg-large", check=check_vgg_large_options)
def vgg_large(input_shape, num_classes, widths: list[int] = (64, 128, 256, 512), convs_per_stage: int = 2,
              stem: int = 32, stem_kernel: int = 3, stem_stride: int = 2, dropout: float = 0.3,
              bn_momentum: float = 0.9):
    """VGG-style plain net for 128-256 px: 3x3/2 conv stem, 4 stages x 2 convs + max pool, 64-512 wide, 4.71M params."""
    widths = list(widths)
    check_input_size("vgg-large", input_shape, stem_stride * 2 ** len(widths),
                     f"the stem's /{stem_stride}, then a 2x2 max pool after each of {len(widths)} stages")
    return vgg_family(input_shape, num_classes, widths=widths, convs_per_stage=convs_per_stage, stem=stem,
                      stem_kernel=stem_kernel, stem_stride=stem_stride, dropout=dropout, bn_momentum=bn_momentum,
                      name="vgg_large")
