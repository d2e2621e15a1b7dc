"""The transfer track: a ``keras.applications`` backbone under a new classification head.

``create_model("transfer", (32, 32, 3), 10, backbone="ResNet50V2", weights="imagenet")``
builds::

    image (0-255) -> resize to the backbone's input size -> the backbone's own preprocess_input
                  -> backbone (layer "backbone", no top) -> global average pool -> dropout -> logits

- ``weights``: ``imagenet`` (downloaded once into ``~/.keras/models``; what the ``transfer``
  recipe asks for), ``none`` (random initialisation: the builder's default, so that building a
  model never reaches the network unasked), or the path of a local weights file for the
  backbone without its top (what keras.applications downloads as ``*_notop.h5``, or what
  ``backbone.save_weights("x.weights.h5")`` writes), for machines without internet.
- Preprocessing differs by family (as keras.applications documents per family): caffe (VGG, ResNet:
  RGB->BGR, ImageNet mean subtracted), tf (ResNetV2, MobileNetV2, Inception, Xception: [-1, 1]),
  torch (DenseNet: [0, 1], ImageNet mean/std), and none for the families that normalise inside
  the model (EfficientNet, EfficientNetV2, MobileNetV3, ConvNeXt), whose preprocess_input is an
  identity. :class:`BackbonePreprocess` calls the family's own function, so a saved model
  carries its preprocessing and reloads without ``safe_mode=False`` (which a Lambda would need).
- With pretrained weights, training is two-phase (``comp.train.fine_tune``): the head alone
  with the backbone frozen, then the top of the backbone at a lower learning rate with batch
  norm kept frozen. With ``none`` there is nothing to protect: the whole network trains from
  the first epoch, batch norm included (a from-scratch run of a known architecture, which
  rules against pretrained weights allow).

Pretrained weights are outside data: a run that used them is marked ``pretrained`` in its
config, and ``comp predict`` refuses it where the competition's ``[rules]`` forbid them.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path

from comp.errors import CompError, unknown_name_error
from comp.models.registry import register_model
from comp.tf_quiet import keras

layers = keras.layers


@dataclass(frozen=True)
class Backbone:
    family: str  # the keras.applications module whose preprocess_input fits: resnet, densenet, ...
    size: int = 224  # native (ImageNet) input side in pixels: the default input_size
    min_size: int = 32  # smallest input side keras.applications accepts


# name -> Backbone; the name is the keras.applications constructor.
BACKBONES: dict[str, Backbone] = {
    "ConvNeXtTiny": Backbone("convnext"),
    "ConvNeXtSmall": Backbone("convnext"),
    "DenseNet121": Backbone("densenet"),
    "DenseNet169": Backbone("densenet"),
    "DenseNet201": Backbone("densenet"),
    "EfficientNetB0": Backbone("efficientnet"),
    "EfficientNetB1": Backbone("efficientnet", 240),
    "EfficientNetB2": Backbone("efficientnet", 260),
    "EfficientNetB3": Backbone("efficientnet", 300),
    "EfficientNetV2B0": Backbone("efficientnet_v2"),
    "EfficientNetV2B1": Backbone("efficientnet_v2", 240),
    "EfficientNetV2B2": Backbone("efficientnet_v2", 260),
    "EfficientNetV2B3": Backbone("efficientnet_v2", 300),
    "EfficientNetV2S": Backbone("efficientnet_v2", 384),
    "InceptionResNetV2": Backbone("inception_resnet_v2", 299, 75),
    "InceptionV3": Backbone("inception_v3", 299, 75),
    "MobileNet": Backbone("mobilenet"),
    "MobileNetV2": Backbone("mobilenet_v2"),
    "MobileNetV3Large": Backbone("mobilenet_v3"),
    "MobileNetV3Small": Backbone("mobilenet_v3"),
    "ResNet50": Backbone("resnet"),
    "ResNet101": Backbone("resnet"),
    "ResNet152": Backbone("resnet"),
    "ResNet50V2": Backbone("resnet_v2"),
    "ResNet101V2": Backbone("resnet_v2"),
    "ResNet152V2": Backbone("resnet_v2"),
    "VGG16": Backbone("vgg16"),
    "VGG19": Backbone("vgg19"),
    "Xception": Backbone("xception", 299, 71),
}

DEFAULT_BACKBONE = "EfficientNetB0"


def list_backbones() -> list[str]:
    return sorted(BACKBONES)


def backbone_spec(name: str) -> Backbone:
    if name not in BACKBONES:
        raise unknown_name_error("backbone", name, list(BACKBONES))
    return BACKBONES[name]


@keras.saving.register_keras_serializable(package="comp")
class BackbonePreprocess(layers.Layer):
    """0-255 RGB images -> the backbone's input scale, by ``keras.applications.<family>.preprocess_input``.

    >>> BackbonePreprocess("resnet_v2")(images)  # [-1, 1]
    """

    def __init__(self, family: str, **kwargs):
        super().__init__(**kwargs)
        module = getattr(keras.applications, family, None)
        if module is None or not hasattr(module, "preprocess_input"):
            raise ValueError(f"keras.applications has no preprocess_input for family '{family}'")
        self.family = family
        self._preprocess = module.preprocess_input

    def call(self, images):
        return self._preprocess(images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "family": self.family}


def check_weights(weights: str) -> str:
    """``imagenet``, ``none``, or an existing weights file (the path is returned unchanged)."""
    if weights in ("imagenet", "none"):
        return weights
    if not Path(weights).is_file():
        raise CompError(f"model.weights must be 'imagenet', 'none' or the path of a local weights file; "
                        f"there is no file at {weights}. Received: model.weights={weights!r}")
    return weights


def check_transfer_options(options: dict) -> None:
    """Fail early (before any data is decoded) on an unknown backbone, bad weights or input size."""
    name = options.get("backbone", DEFAULT_BACKBONE)
    spec = backbone_spec(name)
    check_weights(options.get("weights", "none"))
    size = options.get("input_size", 0)
    if size < 0 or 0 < size < spec.min_size:
        raise CompError(f"model.input_size must be 0 (the backbone's native {spec.size}) or at least "
                        f"{spec.min_size} for {name}. Received: model.input_size={size}")


def _fetch_failed(error: Exception) -> bool:
    """A failed download inside keras.applications: get_file raises a bare Exception for it."""
    text = str(error)
    return isinstance(error, OSError) or "URL fetch failure" in text or "corrupted file" in text


def build_backbone(name: str, weights: str, size: int):
    """The keras.applications model without its top, named ``backbone``."""
    constructor = getattr(keras.applications, name)
    source = None if weights == "none" else weights
    try:
        # Keras prints its download progress on stdout, which the CLI keeps for results.
        with contextlib.redirect_stdout(sys.stderr):
            return constructor(include_top=False, weights=source, input_shape=(size, size, 3), name="backbone")
    except Exception as e:  # noqa: BLE001  (sorted into the user's problems below, else re-raised)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if weights == "imagenet" and _fetch_failed(e):
            raise CompError(f"model.weights: cannot download the ImageNet weights of {name} ({first}); "
                            f"fetch them once on a machine with internet (they are cached in ~/.keras/models), "
                            f"or pass the path of a local weights file. Received: model.weights='imagenet'") from None
        if source not in (None, "imagenet") and isinstance(e, (ValueError, OSError, KeyError)):
            raise CompError(f"model.weights: {weights} does not load into {name} without its top "
                            f"({first}). Received: model.weights={weights!r}") from None
        raise


@register_model("transfer", check=check_transfer_options)
def transfer(input_shape, num_classes, backbone: str = DEFAULT_BACKBONE, weights: str = "none",
             input_size: int = 0, dropout: float = 0.2):
    """keras.applications backbone (weights: imagenet | none | local file) + new head; pretrained: two-phase fine-tuning."""
    check_transfer_options({"backbone": backbone, "weights": weights, "input_size": input_size})
    spec = backbone_spec(backbone)
    size = input_size or spec.size
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if tuple(input_shape[:2]) != (size, size):
        x = layers.Resizing(size, size, interpolation="bilinear", name="resize")(x)
    # float32 even under mixed_float16: caffe-style mean subtraction on 0-255 values loses digits in float16
    x = BackbonePreprocess(spec.family, name="preprocess", dtype="float32")(x)
    x = build_backbone(backbone, weights, size)(x)
    x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    # float32 logits under a mixed_float16 policy: the loss and softmax stay accurate
    outputs = layers.Activation("linear", dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name=f"transfer_{backbone}")
