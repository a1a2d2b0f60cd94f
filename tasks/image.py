"""Image classification: a small CNN whose depth and width are hyperparameters.

Datasets: `digits` (scikit-learn's 8x8 digits, embedded; outer split 80/20 stratified with a
fixed data seed) and `fashion-mnist` (torchvision's reader over the data root; official
60,000/10,000 split). Images are held as one float tensor on the device; pixel normalisation
statistics are computed from each fit's training indices only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from harness.records import Config, FitResult
from harness.registry import register_task
from tasks.base import FitContext, Split, Task, TaskData, TaskInfo
from tasks.datasets import DATA_SEED, RemoteFile, ensure_files, fingerprint
from tasks.training import classifier_evaluator, dropout_rate, fit_minibatch


@dataclass
class ImageData(TaskData):
    train_x: torch.Tensor  # (n_train, 1, H, W) float32 in [0, 1]
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    n_classes: int


def image_data(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    device: torch.device,
) -> ImageData:
    """Tensors on `device` from uint8-or-float images (N, H, W) scaled to [0, 1] and int labels."""

    def images(array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, dtype=torch.float32, device=device).unsqueeze(1)

    def labels(array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, dtype=torch.int64, device=device)

    return ImageData(
        n_train=len(train_y),
        n_test=len(test_y),
        strata=np.asarray(train_y),
        fingerprint=fingerprint(train_x, train_y, test_x, test_y),
        train_x=images(train_x),
        train_y=labels(train_y),
        test_x=images(test_x),
        test_y=labels(test_y),
        n_classes=int(max(train_y.max(), test_y.max())) + 1,
    )


class SmallCNN(nn.Module):
    """`depth` blocks of conv 3x3 → ReLU → max-pool 2, channels doubling from `width`."""

    def __init__(self, image_size: int, n_classes: int, depth: int, width: int, dropout: float):
        super().__init__()
        layers: list[nn.Module] = []
        channels, size = 1, image_size
        for block in range(depth):
            out = width * 2**block
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            channels, size = out, size // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * size * size, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ImageTask(Task):
    def fit_and_score(
        self, data: TaskData, config: Config, split: Split, context: FitContext
    ) -> FitResult:
        assert isinstance(data, ImageData)
        device = data.train_x.device
        train = torch.as_tensor(split.train_idx, device=device)
        train_x = data.train_x[train]
        mean, std = train_x.mean(), train_x.std().clamp(min=1e-6)
        if split.eval_idx is None:
            eval_x, eval_y = data.test_x, data.test_y
        else:
            held_out = torch.as_tensor(split.eval_idx, device=device)
            eval_x, eval_y = data.train_x[held_out], data.train_y[held_out]
        torch.manual_seed(context.seed)
        model = SmallCNN(
            image_size=data.train_x.shape[-1],
            n_classes=data.n_classes,
            depth=int(config["arch:depth"]),
            width=int(config["arch:width"]),
            dropout=dropout_rate(config),
        ).to(device)
        return fit_minibatch(
            model,
            (train_x - mean) / std,
            data.train_y[train],
            nn.functional.cross_entropy,
            classifier_evaluator((eval_x - mean) / std, eval_y, data.n_classes),
            config,
            context,
        )


@register_task("digits")
class DigitsTask(ImageTask):
    info = TaskInfo(
        name="digits",
        family="image",
        dataset="scikit-learn digits (UCI optical recognition of handwritten digits)",
        metric="accuracy",
        objective="1 - accuracy",
        space="image-cnn",
        size="1,797 8x8 images, 10 classes; 1,437 train / 360 test",
        licence="BSD-3-Clause (scikit-learn), data CC BY 4.0 (UCI)",
        source="embedded in scikit-learn (sklearn.datasets.load_digits)",
        worst_loss=1.0,
        default_epochs=5,
    )

    def load(self, data_root: Path, device: torch.device) -> ImageData:
        bunch = load_digits()
        images = bunch.images.astype(np.float32) / 16.0
        train_x, test_x, train_y, test_y = train_test_split(
            images, bunch.target, test_size=0.2, stratify=bunch.target, random_state=DATA_SEED
        )
        return image_data(train_x, train_y, test_x, test_y, device)


_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_FILES = tuple(
    RemoteFile(f"FashionMNIST/raw/{name}", _FASHION_URL + name + ".gz", sha256, gzipped=True)
    for name, sha256 in (
        (
            "train-images-idx3-ubyte",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        (
            "train-labels-idx1-ubyte",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        (
            "t10k-images-idx3-ubyte",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        (
            "t10k-labels-idx1-ubyte",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    )
)


@register_task("fashion-mnist")
class FashionMnistTask(ImageTask):
    info = TaskInfo(
        name="fashion-mnist",
        family="image",
        dataset="Fashion-MNIST (Xiao, Rasul & Vollgraf 2017)",
        metric="accuracy",
        objective="1 - accuracy",
        space="image-cnn",
        size="70,000 28x28 images, 10 classes; official 60,000 train / 10,000 test",
        licence="MIT",
        source="github.com/zalandoresearch/fashion-mnist; <data root>/FashionMNIST/raw/*-ubyte",
        worst_loss=1.0,
        default_epochs=5,
    )

    def check_data(self, data_root: Path) -> None:
        ensure_files(data_root, FASHION_FILES, self.info.name)

    def load(self, data_root: Path, device: torch.device) -> ImageData:
        from torchvision.datasets import FashionMNIST

        parts = [
            FashionMNIST(str(data_root), train=train, download=False) for train in (True, False)
        ]
        (train_x, train_y), (test_x, test_y) = (
            (part.data.numpy().astype(np.float32) / 255.0, part.targets.numpy()) for part in parts
        )
        return image_data(train_x, train_y, test_x, test_y, device)
