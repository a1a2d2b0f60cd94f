"""The recommendation tasks: loaders, splits, fitted indices, metrics, baselines, training."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from ConfigSpace import Configuration

from harness.errors import TunebenchError
from harness.records import Config, Status
from harness.registry import SPACES, lookup
from harness.runner import prepare, run_study
from harness.spec import StudySpec
from tasks.base import FitContext, Split
from tasks.datasets import sha256_of
from tasks.recsys import (
    ML100K_ARCHIVE,
    ImplicitTask,
    InteractionData,
    Ml100kTask,
    MovielensSmallTask,
    RatingData,
    Recommender,
    fit_index,
    ranking_scores,
    recency_ranks,
    seen_items,
)
from tasks.training import NonFiniteLossError, fit_minibatch

CPU = torch.device("cpu")
MF: Config = {
    "model:type": "mf",
    "model:embedding_dim": 16,
    "model:mf:init_std": 0.03,
    "opt:type": "adam",
    "opt:lr": 0.01,
    "reg:type": "l2",
    "reg:l2:strength": 1e-4,
    "train:batch_size": 2048,
}
MLP: Config = {
    "model:type": "mlp",
    "model:embedding_dim": 8,
    "model:mlp:n_layers": 2,
    "model:mlp:width": 16,
    "opt:type": "adam",
    "opt:lr": 0.01,
    "reg:type": "dropout",
    "reg:dropout:p": 0.2,
    "train:batch_size": 1024,
}


BPR_MF: Config = {
    "model:type": "mf",
    "model:embedding_dim": 32,
    "model:mf:init_std": 0.03,
    "opt:type": "adam",
    "opt:lr": 0.01,
    "reg:type": "none",
    "train:batch_size": 1024,
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Fits here run on one thread, as the harness runs them (and as the CPU is shared)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def context(seed: int = 0, max_epochs: int = 2) -> FitContext:
    return FitContext(seed=seed, device=CPU, max_epochs=max_epochs)


@pytest.fixture(scope="module")
def small() -> RatingData:
    return MovielensSmallTask().load(Path("unused"), CPU)


@pytest.fixture(scope="module")
def ml100k(data_root: Path) -> RatingData:
    return Ml100kTask().load(data_root, CPU)


@pytest.fixture(scope="module")
def implicit(data_root: Path) -> InteractionData:
    return ImplicitTask().load(data_root, CPU)


@pytest.fixture(scope="module")
def raw_ml100k(data_root: Path) -> pd.DataFrame:
    return pd.read_csv(
        data_root / "ml-100k" / "u.data", sep="\t", names=["user", "item", "rating", "time"]
    )


def pair_set(pairs: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, pairs.tolist()))


# Baselines, computed here from the loaded tensors ---------------------------------------------


def rmse(predicted: np.ndarray, truth: np.ndarray, rating_range: tuple[float, float]) -> float:
    return float(np.sqrt(np.mean((np.clip(predicted, *rating_range) - truth) ** 2)))


def explicit_baselines(data: RatingData) -> dict[str, float]:
    """Test RMSE of the global mean (trivial) and of mean + item mean + user mean residuals
    (classical; unseen users or items get no bias), both fitted on the training part."""
    pairs, ratings = data.train_pairs.numpy(), data.train_ratings.numpy().astype(np.float64)
    test_pairs, truth = data.test_pairs.numpy(), data.test_ratings.numpy()
    mean = ratings.mean()

    def mean_residual(codes: np.ndarray, residual: np.ndarray, size: int) -> np.ndarray:
        return np.bincount(codes, residual, size) / np.maximum(np.bincount(codes, None, size), 1)

    item_bias = mean_residual(pairs[:, 1], ratings - mean, data.n_items)
    user_bias = mean_residual(pairs[:, 0], ratings - mean - item_bias[pairs[:, 1]], data.n_users)
    classical = mean + item_bias[test_pairs[:, 1]] + user_bias[test_pairs[:, 0]]
    return {
        "trivial": rmse(np.full(len(truth), mean), truth, data.rating_range),
        "classical": rmse(classical, truth, data.rating_range),
    }


def most_popular(data: InteractionData, train_idx: np.ndarray, eval_pairs: torch.Tensor) -> dict:
    """Items ranked by their number of training positives, under the task's full ranking."""
    train = data.train_pairs[torch.as_tensor(train_idx)]
    counts = torch.bincount(train[:, 1], minlength=data.n_items).double()
    scores = counts.expand(len(eval_pairs), -1)
    return ranking_scores(
        scores, eval_pairs[:, 1], seen_items(train, eval_pairs[:, 0], data.n_items)
    )


