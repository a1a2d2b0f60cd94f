"""Search space of the text family: vocabulary size, a bag-of-embeddings or CNN model with its
own size knobs, and the shared optimizer and regularizer blocks."""

from __future__ import annotations

from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Integer

from harness.registry import register_space
from search_spaces.blocks import add_optimizer_block, add_regularizer_block

MODELS = ("bag", "cnn")


@register_space("text-classifier")
def text_classifier_space() -> ConfigurationSpace:
    space = ConfigurationSpace(name="text-classifier")
    add_optimizer_block(space, lr=(1e-3, 0.1), batch_sizes=(32, 64, 128))
    add_regularizer_block(space)
    kind = Categorical("model:type", MODELS, default="bag")
    bag_dim = Integer("model:bag:embed_dim", (8, 64), log=True, default=32)
    ngrams = Integer("model:bag:ngrams", (1, 2), default=2)
    cnn_dim = Integer("model:cnn:embed_dim", (8, 32), log=True, default=16)
    channels = Integer("model:cnn:channels", (8, 64), log=True, default=24)
    kernel = Integer("model:cnn:kernel_size", (2, 5), default=3)
    space.add(
        Integer("text:vocab_size", (1000, 20000), log=True, default=5000),
        kind,
        bag_dim,
        ngrams,
        cnn_dim,
        channels,
        kernel,
        EqualsCondition(bag_dim, kind, "bag"),
        EqualsCondition(ngrams, kind, "bag"),
        EqualsCondition(cnn_dim, kind, "cnn"),
        EqualsCondition(channels, kind, "cnn"),
        EqualsCondition(kernel, kind, "cnn"),
    )
    return space
