"""comp.models: every registered model builds, returns float32 logits, and reloads after saving."""

from __future__ import annotations

import re

import numpy as np
import pytest

from comp.errors import CompError
from comp.models import check_options, create_model, list_models, model_info
from comp.predict.probs import load_model

INPUT = (16, 16, 3)
CLASSES = 5


def test_the_design_models_are_registered():
    assert {"vgg", "fast", "resnet"} <= set(list_models())


LARGE_INPUT_MODELS = {name: (128, 128, 3) for name in ("alexnet", "resnet18", "resnet34", "vgg-large")}  # 128-256 px


@pytest.mark.parametrize("name", list_models())
def test_model_builds_and_returns_float32_logits(name):
    shape = LARGE_INPUT_MODELS.get(name, INPUT)
    model = create_model(name, shape, CLASSES)
    images = np.random.default_rng(0).integers(0, 256, (2, *shape)).astype(np.float32)
    out = model(images, training=False)
    assert tuple(out.shape) == (2, CLASSES)
    assert out.dtype == "float32"
    assert np.isfinite(np.asarray(out)).all()
    assert model.count_params() > 0


@pytest.mark.parametrize("name", list_models())
def test_model_info_lists_a_description_and_options(name):
    info = model_info(name)
    assert info["name"] == name and info["description"]
    assert isinstance(info["options"], dict)


def test_model_options_change_the_model():
    small = create_model("vgg", INPUT, CLASSES, widths=[4, 8], convs_per_stage=1)
    big = create_model("vgg", INPUT, CLASSES, widths=[8, 16], convs_per_stage=1)
    assert small.count_params() < big.count_params()


def test_unknown_model_name_suggests_the_closest():
    with pytest.raises(CompError) as e:
        create_model("vgj", INPUT, CLASSES)
    msg = str(e.value)
    assert "unknown model 'vgj'" in msg and "Did you mean 'vgg'?" in msg
    assert "Available:" in msg and "resnet" in msg


def test_unknown_model_option_suggests_the_closest():
    with pytest.raises(CompError) as e:
        create_model("vgg", INPUT, CLASSES, widht=[8])
    msg = str(e.value)
    assert "model 'vgg'" in msg
    assert "unknown key 'model.widht'" in msg and "Did you mean 'model.widths'?" in msg


def test_model_option_of_the_wrong_type_is_an_error():
    with pytest.raises(CompError, match=r"model\.dropout must be a number\. Received: model\.dropout='high'"):
        check_options("vgg", {"dropout": "high"})
    with pytest.raises(CompError, match=r"model\.widths must be a list of integers\. Received: model\.widths=\[8\.5, 16\]"):
        check_options("vgg", {"widths": [8.5, 16]})


def test_saved_model_reloads_with_the_same_outputs(tmp_path):
    model = create_model("resnet", INPUT, CLASSES, width=4)
    images = np.random.default_rng(1).integers(0, 256, (3, *INPUT)).astype(np.float32)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(images, training=False)),
                               np.asarray(model(images, training=False)), rtol=1e-5, atol=1e-5)


def test_loading_a_missing_model_is_an_error(tmp_path):
    with pytest.raises(CompError, match=r"m\.keras: model file not found"):
        load_model(tmp_path / "m.keras")


def test_fast_options_airbench_style_blocks():
    model = create_model("fast", (32, 32, 3), CLASSES, activation="gelu", bn_scale=False, identity_init=True)
    kernel = model.get_layer("s2c1_conv").get_weights()[0]  # (3, 3, 64, 256)
    n = kernel.shape[2]
    centre = kernel[1, 1, :, :n]
    np.testing.assert_array_equal(centre, np.eye(n))  # the first cin filters pass their channel through
    assert np.count_nonzero(kernel[:, :, :, :n]) == n
    assert np.abs(kernel[:, :, :, n:]).max() > 0  # the rest are random
    bn = model.get_layer("s2c1_bn")
    assert [w.name for w in bn.trainable_weights] == ["beta"]  # no scale: a constant 1
    assert model.get_layer("s2c1_gelu").get_config()["activation"] == "gelu"


def test_fast_rejects_an_unknown_activation():
    with pytest.raises(CompError, match=r"model.activation must be one of relu, gelu, gelu_tanh, silu. Received: 'tanh'"):
        check_options("fast", {"activation": "tanh"})


