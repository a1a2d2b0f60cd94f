"""The speech task: FSDD from the data root, log-mel features checked against independent
references, SpecAugment, baselines and short real training runs."""

from __future__ import annotations

import hashlib
import math
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from harness.records import Status
from harness.registry import SPACES
from harness.runner import prepare, run_study
from harness.spec import StudySpec
from search_spaces.speech import N_MELS
from tasks.base import FitContext, Split
from tasks.datasets import ensure_archive
from tasks.speech import (
    CLIP_SAMPLES,
    FSDD_ARCHIVE,
    FSDD_COMMIT,
    FSDD_SPEAKERS,
    HOP_SAMPLES,
    LOG_EPS,
    N_FFT,
    N_FRAMES,
    SAMPLE_RATE_HZ,
    FsddTask,
    SpeechCNN,
    SpeechData,
    fsdd_file_names,
    fsdd_parts,
    hz_to_mel,
    log_mel,
    make_augment,
    mel_filterbank,
    mel_to_hz,
    power_spectrogram,
    read_wav,
    spec_augment,
)

CPU = torch.device("cpu")
N_BINS = N_FFT // 2 + 1


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread, as in a study's trials: faster on a shared CPU, and reproducible."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def fsdd(data_root: Path) -> SpeechData:
    return FsddTask().load(data_root, CPU)


def default_config(**changes: object) -> dict:
    config = dict(SPACES["speech-cnn"]().get_default_configuration())
    config.update(changes)
    return config


def specaugment_config() -> dict:
    return default_config(
        **{
            "aug:type": "specaugment",
            "aug:specaugment:freq_mask": 6,
            "aug:specaugment:time_mask": 4,
        }
    )


# --- the files -----------------------------------------------------------------------------


def test_the_data_root_holds_exactly_the_listed_recordings(data_root: Path):
    names = fsdd_file_names()
    assert len(names) == 3000 == len(set(names))
    assert sorted(p.name for p in (data_root / "fsdd" / "recordings").iterdir()) == names
    speakers = {name.split("_")[1] for name in names}
    assert speakers == set(FSDD_SPEAKERS)


def test_the_archive_checksum_is_the_readme_one_and_matches_the_local_copy(data_root: Path):
    readme = (data_root / "README.md").read_text()
    published = re.search(r"^([0-9a-f]{64})\s+fsdd/recordings/\*", readme, re.MULTILINE)
    assert published is not None and FSDD_ARCHIVE.sha256 == published.group(1)
    paths = [path for path, _ in FSDD_ARCHIVE.members]
    assert paths == sorted(paths)  # the README's order: sorted by name
    digest = hashlib.sha256()
    for path in paths:
        digest.update((data_root / path).read_bytes())
    assert digest.hexdigest() == FSDD_ARCHIVE.sha256


def test_check_data_accepts_the_local_copy_without_downloading(data_root: Path):
    FsddTask().check_data(data_root)  # offline machine: would fail if it tried to download


def test_ensure_archive_unpacks_a_github_style_zip(data_root: Path, tmp_path: Path):
    """A zip laid out like GitHub's archive of the pinned commit installs and verifies."""
    zipped = tmp_path / "fsdd.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_STORED) as bundle:
        for path, member in FSDD_ARCHIVE.members:
            assert member.startswith(f"free-spoken-digit-dataset-{FSDD_COMMIT}/recordings/")
            bundle.write(data_root / path, member)
    root = tmp_path / "root"
    ensure_archive(root, replace(FSDD_ARCHIVE, url=zipped.as_uri()), "fsdd")
    for path in (FSDD_ARCHIVE.members[0][0], FSDD_ARCHIVE.members[-1][0]):
        assert (root / path).read_bytes() == (data_root / path).read_bytes()
    assert len(list((root / "fsdd" / "recordings").iterdir())) == 3000


# --- loading and splits --------------------------------------------------------------------


def test_fsdd_loads_its_own_split_by_take(fsdd: SpeechData):
    assert (fsdd.n_train, fsdd.n_test) == (2700, 300)
    assert tuple(fsdd.train_power.shape) == (2700, N_BINS, N_FRAMES)
    assert tuple(fsdd.test_power.shape) == (300, N_BINS, N_FRAMES)
    _, _, train_takes = fsdd_parts(list(fsdd.train_files))
    _, _, test_takes = fsdd_parts(list(fsdd.test_files))
    assert train_takes.min() == 5 and test_takes.max() == 4
    assert set(fsdd.train_files) | set(fsdd.test_files) == set(fsdd_file_names())
    assert np.bincount(fsdd.train_y.numpy()).tolist() == [270] * 10
    assert np.bincount(fsdd.test_y.numpy()).tolist() == [30] * 10
    digits, _, _ = fsdd_parts(list(fsdd.test_files))
    assert digits.tolist() == fsdd.test_y.tolist()


