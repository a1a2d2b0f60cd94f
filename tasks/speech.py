"""Speech classification: a small 2-D CNN over log-mel spectrograms of spoken digits.

Dataset: `fsdd`, the Free Spoken Digit Dataset (3,000 8 kHz mono recordings, 6 speakers x 10
digits x 50 takes) with its own split: takes 0-4 are the test part, takes 5-49 the training part.
Every speaker is in both parts, so the test accuracy is that of speakers seen in training. CV
folds are stratified by (digit, speaker) pair.

Features: every recording is zero-padded or cropped to `CLIP_SAMPLES` (0.64 s), turned into a
power spectrogram once in `load` (`torch.stft`, 64 ms Hann window, 32 ms hop, zero padding at
the edges), and mapped through a mel filterbank built here with Slaney's formula (the Auditory
Toolbox scale: linear below 1 kHz, logarithmic above; triangles normalised to equal area; the
same filters as librosa's default `filters.mel(htk=False, norm="slaney")`), then
`log(mel power + LOG_EPS)`. The number of mel bands is a hyperparameter (`feat:n_mels`); its
log-mel tensors are computed on first use in the process and cached on the loaded data.
Per-band normalisation statistics are fitted inside each fit on its training indices only.

Augmentation: SpecAugment-style masks (one frequency band range and one frame range per
example, widths drawn up to `aug:specaugment:freq_mask` / `time_mask`), drawn batch-wise with
the fit's generator and applied to training batches only.
"""

from __future__ import annotations

import math
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from harness.errors import TunebenchError
from harness.records import Config, FitResult
from harness.registry import register_task
from tasks.base import FitContext, Split, Task, TaskData, TaskInfo
from tasks.datasets import RemoteArchive, ensure_archive, fingerprint
from tasks.training import classifier_evaluator, dropout_rate, fit_minibatch

SAMPLE_RATE_HZ = 8000
CLIP_SAMPLES = 5120  # 0.64 s: covers more than 90% of the recordings in full
N_FFT = 512  # 64 ms window
HOP_SAMPLES = 256  # 32 ms hop
N_FRAMES = 1 + CLIP_SAMPLES // HOP_SAMPLES
LOG_EPS = 1e-6

FSDD_COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
N_DIGITS = 10
N_TAKES = 50
N_TEST_TAKES = 5  # takes 0-4 are the dataset's own test part
FSDD_SHA256 = "ddb17656a0bca4c5ddace082be188ca630516dc2ef1110afe3c4e9cc71173de4"


def fsdd_file_names() -> list[str]:
    """`{digit}_{speaker}_{take}.wav` for every recording, in sorted name order."""
    return sorted(
        f"{digit}_{speaker}_{take}.wav"
        for digit in range(N_DIGITS)
        for speaker in FSDD_SPEAKERS
        for take in range(N_TAKES)
    )


FSDD_ARCHIVE = RemoteArchive(
    url=f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/{FSDD_COMMIT}.zip",
    members=tuple(
        (f"fsdd/recordings/{name}", f"free-spoken-digit-dataset-{FSDD_COMMIT}/recordings/{name}")
        for name in fsdd_file_names()
    ),
    sha256=FSDD_SHA256,
)


def read_wav(path: Path) -> np.ndarray:
    """The samples of a mono 16-bit PCM wav at `SAMPLE_RATE_HZ`, as int16."""
    with wave.open(str(path), "rb") as handle:
        layout = (handle.getnchannels(), handle.getsampwidth(), handle.getframerate())
        if layout != (1, 2, SAMPLE_RATE_HZ):
            raise TunebenchError(
                f"{path}: expected mono 16-bit {SAMPLE_RATE_HZ} Hz audio, got "
                f"{layout[0]} channel(s), {8 * layout[1]}-bit, {layout[2]} Hz"
            )
        return np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")


def fixed_length(recordings: list[np.ndarray], n_samples: int) -> np.ndarray:
    """Float32 waveforms in [-1, 1), each zero-padded at the end or cropped to `n_samples`."""
    clips = np.zeros((len(recordings), n_samples), dtype=np.float32)
    for row, samples in zip(clips, recordings, strict=True):
        kept = samples[:n_samples]
        row[: len(kept)] = kept / 32768.0
    return clips


def hz_to_mel(frequency_hz: torch.Tensor) -> torch.Tensor:
    """Slaney's mel scale: linear (3 mels per 200 Hz) below 1 kHz, logarithmic above."""
    linear = frequency_hz / (200.0 / 3.0)
    log_step = math.log(6.4) / 27.0
    logarithmic = 15.0 + torch.log(frequency_hz.clamp(min=1000.0) / 1000.0) / log_step
    return torch.where(frequency_hz >= 1000.0, logarithmic, linear)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    linear = mel * (200.0 / 3.0)
    log_step = math.log(6.4) / 27.0
    logarithmic = 1000.0 * torch.exp(log_step * (mel - 15.0))
    return torch.where(mel >= 15.0, logarithmic, linear)


