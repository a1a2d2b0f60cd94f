"""Hyperparameter blocks shared by every task family's search space.

Names are namespaced by their parent (`opt:sgd:momentum` is active only when `opt:type` is
`sgd`), so the stored configs say which branch each value belongs to. `tasks/training.py` turns
these values into an optimizer, a penalty and a dropout rate.
"""

from __future__ import annotations

from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float

OPTIMIZERS = ("sgd", "adam", "adamw")
REGULARIZERS = ("none", "l1", "l2", "dropout")


def add_optimizer_block(
    space: ConfigurationSpace,
    lr: tuple[float, float] = (1e-4, 1e-1),
    batch_sizes: tuple[int, ...] = (32, 64, 128, 256),
) -> None:
    """Optimizer type, log-uniform learning rate, momentum under SGD only, and batch size."""
    kind = Categorical("opt:type", OPTIMIZERS, default="adam")
    momentum = Float("opt:sgd:momentum", (0.0, 0.99), default=0.9)
    space.add(
        kind,
        Float("opt:lr", lr, log=True, default=1e-3),
        momentum,
        Categorical("train:batch_size", batch_sizes, default=batch_sizes[1], ordered=True),
        EqualsCondition(momentum, kind, "sgd"),
    )


def add_regularizer_block(space: ConfigurationSpace) -> None:
    """Regularizer in {none, l1, l2, dropout}, its strength active only under its own choice."""
    kind = Categorical("reg:type", REGULARIZERS, default="none")
    l1 = Float("reg:l1:strength", (1e-6, 1e-2), log=True, default=1e-4)
    l2 = Float("reg:l2:strength", (1e-6, 1e-2), log=True, default=1e-4)
    dropout = Float("reg:dropout:p", (0.05, 0.7), default=0.3)
    space.add(
        kind,
        l1,
        l2,
        dropout,
        EqualsCondition(l1, kind, "l1"),
        EqualsCondition(l2, kind, "l2"),
        EqualsCondition(dropout, kind, "dropout"),
    )