def test_cv_folds_stay_in_the_training_part_and_balance_digit_and_speaker(fsdd: SpeechData):
    pool = np.arange(fsdd.n_train)
    folds = FsddTask().cv_folds(fsdd, pool, 3, seed=0)
    validation = np.concatenate([val for _, val in folds])
    assert np.array_equal(np.sort(validation), pool)
    for train, val in folds:
        assert not set(train) & set(val)
        names = [fsdd.train_files[i] for i in np.concatenate([train, val])]
        assert not set(names) & set(fsdd.test_files)
        assert fsdd_parts(names)[2].min() >= 5
        digits, speakers, _ = fsdd_parts([fsdd.train_files[i] for i in val])
        assert np.bincount(digits * 6 + speakers).tolist() == [15] * 60


def test_log_mel_is_computed_once_per_band_count(fsdd: SpeechData):
    train, test = fsdd.log_mel(20)
    assert tuple(train.shape) == (2700, 20, N_FRAMES) and tuple(test.shape) == (300, 20, N_FRAMES)
    again, _ = fsdd.log_mel(20)
    assert again is train


# --- features against references -----------------------------------------------------------


def reference_hz_to_mel(frequency_hz: float) -> float:
    """Slaney's Auditory Toolbox scale written from its definition (not from the module)."""
    if frequency_hz < 1000.0:
        return 3.0 * frequency_hz / 200.0
    return 15.0 + 27.0 * math.log(frequency_hz / 1000.0) / math.log(6.4)


def reference_mel_to_hz(mel: float) -> float:
    if mel < 15.0:
        return 200.0 * mel / 3.0
    return 1000.0 * 6.4 ** ((mel - 15.0) / 27.0)