# Explicit loaders and splits ------------------------------------------------------------------


def test_movielens_small_loads_a_stratified_90_10_split(small: RatingData):
    assert small.n_train + small.n_test == 100_004
    assert small.n_test == pytest.approx(10_000, abs=2)
    assert (small.n_users, small.n_items) == (671, 9066)
    assert small.rating_range == (0.5, 5.0)
    for ratings in (small.train_ratings, small.test_ratings):
        assert set((ratings * 2).unique().tolist()) == set(range(1, 11))  # half stars
    shares = [
        torch.bincount((r * 2).long(), minlength=11)[1:] / len(r)
        for r in (small.train_ratings, small.test_ratings)
    ]
    assert torch.allclose(shares[0], shares[1], atol=1e-3)
    assert int(small.train_pairs[:, 0].max()) < small.n_users
    assert int(small.train_pairs[:, 1].max()) < small.n_items
    assert np.array_equal(small.strata, (small.train_ratings * 2).long().numpy())


def test_ml100k_loads_from_the_data_root(ml100k: RatingData, raw_ml100k: pd.DataFrame):
    assert (ml100k.n_train, ml100k.n_test) == (90_000, 10_000)
    assert (ml100k.n_users, ml100k.n_items) == (943, 1682)
    assert ml100k.rating_range == (1.0, 5.0)
    assert tuple(ml100k.train_pairs.shape) == (90_000, 2)
    assert ml100k.train_ratings.dtype == torch.float32
    assert set(ml100k.test_ratings.unique().tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert float(ml100k.train_ratings.sum() + ml100k.test_ratings.sum()) == raw_ml100k.rating.sum()


def test_ml100k_archive_checksum_is_that_of_the_local_u_data(data_root: Path):
    assert sha256_of(data_root / "ml-100k" / "u.data") == ML100K_ARCHIVE.sha256
    for task in (Ml100kTask(), ImplicitTask()):
        task.check_data(data_root)  # present: nothing to download, nothing raised


def test_explicit_folds_are_stratified_and_no_test_rating_is_trained_on(small: RatingData):
    pool = np.arange(small.n_train)
    folds = MovielensSmallTask().cv_folds(small, pool, 3, seed=1)
    test_pairs = pair_set(small.test_pairs)
    assert len(test_pairs) == small.n_test  # one rating per (user, item)
    validation = np.concatenate([val for _, val in folds])
    assert np.array_equal(np.sort(validation), pool)
    overall = np.bincount(small.strata, minlength=11) / small.n_train
    for train, val in folds:
        assert not set(train) & set(val)
        assert len(train) + len(val) == small.n_train
        assert not pair_set(small.train_pairs[torch.as_tensor(train)]) & test_pairs
        shares = np.bincount(small.strata[val], minlength=11) / len(val)
        assert np.allclose(shares, overall, atol=1e-3)


# Fitted indices and fallbacks -----------------------------------------------------------------


def test_fit_index_numbers_seen_codes_from_one_and_maps_unseen_codes_to_zero():
    lookup_rows, n_known = fit_index(torch.tensor([7, 2, 7, 4]), n_codes=9)
    assert n_known == 3
    assert lookup_rows.tolist() == [0, 0, 1, 0, 2, 0, 0, 3, 0]


def test_unknown_users_and_items_fall_back_to_the_biases():
    torch.manual_seed(0)
    model = Recommender(5, 4, kind="mf", dim=3, init_std=0.1, mean=3.5, dropout=0.0).eval()
    with torch.no_grad():
        model.user_bias[1:] = torch.rand(5, 1)
        model.item_bias[1:] = torch.rand(4, 1)
    pairs = torch.tensor([[0, 2], [3, 0], [0, 0], [3, 2]])
    predicted = model(pairs)
    bias_only = 3.5 + model.user_bias[pairs[:, 0], 0] + model.item_bias[pairs[:, 1], 0]
    assert torch.equal(predicted[:3], bias_only[:3])
    assert not torch.isclose(predicted[3], bias_only[3])
    all_items = model.score_all(torch.tensor([0, 3]))
    assert torch.allclose(all_items[:, 2], predicted[[0, 3]])


def test_unknown_rows_stay_zero_through_training():
    """Training never indexes row 0, and no optimizer or penalty moves a zero row without a
    gradient (AdamW's decay and L1's sign of zero included)."""
    torch.manual_seed(0)
    pairs = torch.stack([torch.randint(1, 30, (512,)), torch.randint(1, 20, (512,))], dim=1)
    targets = torch.rand(512) * 4 + 1
    for kind, extra in (("mf", {"model:mf:init_std": 0.1}), ("mlp", MLP)):
        config = {**MF, **extra, "model:type": kind, "opt:type": "adamw", "reg:type": "l1"}
        config["reg:l1:strength"] = 1e-3
        model = Recommender(
            29, 19, kind=kind, dim=4, init_std=0.1, mean=3.0, dropout=0.1, n_layers=1, width=8
        )
        fit_minibatch(
            model,
            pairs,
            targets,
            torch.nn.functional.mse_loss,
            lambda m: (0.0, {}),
            config,
            context(max_epochs=2),
        )
        for table in (model.user_factors, model.item_factors, model.user_bias, model.item_bias):
            assert not table[0].any() and table[1:].abs().sum() > 0


def perturb_outside(data, used: np.ndarray, seed: int):
    """A copy of `data` whose training interactions outside `used` are replaced at random."""
    rng = np.random.default_rng(seed)
    unused = torch.as_tensor(np.setdiff1d(np.arange(data.n_train), used))
    pairs = data.train_pairs.clone()
    pairs[unused, 0] = torch.as_tensor(rng.integers(0, data.n_users, len(unused)))
    pairs[unused, 1] = torch.as_tensor(rng.integers(0, data.n_items, len(unused)))
    changes: dict = {"train_pairs": pairs}
    if isinstance(data, RatingData):
        ratings = data.train_ratings.clone()
        ratings[unused] = torch.as_tensor(rng.uniform(0.5, 5.0, len(unused)), dtype=torch.float32)
        changes["train_ratings"] = ratings
    return dataclasses.replace(data, **changes)


@pytest.mark.parametrize("config", [MF, MLP], ids=["mf", "mlp"])
def test_explicit_fit_uses_only_its_training_and_validation_ratings(small: RatingData, config):
    task = MovielensSmallTask()
    train, val = task.cv_folds(small, np.arange(small.n_train), 3, seed=0)[0]
    split = Split(train, val)
    original = task.fit_and_score(small, config, split, context(max_epochs=1))
    perturbed = perturb_outside(small, np.concatenate([train, val]), seed=1)
    assert task.fit_and_score(perturbed, config, split, context(max_epochs=1)) == original
    changed = perturb_outside(small, val, seed=1)  # now the training ratings change too
    assert task.fit_and_score(changed, config, split, context(max_epochs=1)) != original


# Explicit training ----------------------------------------------------------------------------


def test_baselines_on_the_explicit_test_parts(small: RatingData, ml100k: RatingData):
    for data, classical in ((small, 0.90), (ml100k, 0.94)):
        baselines = explicit_baselines(data)
        assert baselines["classical"] < baselines["trivial"]
        assert baselines["classical"] == pytest.approx(classical, abs=0.01)


@pytest.mark.parametrize("config", [MF, MLP], ids=["mf", "mlp"])
def test_short_training_beats_the_baselines_on_movielens_small(small: RatingData, config):
    task = MovielensSmallTask()
    split = Split(np.arange(small.n_train), None)
    result = task.fit_and_score(small, config, split, context(max_epochs=4))
    baselines = explicit_baselines(small)
    print("movielens-small test", result.metrics, "baselines", baselines)
    assert result.loss == result.metrics["rmse"]
    assert [e.epoch for e in result.curve] == [1, 2, 3, 4]
    assert result.loss < baselines["classical"] < baselines["trivial"]


def test_short_training_beats_the_baselines_on_ml100k(ml100k: RatingData):
    result = Ml100kTask().fit_and_score(
        ml100k, MF, Split(np.arange(ml100k.n_train), None), context(max_epochs=4)
    )
    baselines = explicit_baselines(ml100k)
    print("ml-100k test", result.metrics, "baselines", baselines)
    assert result.loss < baselines["classical"] < baselines["trivial"] - 0.1


def test_explicit_fits_are_deterministic(small: RatingData):
    task = MovielensSmallTask()
    train, val = task.cv_folds(small, np.arange(small.n_train), 3, seed=0)[1]
    for config in (MF, MLP):
        runs = [
            task.fit_and_score(small, config, Split(train, val), context(seed))
            for seed in (5, 5, 6)
        ]
        assert runs[0] == runs[1]
        assert runs[0].loss != runs[2].loss


def test_a_diverging_fit_raises(small: RatingData):
    config = {**MF, "opt:type": "sgd", "opt:sgd:momentum": 0.99, "opt:lr": 1e6}
    with pytest.raises(NonFiniteLossError):
        MovielensSmallTask().fit_and_score(
            small, config, Split(np.arange(small.n_train), None), context()
        )


# Implicit loader, folds and metric ------------------------------------------------------------


def test_implicit_holds_out_each_users_last_positive(
    implicit: InteractionData, raw_ml100k: pd.DataFrame
):
    positives = raw_ml100k[raw_ml100k.rating >= 4]
    assert implicit.n_train + implicit.n_test == len(positives) == 55_375
    assert implicit.n_test == positives.user.nunique() == 942
    assert (implicit.n_users, implicit.n_items) == (943, 1682)
    test_users = implicit.test_pairs[:, 0]
    assert len(test_users.unique()) == implicit.n_test
    assert not pair_set(implicit.test_pairs) & pair_set(implicit.train_pairs)
    # raw ids 1..n are codes 0..n-1 in ml-100k; a test item is one of its user's latest positives
    latest = positives.groupby("user").time.max()
    test = pd.DataFrame(implicit.test_pairs.numpy() + 1, columns=["user", "item"])
    test = test.merge(positives, on=["user", "item"])
    assert len(test) == implicit.n_test
    assert (test.time.to_numpy() == latest.loc[test.user].to_numpy()).all()
    latest_train = pd.Series(implicit.train_timestamps).groupby(implicit.train_users + 1).max()
    assert (latest_train <= latest.loc[latest_train.index]).all()


def test_recency_ranks_count_later_interactions_of_the_same_user():
    users = np.array([1, 0, 1, 1, 0])
    times = np.array([5, 9, 3, 5, 1])
    assert recency_ranks(users, times).tolist() == [1, 0, 2, 0, 1]


def test_implicit_folds_hold_out_the_kth_last_positive_and_train_on_the_past(
    implicit: InteractionData,
):
    pool = np.arange(implicit.n_train)
    folds = ImplicitTask().cv_folds(implicit, pool, 3, seed=0)
    assert len(folds) == 3
    held_out = [set(val) for _, val in folds]
    assert not (held_out[0] & held_out[1]) and not (held_out[1] & held_out[2])
    users, times = implicit.train_users, implicit.train_timestamps
    for k, (train, val) in enumerate(folds):
        assert len(np.unique(users[val])) == len(val) >= 930
        assert np.array_equal(recency_ranks(users, times)[val], np.full(len(val), k))
        cutoff = pd.Series(times[val], index=users[val])
        trained = pd.Series(times[train], index=users[train])
        later = trained[trained.index.isin(cutoff.index)]
        assert (later.to_numpy() <= cutoff.loc[later.index].to_numpy()).all()
        assert not set(train) & set(val)
        assert len(train) == implicit.n_train - sum(
            min(k + 1, n) for n in np.bincount(users, minlength=implicit.n_users)
        )


def test_implicit_folds_refuse_to_be_empty(implicit: InteractionData):
    few = np.flatnonzero(np.isin(implicit.train_users, [0, 1]))[:4]
    with pytest.raises(TunebenchError, match="fewer folds"):
        ImplicitTask().cv_folds(implicit, few, 5, seed=0)


def test_ranking_scores_rank_against_unseen_items_with_ties_against_the_target():
    scores = torch.tensor(
        [
            [0.9, 0.8, 0.7, 0.1],  # target 2 is third, but item 0 was seen: rank 1
            [0.5, 0.5, 0.5, 0.5],  # all tied: rank 3
            [0.1, 0.2, 0.3, float("nan")],  # NaN target: last
        ]
    )
    seen = torch.tensor([[True, False, False, False], [False, False, False, False], [False] * 4])
    held_out = torch.tensor([2, 0, 3])
    one = ranking_scores(scores, held_out, seen, k=2)
    assert one["hr@2"] == pytest.approx(1 / 3)
    assert one["ndcg@2"] == pytest.approx((1 / math.log2(3)) / 3)
    assert ranking_scores(scores, held_out, seen, k=4)["hr@4"] == pytest.approx(2 / 3)


# Implicit training ----------------------------------------------------------------------------


def test_bpr_training_beats_most_popular_on_the_test_items(implicit: InteractionData):
    train = np.arange(implicit.n_train)
    popular = most_popular(implicit, train, implicit.test_pairs)
    result = ImplicitTask().fit_and_score(
        implicit, BPR_MF, Split(train, None), context(max_epochs=12)
    )
    print("ml-100k-implicit test", result.metrics, "most popular", popular)
    assert 0.02 < popular["ndcg@10"] < 0.04
    assert result.loss == pytest.approx(1 - result.metrics["ndcg@10"])
    assert result.metrics["ndcg@10"] > popular["ndcg@10"] + 0.005
    assert result.metrics["hr@10"] > popular["hr@10"]


@pytest.mark.parametrize("config", [BPR_MF, MLP], ids=["mf", "mlp"])
def test_implicit_fit_is_deterministic_and_uses_only_its_split(
    implicit: InteractionData, config: Config
):
    task = ImplicitTask()
    train, val = task.cv_folds(implicit, np.arange(implicit.n_train), 2, seed=0)[1]
    split = Split(train, val)
    first = task.fit_and_score(implicit, config, split, context(seed=3))
    assert task.fit_and_score(implicit, config, split, context(seed=3)) == first
    assert task.fit_and_score(implicit, config, split, context(seed=4)) != first
    perturbed = perturb_outside(implicit, np.concatenate([train, val]), seed=2)
    assert task.fit_and_score(perturbed, config, split, context(seed=3)) == first


# Spaces and the harness -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "configs"), [("recsys-explicit", [MF, MLP]), ("recsys-implicit", [BPR_MF, MLP])]
)
def test_model_knobs_are_active_only_under_their_model(name: str, configs: list[Config]):
    space = lookup(SPACES, "search space", name)()
    for values in configs:  # the configs these tests train are points of the space
        Configuration(space, values=values).check_valid_configuration()
    space.seed(0)
    kinds = set()
    for config in space.sample_configuration(60):
        values = dict(config)
        kinds.add(values["model:type"])
        assert ("model:mf:init_std" in values) == (values["model:type"] == "mf")
        assert ("model:mlp:width" in values) == (values["model:type"] == "mlp")
        assert ("model:mlp:n_layers" in values) == (values["model:type"] == "mlp")
    assert kinds == {"mf", "mlp"}


def test_recsys_tasks_run_through_the_harness(data_root: Path, tmp_path: Path):
    spec = StudySpec(
        name="recsys",
        tasks=("ml-100k", "ml-100k-implicit"),
        tuners=("random", "grid"),
        seeds=(0,),
        n_trials=2,
        n_folds=2,
        max_epochs=1,
        device="cpu",
    )
    records = run_study(prepare(spec, data_root), tmp_path / "recsys", progress=False)
    assert all(r.status is Status.SUCCESS for r in records)
    tests = [r for r in records if r.kind == "test"]
    assert {r.task for r in tests} == {"ml-100k", "ml-100k-implicit"}
    for record in tests:
        metric = "rmse" if record.task == "ml-100k" else "ndcg@10"
        assert metric in record.metrics and math.isfinite(record.objective)