def test_identity_initialised_model_reloads(tmp_path):
    model = create_model("fast", INPUT, CLASSES, identity_init=True, widths=[8, 16, 16])
    path = tmp_path / "m.keras"
    model.save(path)
    x = np.random.default_rng(0).integers(0, 255, (2, *INPUT)).astype("float32")
    np.testing.assert_allclose(load_model(path).predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_gelu_tanh_blocks_are_the_tanh_approximation_and_reload(tmp_path):
    from comp.tf_quiet import keras

    model = create_model("fast", INPUT, CLASSES, activation="gelu_tanh", widths=[8, 16, 16])
    act = model.get_layer("s1c1_gelu_tanh").activation
    z = np.linspace(-4, 4, 33).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(act(z)),
                               keras.ops.convert_to_numpy(keras.activations.gelu(z, approximate=True)), atol=1e-6)
    assert not np.allclose(keras.ops.convert_to_numpy(act(z)),
                           keras.ops.convert_to_numpy(keras.activations.gelu(z, approximate=False)), atol=1e-6)
    assert model.get_layer("whiten_gelu").activation is act  # the whitening output uses the same form
    path = tmp_path / "m.keras"
    model.save(path)
    x = np.random.default_rng(0).integers(0, 255, (2, *INPUT)).astype("float32")
    np.testing.assert_allclose(load_model(path).predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_init_whitening_makes_the_patches_white_and_pairs_each_filter_with_its_negative():
    from comp.models.vgg import init_whitening
    from comp.tf_quiet import keras

    rng = np.random.default_rng(0)
    # correlated pixels: a smooth random field per channel plus a shared component
    base = rng.normal(size=(400, 17, 17, 1))
    smooth = (base[:, 1:, 1:] + base[:, :-1, :-1] + base[:, 1:, :-1]) / 3
    images = np.clip(127.5 + 40 * (smooth + 0.5 * rng.normal(size=(400, 16, 16, 3))), 0, 255).astype("uint8")
    model = create_model("fast", (16, 16, 3), CLASSES, widths=[8, 8, 8])
    assert init_whitening(model, images, eps=1e-9)
    whiten = keras.Model(model.input, model.get_layer("whiten").output)
    out = whiten.predict(images.astype("float32"), verbose=0).reshape(-1, 24)
    np.testing.assert_allclose(out[:, 12:], -out[:, :12], atol=1e-4)
    np.testing.assert_allclose(np.cov(out[:, :12], rowvar=False), np.eye(12), atol=0.05)
    assert not init_whitening(create_model("vgg", (16, 16, 3), CLASSES, widths=[8, 8]), images)


def test_a_larger_whiten_eps_damps_the_weakest_directions():
    from comp.models.vgg import init_whitening
    from comp.tf_quiet import keras

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (200, 16, 16, 3)).astype("uint8")
    # a model option, carried by the whitening layer to init_whitening
    model = create_model("fast", (16, 16, 3), CLASSES, widths=[8, 8, 8], whiten_eps=1.0)
    assert model.get_layer("whiten").eps == 1.0
    whiten = keras.Model(model.input, model.get_layer("whiten").output)
    stds = {}
    for eps in (1e-9, None):  # None: the layer's own eps, the model option's 1.0
        init_whitening(model, images, eps=eps)
        stds[eps or 1.0] = whiten.predict(images.astype("float32"), verbose=0).reshape(-1, 24)[:, :12].std(axis=0)
    np.testing.assert_allclose(stds[1e-9], 1.0, atol=0.05)
    assert (stds[1.0] < 0.9).all()  # eps of the order of the pixel variance: every direction damped


def test_whiten_bias_learns_while_the_whitening_kernel_stays_frozen(tmp_path):
    model = create_model("fast", (16, 16, 3), CLASSES, widths=[8, 8, 8], whiten_bias=True)
    whiten = model.get_layer("whiten")
    assert [v.name for v in whiten.trainable_weights] == ["bias"]
    assert "kernel" in [v.name for v in whiten.non_trainable_weights]
    frozen = create_model("fast", (16, 16, 3), CLASSES, widths=[8, 8, 8])
    assert frozen.get_layer("whiten").trainable_weights == []
    model.save(tmp_path / "m.keras")  # the option survives a save and reload
    assert [v.name for v in load_model(tmp_path / "m.keras").get_layer("whiten").trainable_weights] == ["bias"]