def reference_filterbank(n_mels: int, n_fft: int, sample_rate_hz: float) -> np.ndarray:
    """Slaney-normalised triangles, one band and one FFT bin at a time, in float64."""
    top = reference_hz_to_mel(sample_rate_hz / 2)
    edges = [reference_mel_to_hz(top * i / (n_mels + 1)) for i in range(n_mels + 2)]
    weights = np.zeros((n_mels, n_fft // 2 + 1))
    for band in range(n_mels):
        low, centre, high = edges[band], edges[band + 1], edges[band + 2]
        for k in range(n_fft // 2 + 1):
            f = k * sample_rate_hz / n_fft
            if low < f <= centre:
                weights[band, k] = (f - low) / (centre - low)
            elif centre < f < high:
                weights[band, k] = (high - f) / (high - centre)
        weights[band] *= 2.0 / (high - low)
    return weights


def reference_log_mel(samples: np.ndarray, n_mels: int) -> np.ndarray:
    """numpy: pad/crop, zero-pad N_FFT/2 each side, periodic Hann frames, rfft, mel, log."""
    clip = np.zeros(CLIP_SAMPLES)
    kept = samples[:CLIP_SAMPLES].astype(np.float64) / 32768.0
    clip[: len(kept)] = kept
    padded = np.pad(clip, N_FFT // 2)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    frames = np.stack(
        [padded[t * HOP_SAMPLES : t * HOP_SAMPLES + N_FFT] * window for t in range(N_FRAMES)]
    )
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    mel = reference_filterbank(n_mels, N_FFT, SAMPLE_RATE_HZ) @ power.T
    return np.log(mel + LOG_EPS)


def test_mel_scale_matches_librosa_documented_values():
    # librosa.hz_to_mel / mel_to_hz docstring examples (Slaney scale, htk=False)
    mels = hz_to_mel(torch.tensor([60.0, 110.0, 220.0, 440.0, 1000.0], dtype=torch.float64))
    assert torch.allclose(mels, torch.tensor([0.9, 1.65, 3.3, 6.6, 15.0], dtype=torch.float64))
    hz = mel_to_hz(torch.tensor([3.0, 1.0, 15.0], dtype=torch.float64))
    assert torch.allclose(hz, torch.tensor([200.0, 66.6667, 1000.0], dtype=torch.float64))
    above = torch.tensor([1500.0, 3999.0], dtype=torch.float64)
    assert torch.allclose(mel_to_hz(hz_to_mel(above)), above)


def test_filterbank_matches_published_librosa_values():
    """librosa.filters.mel(sr=22050, n_fft=2048) (128 Slaney bands, norm="slaney"): its first
    entries as published in the docs of the `mel_filter` crate, a port of librosa."""
    filters = mel_filterbank(128, 2048, 22050).double()
    band_0 = [0.0, 0.016182853208219942, 0.032365706416439884, 0.028990088037379964]
    band_0 += [0.012807234829160026, 0.0]
    band_1 = [0.0, 0.0, 0.0, 0.009779235793639925, 0.025962089001859864, 0.035393705451959974]
    band_1 += [0.01921085224374004, 0.003027999035520103, 0.0]
    assert torch.allclose(filters[0, :6], torch.tensor(band_0, dtype=torch.float64), atol=1e-7)
    assert torch.allclose(filters[1, :9], torch.tensor(band_1, dtype=torch.float64), atol=1e-7)


@pytest.mark.parametrize("n_mels", N_MELS)
def test_filterbank_matches_an_independent_implementation(n_mels: int):
    ours = mel_filterbank(n_mels, N_FFT, SAMPLE_RATE_HZ).numpy()
    reference = reference_filterbank(n_mels, N_FFT, SAMPLE_RATE_HZ)
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-8)
    assert (ours.max(axis=1) > 0).all()  # no empty band


def test_log_mel_of_recordings_matches_a_numpy_reference(fsdd: SpeechData, data_root: Path):
    folder = data_root / "fsdd" / "recordings"
    for n_mels in (20, 64):
        _, test = fsdd.log_mel(n_mels)
        for index in (0, 150, 299):
            samples = read_wav(folder / fsdd.test_files[index])
            reference = reference_log_mel(samples, n_mels)
            np.testing.assert_allclose(test[index].numpy(), reference, atol=2e-3)


def test_power_spectrogram_of_a_sine_has_the_expected_scale():
    """A 1 kHz sine of amplitude A lies exactly on FFT bin 64 (15.625 Hz bins); a periodic Hann
    window sums to N_FFT / 2, so a full frame's power there is (A / 2 * N_FFT / 2) ** 2."""
    amplitude, bin_index = 0.5, 64
    t = np.arange(CLIP_SAMPLES) / SAMPLE_RATE_HZ
    clip = torch.tensor(amplitude * np.sin(2 * np.pi * 1000.0 * t), dtype=torch.float32)
    power = power_spectrogram(clip.unsqueeze(0))[0]
    full_frames = power[:, 1:-1]  # the first and last frames reach into the zero padding
    expected = (amplitude / 2 * N_FFT / 2) ** 2
    assert torch.allclose(full_frames[bin_index], torch.full_like(full_frames[0], expected), 1e-4)
    assert (full_frames.argmax(dim=0) == bin_index).all()
    assert full_frames[bin_index + 3 :].max() < 1e-6 * expected


@pytest.mark.parametrize("n_mels", N_MELS)
@pytest.mark.parametrize("frequency_hz", [300.0, 1000.0, 2500.0])
def test_log_mel_of_a_sine_peaks_in_the_band_centred_nearest_it(n_mels: int, frequency_hz: float):
    t = np.arange(CLIP_SAMPLES) / SAMPLE_RATE_HZ
    clip = torch.tensor(0.5 * np.sin(2 * np.pi * frequency_hz * t), dtype=torch.float32)
    features = log_mel(power_spectrogram(clip.unsqueeze(0)), n_mels)[0]
    top = reference_hz_to_mel(SAMPLE_RATE_HZ / 2)
    centres = [reference_mel_to_hz(top * i / (n_mels + 1)) for i in range(1, n_mels + 1)]
    nearest = int(np.argmin(np.abs(np.array(centres) - frequency_hz)))
    assert (features[:, 1:-1].argmax(dim=0) == nearest).all()


# --- SpecAugment ---------------------------------------------------------------------------


def test_spec_augment_masks_one_band_range_and_one_frame_range_per_example():
    batch = torch.randn(256, 1, 32, N_FRAMES) + 10.0  # no zeros before masking
    masked = spec_augment(batch, torch.Generator().manual_seed(0), 6, 4)
    zero = masked == 0
    assert torch.equal(masked[~zero], batch[~zero])
    band_masked = zero.all(dim=3)[:, 0]  # (n, n_mels): whole band zeroed
    frame_masked = zero.all(dim=2)[:, 0]  # (n, n_frames)
    for rows, max_width in ((band_masked, 6), (frame_masked, 4)):
        widths = rows.sum(dim=1)
        assert widths.max() == max_width and widths.min() == 0
        for row in rows[widths > 0]:  # one contiguous range
            where = torch.nonzero(row).flatten()
            assert where[-1] - where[0] + 1 == len(where)
    again = spec_augment(batch, torch.Generator().manual_seed(0), 6, 4)
    assert torch.equal(masked, again)
    unmasked = spec_augment(batch, torch.Generator().manual_seed(0), 0, 0)
    assert torch.equal(unmasked, batch)


def test_make_augment_follows_the_config():
    assert make_augment(default_config()) is None
    augment = make_augment(specaugment_config())
    assert augment is not None
    batch = torch.randn(64, 1, 20, N_FRAMES) + 10.0
    assert (augment(batch, torch.Generator().manual_seed(1)) == 0).any()


def small_split(fsdd: SpeechData) -> Split:
    folds = FsddTask().cv_folds(fsdd, np.arange(fsdd.n_train), 3, seed=0)
    train, val = folds[0]
    return Split(np.sort(train)[:600], np.sort(val)[:300])


def test_spec_augment_masks_training_batches_only(fsdd: SpeechData):
    """Every batch the CNN trains on has masked bands and frames; what it is scored on has none."""
    seen: list[tuple[bool, bool]] = []

    def record(module: torch.nn.Module, args: tuple) -> None:
        if isinstance(module, SpeechCNN):
            zero = args[0] == 0
            has_mask = bool(zero.all(dim=3).any() and zero.all(dim=2).any())
            seen.append((module.training, has_mask))

    handle = torch.nn.modules.module.register_module_forward_pre_hook(record)
    try:
        context = FitContext(seed=3, device=CPU, max_epochs=2)
        FsddTask().fit_and_score(fsdd, specaugment_config(), small_split(fsdd), context)
    finally:
        handle.remove()
    training = [masked for is_training, masked in seen if is_training]
    scoring = [masked for is_training, masked in seen if not is_training]
    assert len(training) == 2 * math.ceil(600 / 64) and all(training)
    assert len(scoring) == 2 and not any(scoring)


# --- training ------------------------------------------------------------------------------


def test_same_seed_gives_an_identical_fit(fsdd: SpeechData):
    task, split, config = FsddTask(), small_split(fsdd), specaugment_config()
    results = [
        task.fit_and_score(fsdd, config, split, FitContext(seed=seed, device=CPU, max_epochs=2))
        for seed in (5, 5, 6)
    ]
    assert results[0] == results[1]
    assert results[0].curve != results[2].curve
    assert len(results[0].curve) == 2


def test_a_short_training_run_beats_the_baselines(fsdd: SpeechData):
    """Majority class and logistic regression on mean log-mel bands (fitted on the training part)
    against the default CNN trained for three epochs, all scored on the test part."""
    train_y, test_y = fsdd.train_y.numpy(), fsdd.test_y.numpy()
    majority = float(np.mean(test_y == np.bincount(train_y).argmax()))
    train_x, test_x = (part.mean(dim=2).numpy() for part in fsdd.log_mel(32))
    classical = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    with threadpool_limits(1):
        logistic = float(classical.fit(train_x, train_y).score(test_x, test_y))
    context = FitContext(seed=0, device=CPU, max_epochs=3)
    split = Split(np.arange(fsdd.n_train), None)
    result = FsddTask().fit_and_score(fsdd, default_config(), split, context)
    cnn = result.metrics["accuracy"]
    print(f"test accuracy: majority {majority:.3f}, logistic {logistic:.3f}, cnn {cnn:.3f}")
    assert majority == pytest.approx(0.1)
    assert logistic > 0.8
    assert cnn > logistic
    assert result.loss == pytest.approx(1 - cnn)


def test_fsdd_runs_through_the_harness(data_root: Path, tmp_path: Path):
    spec = StudySpec(
        name="speech",
        tasks=("fsdd",),
        tuners=("random",),
        seeds=(0,),
        n_trials=2,
        n_folds=2,
        max_epochs=2,
        train_subsample=600,
        device="cpu",
    )
    records = run_study(prepare(spec, data_root), tmp_path / "speech", progress=False)
    assert all(r.status is Status.SUCCESS for r in records)
    assert len(records) == 3
    test = next(r for r in records if r.kind == "test")
    assert test.metrics["accuracy"] > 0.3  # 10 classes: chance is 0.1
