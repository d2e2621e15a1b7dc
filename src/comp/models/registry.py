"""Name → builder registry (timm-style). Every builder takes (input_shape, num_classes,
**options) and returns an uncompiled ``keras.Model`` that accepts 0-255 images and returns
float32 logits. Options are checked against the builder's annotated keyword arguments.

Example::

    @register_model("tiny")
    def tiny(input_shape, num_classes, width: int = 16): ...

    model = create_model("tiny", (32, 32, 3), 10, width=8)
"""

from __future__ import annotations

import inspect
import typing
from typing import Callable

from comp.errors import CompError, coerce, unknown_key_error, unknown_name_error

_MODELS: dict[str, Callable] = {}
_CHECKS: dict[str, Callable[[dict], None]] = {}  # name -> checks of option values beyond their types
_INITS: dict[str, Callable] = {}  # name -> data-dependent initialisation, init(model, train_images)


def register_model(name: str, check: Callable[[dict], None] | None = None, init: Callable | None = None):
    """Register a builder.

    ``check(options)`` raises CompError on values no type catches (a backbone name);
    ``init(model, train_images)`` sets weights from the training images before the first step
    (the ``fast`` model's whitening layer), and must read a bounded sample of them.
    """
    def wrap(fn: Callable) -> Callable:
        _MODELS[name] = fn
        if check is not None:
            _CHECKS[name] = check
        if init is not None:
            _INITS[name] = init
        return fn

    return wrap


def initialise_model(name: str, model, train_images) -> None:
    """Run the model's data-dependent initialisation, where its builder registered one."""
    if name in _INITS:
        _INITS[name](model, train_images)


def list_models() -> list[str]:
    return sorted(_MODELS)


def model_info(name: str) -> dict:
    """The builder's one-line description and its options with defaults."""
    fn = _builder(name)
    params = list(inspect.signature(fn).parameters.values())[2:]
    doc = (inspect.getdoc(fn) or "").splitlines()
    return {"name": name, "description": doc[0] if doc else "",
            "options": {p.name: p.default for p in params}}


def _builder(name: str) -> Callable:
    if name not in _MODELS:
        raise unknown_name_error("model", name, list(_MODELS))
    return _MODELS[name]


def check_options(name: str, options: dict) -> dict:
    """Options checked against the builder's signature: unknown keys and wrong types raise."""
    fn = _builder(name)
    hints = typing.get_type_hints(fn)
    params = list(inspect.signature(fn).parameters)[2:]
    checked = {}
    for key, value in options.items():
        if key not in params:
            raise unknown_key_error(f"model '{name}'", f"model.{key}", [f"model.{p}" for p in params])
        checked[key] = coerce(value, hints[key], f"model.{key}", f"model '{name}'") if key in hints else value
    if name in _CHECKS:
        _CHECKS[name](checked)
    return checked


def effective_options(name: str, options: dict) -> dict:
    """The builder's defaults overlaid with ``options``: what the model is really built with."""
    return {**model_info(name)["options"], **options}


def create_model(name: str, input_shape: tuple[int, int, int], num_classes: int, **options):
    """Build a registered model by name."""
    options = check_options(name, options)
    try:
        return _builder(name)(input_shape, num_classes, **options)
    except CompError:  # the builder's own message already names the key and value
        raise
    except ValueError as e:  # Keras rejects a shape or size the options produce
        raise CompError(f"model '{name}' cannot be built for input {input_shape}: {e}") from None