def mel_filterbank(
    n_mels: int,
    n_fft: int,
    sample_rate_hz: int,
    f_min_hz: float = 0.0,
    f_max_hz: float | None = None,
) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters, evenly spaced in Slaney mels from `f_min_hz`
    to `f_max_hz` (default: Nyquist), each scaled by 2 / its width in Hz (equal area)."""
    f_max_hz = sample_rate_hz / 2.0 if f_max_hz is None else f_max_hz
    dtype = torch.float64
    bin_hz = torch.linspace(0.0, sample_rate_hz / 2.0, n_fft // 2 + 1, dtype=dtype)
    mel_range = hz_to_mel(torch.tensor([f_min_hz, f_max_hz], dtype=dtype))
    edges_hz = mel_to_hz(torch.linspace(mel_range[0], mel_range[1], n_mels + 2, dtype=dtype))
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bin_hz - lower) / (centre - lower)
    falling = (upper - bin_hz) / (upper - centre)
    triangles = torch.minimum(rising, falling).clamp(min=0.0)
    return (triangles * (2.0 / (upper - lower))).to(torch.float32)


def power_spectrogram(clips: torch.Tensor) -> torch.Tensor:
    """(n, n_fft // 2 + 1, N_FRAMES) |STFT|^2 of fixed-length clips, Hann window, centred frames."""
    window = torch.hann_window(N_FFT, dtype=clips.dtype, device=clips.device)
    spectrum = torch.stft(
        clips,
        N_FFT,
        hop_length=HOP_SAMPLES,
        window=window,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    return spectrum.abs().square()


def log_mel(power: torch.Tensor, n_mels: int) -> torch.Tensor:
    """(n, n_mels, n_frames) log mel power of a power spectrogram."""
    filters = mel_filterbank(n_mels, N_FFT, SAMPLE_RATE_HZ).to(power.device)
    return torch.log(torch.matmul(filters, power) + LOG_EPS)


@dataclass
class SpeechData(TaskData):
    train_power: torch.Tensor  # (n_train, n_fft // 2 + 1, N_FRAMES) power spectrograms
    train_y: torch.Tensor
    test_power: torch.Tensor
    test_y: torch.Tensor
    n_classes: int
    train_files: tuple[str, ...]  # the recording behind each training example
    test_files: tuple[str, ...]
    _log_mel: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(
        default_factory=dict, init=False, repr=False
    )

    def log_mel(self, n_mels: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(train, test) log-mel tensors with `n_mels` bands, computed once per process."""
        if n_mels not in self._log_mel:
            self._log_mel[n_mels] = (
                log_mel(self.train_power, n_mels),
                log_mel(self.test_power, n_mels),
            )
        return self._log_mel[n_mels]


def spec_augment(
    batch: torch.Tensor, generator: torch.Generator, max_freq_width: int, max_time_width: int
) -> torch.Tensor:
    """Zero one band range and one frame range per example of a (n, 1, n_mels, n_frames) batch.

    As in SpecAugment (Park et al. 2019): a width w is drawn uniformly from [0, max width] and
    a start uniformly from [0, size - w]. Inputs are normalised, so zero is the training mean.
    The masks are drawn on the CPU with `generator` and built with tensor ops for the batch.
    """
    n, _, n_mels, n_frames = batch.shape

    def ranges(size: int, max_width: int) -> torch.Tensor:
        width = torch.randint(0, min(max_width, size) + 1, (n, 1), generator=generator)
        start = (torch.rand((n, 1), generator=generator) * (size - width + 1)).floor()
        position = torch.arange(size).unsqueeze(0)
        return (position >= start) & (position < start + width)

    bands = ranges(n_mels, max_freq_width)
    frames = ranges(n_frames, max_time_width)
    masked = bands[:, None, :, None] | frames[:, None, None, :]
    return batch.masked_fill(masked.to(batch.device), 0.0)


Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def make_augment(config: Config) -> Augment | None:
    if config["aug:type"] != "specaugment":
        return None
    max_freq_width = int(config["aug:specaugment:freq_mask"])
    max_time_width = int(config["aug:specaugment:time_mask"])

    def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return spec_augment(batch, generator, max_freq_width, max_time_width)

    return augment


class SpeechCNN(nn.Module):
    """`depth` blocks of conv 3x3 stride 2 → batch norm → ReLU, channels doubling from `width`,
    then dropout and a linear layer over the flattened maps.

    Strided convolutions rather than conv + max-pool: at these input sizes max-pooling was the
    largest single CPU cost of a training step (measured with one thread), and a stride-2
    convolution also computes 4x fewer outputs. Batch norm lets the few epochs the time budget
    allows reach a good accuracy.
    """

    def __init__(
        self, n_mels: int, n_frames: int, n_classes: int, depth: int, width: int, dropout: float
    ):
        super().__init__()
        layers: list[nn.Module] = []
        channels, height, length = 1, n_mels, n_frames
        for block in range(depth):
            out = width * 2**block
            layers += [
                nn.Conv2d(channels, out, 3, stride=2, padding=1),
                nn.BatchNorm2d(out),
                nn.ReLU(),
            ]
            channels, height, length = out, (height + 1) // 2, (length + 1) // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * height * length, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def fsdd_parts(names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Digit label, speaker index and take number of each `{digit}_{speaker}_{take}.wav`."""
    fields = [name.removesuffix(".wav").split("_") for name in names]
    digits = np.array([int(digit) for digit, _, _ in fields], dtype=np.int64)
    speakers = np.array([FSDD_SPEAKERS.index(speaker) for _, speaker, _ in fields])
    takes = np.array([int(take) for _, _, take in fields], dtype=np.int64)
    return digits, speakers, takes


@register_task("fsdd")
class FsddTask(Task):
    info = TaskInfo(
        name="fsdd",
        family="speech",
        dataset="Free Spoken Digit Dataset (Z. Jackson and contributors), commit 26eb9aaf",
        metric="accuracy",
        objective="1 - accuracy",
        space="speech-cnn",
        size="3,000 8 kHz recordings, 10 classes, 6 speakers; takes 5-49 train (2,700) / "
        "takes 0-4 test (300)",
        licence="CC BY-SA 4.0",
        source="github.com/Jakobovski/free-spoken-digit-dataset; <data root>/fsdd/recordings/",
        worst_loss=1.0,
        default_epochs=4,
    )

    def check_data(self, data_root: Path) -> None:
        ensure_archive(data_root, FSDD_ARCHIVE, self.info.name)

    def load(self, data_root: Path, device: torch.device) -> SpeechData:
        folder = data_root / "fsdd" / "recordings"
        names = fsdd_file_names()
        missing = [name for name in names if not (folder / name).is_file()]
        if missing:
            raise TunebenchError(
                f"fsdd: {len(missing)} of {len(names)} recordings are missing under {folder} "
                f"(first: {missing[0]})"
            )
        recordings = [read_wav(folder / name) for name in names]
        digits, speakers, takes = fsdd_parts(names)
        clips = fixed_length(recordings, CLIP_SAMPLES)
        power = power_spectrogram(torch.as_tensor(clips, device=device))
        train, test = np.flatnonzero(takes >= N_TEST_TAKES), np.flatnonzero(takes < N_TEST_TAKES)
        lengths = np.array([len(samples) for samples in recordings])
        digest = fingerprint(np.concatenate(recordings), lengths, digits, speakers, takes)

        def labels(index: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(digits[index], device=device)

        return SpeechData(
            n_train=len(train),
            n_test=len(test),
            # folds balanced by digit and by speaker: every (digit, speaker) pair is one stratum
            strata=digits[train] * len(FSDD_SPEAKERS) + speakers[train],
            fingerprint=digest,
            train_power=power[torch.as_tensor(train, device=device)],
            train_y=labels(train),
            test_power=power[torch.as_tensor(test, device=device)],
            test_y=labels(test),
            n_classes=N_DIGITS,
            train_files=tuple(names[i] for i in train),
            test_files=tuple(names[i] for i in test),
        )

    def fit_and_score(
        self, data: TaskData, config: Config, split: Split, context: FitContext
    ) -> FitResult:
        assert isinstance(data, SpeechData)
        device = data.train_power.device
        features, test_features = data.log_mel(int(config["feat:n_mels"]))
        train = torch.as_tensor(split.train_idx, device=device)
        train_x = features[train]
        std, mean = torch.std_mean(train_x, dim=(0, 2), keepdim=True)  # per mel band
        std = std.clamp(min=1e-6)
        if split.eval_idx is None:
            eval_x, eval_y = test_features, data.test_y
        else:
            held_out = torch.as_tensor(split.eval_idx, device=device)
            eval_x, eval_y = features[held_out], data.train_y[held_out]
        torch.manual_seed(context.seed)
        model = SpeechCNN(
            n_mels=features.shape[1],
            n_frames=features.shape[2],
            n_classes=data.n_classes,
            depth=int(config["arch:depth"]),
            width=int(config["arch:width"]),
            dropout=dropout_rate(config),
        ).to(device)
        return fit_minibatch(
            model,
            ((train_x - mean) / std).unsqueeze(1),
            data.train_y[train],
            nn.functional.cross_entropy,
            classifier_evaluator(((eval_x - mean) / std).unsqueeze(1), eval_y, data.n_classes),
            config,
            context,
            augment=make_augment(config),
        )
