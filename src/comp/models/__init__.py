"""Models registered by name: ``create_model("vgg", input_shape, num_classes, **options)``.

Importing this package registers every builder (vgg, fast, resnet, resnet56, alexnet, resnet18, resnet34,
vgg-large, transfer).
"""

from comp.models.registry import (check_options, create_model, effective_options, initialise_model, list_models,
                                  model_info, register_model)
from comp.models import alexnet, vgg, resnet, large, transfer  # noqa: F401  (registration side effect)

__all__ = ["check_options", "create_model", "effective_options", "initialise_model", "list_models", "model_info",
           "register_model"]
