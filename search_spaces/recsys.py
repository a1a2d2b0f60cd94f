"""Search spaces of the recommendation family: the shared optimizer and regularizer blocks, the
embedding size, and the model, MF (with its init scale) or an NCF-style MLP (with its depth and
width). Both spaces search Adam-scale learning rates, 1e-3 to 1e-1. Explicit batches are large
(1,024-8,192 ratings), as a step's cost is mostly the optimizer's pass over the embedding
tables, so that a movielens-small trial fits the quick suite; BPR takes smaller ones (512-4,096).
The implicit MLP stops at two layers, as scoring every user against every item each epoch costs
a full layer per user-item cell."""

from __future__ import annotations

from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float, Integer

from harness.registry import register_space
from search_spaces.blocks import add_optimizer_block, add_regularizer_block

MODELS = ("mf", "mlp")


def add_model_block(space: ConfigurationSpace, mlp_width: tuple[int, int], mlp_layers: int) -> None:
    """Model type, embedding size, and each model's own knobs under its choice only."""
    kind = Categorical("model:type", MODELS, default="mf")
    init_std = Float("model:mf:init_std", (1e-3, 0.3), log=True, default=0.03)
    n_layers = Integer("model:mlp:n_layers", (1, mlp_layers), default=1)
    width = Integer("model:mlp:width", mlp_width, log=True, default=32)
    space.add(
        kind,
        Integer("model:embedding_dim", (4, 64), log=True, default=16),
        init_std,
        n_layers,
        width,
        EqualsCondition(init_std, kind, "mf"),
        EqualsCondition(n_layers, kind, "mlp"),
        EqualsCondition(width, kind, "mlp"),
    )


@register_space("recsys-explicit")
def recsys_explicit_space() -> ConfigurationSpace:
    space = ConfigurationSpace(name="recsys-explicit")
    add_optimizer_block(space, lr=(1e-3, 1e-1), batch_sizes=(1024, 2048, 4096, 8192))
    add_regularizer_block(space)
    add_model_block(space, mlp_width=(8, 64), mlp_layers=3)
    return space


@register_space("recsys-implicit")
def recsys_implicit_space() -> ConfigurationSpace:
    space = ConfigurationSpace(name="recsys-implicit")
    add_optimizer_block(space, lr=(1e-3, 1e-1), batch_sizes=(512, 1024, 2048, 4096))
    add_regularizer_block(space)
    add_model_block(space, mlp_width=(8, 64), mlp_layers=2)
    return space