def test_alexnet_is_the_course_model_and_refuses_images_too_small_for_it():
    from comp.errors import CompError

    model = create_model("alexnet", (256, 256, 3), 10)
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size, c.strides) for c in convs] == [
        (96, (11, 11), (4, 4)), (256, (5, 5), (1, 1)), (384, (3, 3), (1, 1)), (384, (3, 3), (1, 1)),
        (256, (3, 3), (1, 1))]
    assert [layer.units for layer in model.layers if layer.name.startswith("fc") and hasattr(layer, "units")] == \
        [512, 256, 128]
    assert model.count_params() == 8_635_946 and model.output.dtype == "float32"
    with pytest.raises(CompError, match="too small for its 3x3 pooling"):
        create_model("alexnet", (64, 64, 3), 10)


# small widths of the nets for 128-256 px, so each builds in a second
SMALL_LARGE = {"resnet18": {"width": 8}, "resnet34": {"width": 8},
               "vgg-large": {"widths": [8, 16, 16, 32], "stem": 8}}


@pytest.mark.parametrize("name", sorted(SMALL_LARGE))
@pytest.mark.parametrize("side", [128, 224])
def test_large_image_nets_downsample_by_32_and_return_float32_logits(name, side):
    model = create_model(name, (side, side, 3), 10, **SMALL_LARGE[name])
    assert tuple(model.get_layer("head_pool").input.shape[1:3]) == (side // 32, side // 32)  # 4x4 and 7x7
    images = np.random.default_rng(0).integers(0, 256, (2, side, side, 3)).astype(np.float32)
    out = model(images, training=False)
    assert tuple(out.shape) == (2, 10) and out.dtype == "float32" and np.isfinite(np.asarray(out)).all()
    assert model.layers[1].name == "scale" and model.layers[1].get_config()["offset"] == -1.0


def test_large_image_nets_parameter_counts_at_224_px():
    counts = {name: create_model(name, (224, 224, 3), 10).count_params() for name in SMALL_LARGE}
    assert counts == {"resnet18": 11_191_242, "resnet34": 21_306_826, "vgg-large": 4_713_952}
    # the trainable weights at 1000 classes are torchvision's resnet18 / resnet34 exactly (He et al.'s nets;
    # Keras also counts the batch norms' moving statistics, which torch keeps as buffers)
    for name, torchvision in (("resnet18", 11_689_512), ("resnet34", 21_797_672)):
        model = create_model(name, (224, 224, 3), 1000)
        assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == torchvision


@pytest.mark.parametrize("name, side, how", [
    ("resnet18", 31, r"downsampling by 32 \(the stem's /4, then /2 at each of stages 2-4\)"),
    ("resnet34", 16, r"downsampling by 32 \(the stem's /4, then /2 at each of stages 2-4\)"),
    ("vgg-large", 24, r"downsampling by 32 \(the stem's /2, then a 2x2 max pool after each of 4 stages\)")])
def test_large_image_nets_refuse_an_input_too_small_in_one_line(name, side, how):
    with pytest.raises(CompError, match=rf"^model '{name}': a {side}x{side} input is too small for its {how}; "
                                        r"use data\.image_size of 32 or more \(it is meant for 128-256 px\)$"):
        create_model(name, (side, side, 3), 10, **SMALL_LARGE[name])
    assert create_model(name, (32, 32, 3), 10, **SMALL_LARGE[name]).output_shape == (None, 10)  # the smallest
    with pytest.raises(CompError, match=r"downsampling by 64 .*data\.image_size of 64 or more"):
        create_model("vgg-large", (32, 32, 3), 10, widths=[8, 8, 8, 8], stem=8, stem_stride=4)


def test_resnet18_zero_initialises_each_residual_branch_and_has_a_3x3_stem_option():
    model = create_model("resnet18", (64, 64, 3), 10, width=8)
    last = [layer for layer in model.layers if layer.name.endswith("_bn2")]  # each branch's last BN
    assert len(last) == 8 and all(np.all(layer.get_weights()[0] == 0) for layer in last)
    assert np.all(model.get_layer("s2b1_proj_bn").get_weights()[0] == 1)  # the shortcut's is not zeroed
    plain = create_model("resnet18", (64, 64, 3), 10, width=8, zero_init_residual=False)
    assert np.all(plain.get_layer("s2b1_bn2").get_weights()[0] == 1)
    deep = create_model("resnet18", (64, 64, 3), 10, width=8, stem="3x3")
    convs = [(c.filters, c.kernel_size, c.strides) for c in deep.layers if c.name.endswith("_conv")][:3]
    assert convs == [(4, (3, 3), (2, 2)), (4, (3, 3), (1, 1)), (8, (3, 3), (1, 1))]
    assert [layer.name for layer in create_model("resnet18", (64, 64, 3), 10, width=8, blocks=[1, 1]).layers
            if layer.name.endswith("_add")] == ["s1b1_add", "s2b1_add"]


@pytest.mark.parametrize("name, options, message", [
    ("resnet18", {"stem": "5x5"}, r"model\.stem must be one of 7x7, 3x3\. Received: model\.stem='5x5'"),
    ("resnet34", {"blocks": [3, 0, 6, 3]}, r"model\.blocks must be a non-empty list of integers of 1 or more\. "
                                          r"Received: model\.blocks=\[3, 0, 6, 3\]"),
    ("resnet18", {"blocks": []}, r"model\.blocks must be a non-empty list"),
    ("vgg-large", {"stem_stride": 0}, r"model\.stem_stride must be 1 or more\. Received: model\.stem_stride=0"),
    ("vgg-large", {"dropout": 1.0}, r"model\.dropout must be at least 0 and below 1")])
def test_large_image_nets_reject_option_values_no_type_catches(name, options, message):
    with pytest.raises(CompError, match=message):
        check_options(name, options)


@pytest.mark.parametrize("name", sorted(SMALL_LARGE))
def test_large_image_nets_reload_with_the_same_outputs(tmp_path, name):
    options = {**SMALL_LARGE[name], **({"zero_init_residual": False} if name.startswith("resnet") else {})}
    model = create_model(name, (128, 128, 3), CLASSES, **options)
    images = np.random.default_rng(2).integers(0, 256, (2, 128, 128, 3)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(load_model(tmp_path / "m.keras")(images, training=False)),
                               np.asarray(model(images, training=False)), rtol=1e-5, atol=1e-5)


def test_whitening_samples_a_bounded_number_of_patches_at_512_px_and_beyond():
    from comp.models.vgg import MAX_WHITEN_PATCHES, whitening_sample

    images = np.full((40, 512, 512, 3), 255, np.uint8)
    sample = whitening_sample(images)
    assert sample.shape == (19, 512, 512, 3) and sample.dtype == np.float32  # 19 x 511^2 = 4.96M patches
    assert sample.shape[0] * 511 * 511 <= MAX_WHITEN_PATCHES < (sample.shape[0] + 1) * 511 * 511
    assert sample.max() == 1.0
    huge = whitening_sample(np.zeros((2, 3000, 2500, 3), np.uint8))  # one image alone is over the bound
    assert huge.shape == (1, 2237, 2237, 3) and 2236 * 2236 <= MAX_WHITEN_PATCHES
    assert whitening_sample(np.zeros((6000, 32, 32, 3), np.uint8)).shape == (5000, 32, 32, 3)  # CIFAR: max_images


def test_fast_deep_blocks_have_three_convs_and_a_shortcut_over_the_last_two():
    model = create_model("fast", (16, 16, 3), CLASSES, widths=[8, 12, 16], convs_per_stage=3, residual=True)
    convs = [layer.name for layer in model.layers if layer.name.endswith("_conv")]
    assert convs == [f"s{s}c{c}_conv" for s in (1, 2, 3) for c in (1, 2, 3)]
    for s in (1, 2, 3):  # airbench96: relu(bn(conv3(.)) + the first conv's output)
        add = model.get_layer(f"s{s}c3_residual")
        sources = sorted(t._keras_history.operation.name for t in add.input)
        assert sources == [f"s{s}c1_relu", f"s{s}c3_bn"]
        assert model.get_layer(f"s{s}c3_relu").input._keras_history.operation is add
    assert model.output_shape == (None, CLASSES)
    plain = create_model("fast", (16, 16, 3), CLASSES, widths=[8, 12, 16], convs_per_stage=3)
    assert not any(layer.name.endswith("_residual") for layer in plain.layers)
    assert plain.count_params() == model.count_params()  # the shortcut adds no weights


@pytest.mark.parametrize("options, fragment", [
    ({"residual": True, "convs_per_stage": 1}, "model.residual needs model.convs_per_stage of 2 or more"),
    ({"convs_per_stage": 0}, "model.convs_per_stage must be at least 1. Received: 0"),
    ({"convs_per_stage": 2.5}, "model.convs_per_stage must be an integer"),
])
def test_fast_rejects_impossible_block_shapes(options, fragment):
    with pytest.raises(CompError, match=re.escape(fragment)):
        check_options("fast", options)
