"""Search space of the image family's CNN: shared optimizer and regularizer blocks plus size."""

from __future__ import annotations

from ConfigSpace import ConfigurationSpace, Integer

from harness.registry import register_space
from search_spaces.blocks import add_optimizer_block, add_regularizer_block


@register_space("image-cnn")
def image_cnn_space() -> ConfigurationSpace:
    space = ConfigurationSpace(name="image-cnn")
    add_optimizer_block(space)
    add_regularizer_block(space)
    space.add(
        Integer("arch:depth", (1, 3), default=2),
        Integer("arch:width", (8, 64), log=True, default=16),
    )
    return space
