"""Model registry in the timm / segmentation_models_pytorch style: `create_model(name)`, `list_models()`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from torch import nn

from edgeseg.errors import EdgesegError


@dataclass(frozen=True)
class ModelInfo:
    """What the toolkit needs to know about a network without building it.

    name: registry name (the factory's function name). factory(in_channels=, num_classes=, **options) builds it.
    summary: one line for `edgeseg models`. source: the reference code (repository @commit, file) or paper.
    reference_input: (C, H, W) at which MODELS.md / the paper count params and MACs; C is also the default
      in_channels. reference_num_classes: the default num_classes.
    paper_inputs: named inputs the paper used, e.g. {"ISIC": (3, 192, 256)}.
    size_multiple: input H and W must be multiples of this (2 ** number of 2x poolings).
    reference_params: the parameter count of the reference configuration (checked by the tests).
    recorded_options: options whose default is written into every model's config, so a checkpoint or export
      key keeps its meaning when a default changes.
    legacy_options: what a recorded config that lacks an option meant (it predates the option); applied by
      `rebuild_model`, never by `create_model`.
    variant_of: the registry name of the network this one is a named configuration of (timm's resnet18 /
      resnet34 style, e.g. unetsharp_l2 = unetsharp with level=2); `list_models(variants=False)` leaves it out,
      so "every network" builds each network once.
    """

    name: str
    factory: Callable[..., nn.Module]
    summary: str
    reference_input: tuple[int, int, int]
    reference_num_classes: int = 1
    paper_inputs: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    size_multiple: int = 16
    reference_params: int | None = None
    source: str = ""
    recorded_options: dict[str, Any] = field(default_factory=dict)
    legacy_options: dict[str, Any] = field(default_factory=dict)
    variant_of: str | None = None


_REGISTRY: dict[str, ModelInfo] = {}
Factory = TypeVar("Factory", bound=Callable[..., nn.Module])


def register_model(*, name: str | None = None, **info: Any) -> Callable[[Factory], Factory]:
    """Decorator (timm style) registering a named factory function under its name (or `name`):

        @register_model(summary="U-Net baseline", reference_input=(3, 256, 256), size_multiple=16)
        def unet(in_channels: int, num_classes: int, **options: Any) -> UNet:
            return UNet(in_channels, num_classes, **options)

    `info` are the other ModelInfo fields. Returns the function unchanged.
    """

    def register(fn: Factory) -> Factory:
        key = name or fn.__name__
        if key in _REGISTRY:
            raise ValueError(f"model {key!r} registered twice")
        _REGISTRY[key] = ModelInfo(name=key, factory=fn, **info)
        return fn

    return register


def list_models(variants: bool = True) -> list[str]:
    """Registry names, sorted; `variants=False`: without the named configurations of another network."""
    return sorted(n for n, info in _REGISTRY.items() if variants or info.variant_of is None)


def get_model_info(name: str) -> ModelInfo:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise EdgesegError(
            f"unknown model {name!r}; valid names: {', '.join(list_models())}"
        ) from None


def create_model(name: str, in_channels: int | None = None, num_classes: int | None = None,
                 **options: Any) -> nn.Module:
    """Build a network by registry name. Defaults to the reference configuration (MODELS.md)."""
    info = get_model_info(name)
    c = info.reference_input[0] if in_channels is None else in_channels
    k = info.reference_num_classes if num_classes is None else num_classes
    options = {**info.recorded_options, **options}
    try:
        model = info.factory(in_channels=c, num_classes=k, **options)
    except TypeError as e:
        if not options:
            raise
        raise EdgesegError(f"{name}: option(s) {', '.join(f'{o}={v!r}' for o, v in options.items())} not accepted "
                           f"({e}); see the {name} class docstring for its options") from None
    # Recorded so checkpoints/exports can rebuild exactly this network.
    model.edgeseg_config = {"name": name, "in_channels": c, "num_classes": k, "options": dict(options)}
    return model


def rebuild_model(config: dict[str, Any]) -> nn.Module:
    """The network a recorded `edgeseg_config` describes; options it lacks take their legacy meaning."""
    info = get_model_info(config["name"])
    options = {**info.legacy_options, **(config.get("options") or {})}
    return create_model(info.name, config["in_channels"], config["num_classes"], **options)


def check_input_size(name: str, height: int, width: int) -> None:
    """Raise a clear error if the network cannot take an H x W input."""
    m = get_model_info(name).size_multiple
    if height % m or width % m or height <= 0 or width <= 0:
        raise EdgesegError(
            f"{name} needs input height and width that are multiples of {m} "
            f"(it downsamples by {m}); got {height}x{width}. Pass --size with multiples of {m}."
        )
