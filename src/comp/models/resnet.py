"""ResNets for small images (He et al. 2016, CIFAR variant): 3 stages of basic blocks, 16-64 wide.

``resnet`` is ResNet-20 (3 blocks per stage), ``resnet56`` has 9; both are thin variants of
:func:`cifar_resnet`.
"""

from __future__ import annotations

from comp.models.registry import register_model
from comp.tf_quiet import keras

layers = keras.layers


def _block(x, filters: int, stride: int, bn_momentum: float, name: str, zero_init: bool = False):
    """A basic block (two 3x3 convs), with a 1x1 projection where the shape changes.

    ``zero_init``: the residual branch's last batch norm starts with gamma = 0, so the block
    starts as its shortcut, the identity in most blocks (Goyal et al. 2017); False keeps
    Keras's default gamma of 1.
    """
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn1")(y)
    y = layers.Activation("relu", name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    gamma = "zeros" if zero_init else "ones"  # "ones" is Keras's default: the CIFAR nets' configs are unchanged
    y = layers.BatchNormalization(momentum=bn_momentum, gamma_initializer=gamma, name=f"{name}_bn2")(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(shortcut)
        shortcut = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


def cifar_resnet(input_shape, num_classes, *, blocks_per_stage, width=16, bn_momentum=0.9, name="resnet"):
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(inputs)
    x = layers.Conv2D(width, 3, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for s in range(3):
        for b in range(blocks_per_stage):
            stride = 2 if s > 0 and b == 0 else 1
            x = _block(x, width * 2**s, stride, bn_momentum, name=f"s{s + 1}b{b + 1}")
    x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    outputs = layers.Activation("linear", dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name=name)


@register_model("resnet")
def resnet(input_shape, num_classes, width: int = 16, bn_momentum: float = 0.9):
    """ResNet-20 for small images: 3 stages x 3 basic blocks, 16-64 wide, ~0.27M params."""
    return cifar_resnet(input_shape, num_classes, blocks_per_stage=3, width=width,
                        bn_momentum=bn_momentum, name="resnet20")


@register_model("resnet56")
def resnet56(input_shape, num_classes, width: int = 16, bn_momentum: float = 0.9):
    """ResNet-56 for small images: 3 stages x 9 basic blocks, 16-64 wide, ~0.85M params."""
    return cifar_resnet(input_shape, num_classes, blocks_per_stage=9, width=width,
                        bn_momentum=bn_momentum, name="resnet56")
