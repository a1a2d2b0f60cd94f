"""Training pieces shared by the task families: the optimizer and regularizer blocks at run
time, a mini-batch loop over tensors held on the device, and classification metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from harness.records import Config, EpochStats, FitResult
from tasks.base import FitContext


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the trial is recorded as crashed."""


def make_optimizer(parameters: Sequence[nn.Parameter], config: Config) -> torch.optim.Optimizer:
    lr = float(config["opt:lr"])
    kind = config["opt:type"]
    if kind == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=float(config["opt:sgd:momentum"]))
    if kind == "adam":
        return torch.optim.Adam(parameters, lr=lr)
    if kind == "adamw":
        return torch.optim.AdamW(parameters, lr=lr)
    raise ValueError(f"unknown optimizer {kind!r}")


def dropout_rate(config: Config) -> float:
    return float(config["reg:dropout:p"]) if config["reg:type"] == "dropout" else 0.0


def penalty(model: nn.Module, config: Config) -> torch.Tensor | None:
    """The L1 or L2 penalty on the model's weight matrices and kernels (not biases or norms)."""
    kind = config["reg:type"]
    if kind not in ("l1", "l2"):
        return None
    strength = float(config[f"reg:{kind}:strength"])
    weights = [p for p in model.parameters() if p.dim() > 1]
    if kind == "l1":
        return strength * sum(w.abs().sum() for w in weights)
    return strength * sum(w.pow(2).sum() for w in weights)


def torch_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


Evaluate = Callable[[nn.Module], tuple[float, dict[str, float]]]


def fit_minibatch(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    evaluate: Evaluate,
    config: Config,
    context: FitContext,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
) -> FitResult:
    """Train `model` on tensors already on the device for `context.max_epochs` epochs.

    Batches are slices of a seeded permutation (no per-sample Python). After each epoch the
    model is scored by `evaluate`, which returns (loss-style objective, metrics); the last
    epoch's score is the fit's result (no early stopping, so the test fit sees the same rule).
    `augment(batch_inputs, generator)`, when given, transforms each training batch (never what
    `evaluate` sees) with random draws from the fit's seeded generator.
    """
    generator = torch_generator(context.seed)
    optimizer = make_optimizer(list(model.parameters()), config)
    batch_size = int(config["train:batch_size"])
    n = inputs.shape[0]
    curve: list[EpochStats] = []
    loss, metrics = float("nan"), {}
    for epoch in range(1, context.max_epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator).to(inputs.device)
        total = torch.zeros((), device=inputs.device)
        for start in range(0, n, batch_size):
            context.check_time()
            batch = order[start : start + batch_size]
            batch_inputs = inputs[batch] if augment is None else augment(inputs[batch], generator)
            batch_loss = loss_fn(model(batch_inputs), targets[batch])
            extra = penalty(model, config)
            objective = batch_loss if extra is None else batch_loss + extra
            optimizer.zero_grad(set_to_none=True)
            objective.backward()
            optimizer.step()
            total += batch_loss.detach() * len(batch)
        train_loss = float(total) / n
        if not np.isfinite(train_loss):
            raise NonFiniteLossError(f"training loss is {train_loss} at epoch {epoch}")
        loss, metrics = evaluate(model)
        curve.append(EpochStats(epoch=epoch, train_loss=train_loss, eval_loss=loss))
    return FitResult(loss=loss, metrics=metrics, curve=tuple(curve))


@torch.no_grad()
def predict_batched(model: nn.Module, inputs: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    model.eval()
    return torch.cat([model(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)])


def classification_scores(
    predicted: torch.Tensor, truth: torch.Tensor, n_classes: int
) -> dict[str, float]:
    """Accuracy and macro-F1 of predicted class labels (computed on the device, no Python loop)."""
    accuracy = (predicted == truth).float().mean()
    index = truth * n_classes + predicted
    confusion = torch.bincount(index, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    true_positive = confusion.diag().float()
    precision_denominator = confusion.sum(0).float()
    recall_denominator = confusion.sum(1).float()
    f1 = 2 * true_positive / (precision_denominator + recall_denominator).clamp(min=1)
    present = (recall_denominator + precision_denominator) > 0
    return {"accuracy": float(accuracy), "macro_f1": float(f1[present].mean())}


def classifier_evaluator(inputs: torch.Tensor, labels: torch.Tensor, n_classes: int) -> Evaluate:
    """An `Evaluate` that scores 1 - accuracy, with accuracy and macro-F1 as metrics."""

    def evaluate(model: nn.Module) -> tuple[float, dict[str, float]]:
        predicted = predict_batched(model, inputs).argmax(dim=1)
        scores = classification_scores(predicted, labels, n_classes)
        return 1.0 - scores["accuracy"], scores

    return evaluate
