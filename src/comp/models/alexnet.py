"""AlexNet for from-scratch training at 128-256 px (Krizhevsky et al. 2012, with batch norm).

The course model this toolkit grew from: Conv 96 11x11 stride 4, Conv 256 5x5, Conv 384, 384,
256 3x3, 3x3/2 max pooling after the first, second and last conv, batch norm after every
conv, then dense 512-256-128 with dropout and the logits. At 256 px, 10 classes: about
8.6M parameters (the dense layers read a 6x6x256 map). Below about 100 px the pooling
leaves no map to read, and the builder says so.
"""

from __future__ import annotations

from comp.errors import CompError
from comp.models.registry import register_model
from comp.tf_quiet import keras

layers = keras.layers


def _conv(x, filters: int, kernel: int, stride: int, name: str, padding: str = "same"):
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _pool(x, name: str):
    if min(x.shape[1], x.shape[2]) < 3:
        raise CompError(f"model 'alexnet': the feature map is {x.shape[1]}x{x.shape[2]} before {name}; "
                        f"the input is too small for its 3x3 pooling (use data.image_size of 128 or more)")
    return layers.MaxPooling2D(3, strides=2, name=name)(x)


@register_model("alexnet")
def alexnet(input_shape, num_classes, widths: list[int] = (96, 256, 384, 384, 256),
            dense: list[int] = (512, 256, 128), dropout: float = 0.5):
    """AlexNet with batch norm (the course model): 5 convs 11x11/4 ... 3x3, dense 512-256-128, ~8.6M params at 256 px."""
    widths, dense = list(widths), list(dense)
    if len(widths) != 5:
        raise CompError(f"model.widths of alexnet must list 5 conv widths. Received: model.widths={widths!r}")
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(inputs)
    x = _pool(_conv(x, widths[0], 11, 4, "c1", padding="valid"), "p1")
    x = _pool(_conv(x, widths[1], 5, 1, "c2"), "p2")
    for i, width in enumerate(widths[2:], start=3):
        x = _conv(x, width, 3, 1, f"c{i}")
    x = layers.Flatten(name="flatten")(_pool(x, "p5"))
    for i, units in enumerate(dense, start=1):
        x = layers.Dense(units, activation="relu", name=f"fc{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    outputs = layers.Activation("linear", dtype="float32", name="output")(x)  # float32 logits under mixed precision
    return keras.Model(inputs, outputs, name="alexnet")
