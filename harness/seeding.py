"""Every random seed in tunebench is derived here, from the study seed and a key.

`derive_seed(seed, *key)` hashes the key with BLAKE2b (never Python's salted `hash()`) and feeds
the study seed and the hashed key to a numpy `SeedSequence`. Keyed derivation, unlike `spawn()`,
means adding a task or a tuner does not shift the other streams. The keys in use:

- ``("split", task)``: the CV folds of a run; shared by every tuner of the same run seed.
- ``("train", task, config_id, fold)``: weight init and data order of one fit. It depends on the
  configuration, not on the trial number, so equal configurations get equal training seeds
  whichever tuner proposed them (common random numbers).
- ``("tuner", task, tuner)``: the tuner's own RNG.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

SEED_BITS = 31  # SMAC, ConfigSpace and sklearn all accept seeds below 2**31.


def stable_int(value: str | int) -> int:
    """A 64-bit integer from a string or int that is the same in every process and platform."""
    digest = hashlib.blake2b(str(value).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def derive_seed(study_seed: int, *key: str | int) -> int:
    """A seed in ``[0, 2**31)`` for the stream named by ``key`` under ``study_seed``."""
    if isinstance(study_seed, bool) or not isinstance(study_seed, int) or study_seed < 0:
        raise ValueError(f"study seed must be a non-negative int, got {study_seed!r}")
    sequence = np.random.SeedSequence([study_seed, *map(stable_int, key)])
    return int(sequence.generate_state(1, dtype=np.uint32)[0] >> (32 - SEED_BITS))


def derive_rng(study_seed: int, *key: str | int) -> np.random.Generator:
    """A numpy Generator for the stream named by ``key`` under ``study_seed``."""
    return np.random.default_rng(derive_seed(study_seed, *key))


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the form every hash in tunebench is taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def content_id(value: Any, length: int = 16) -> str:
    """A short sha256 hex id of a JSON-able value, e.g. of a configuration."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:length]
