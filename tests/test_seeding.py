import subprocess
import sys

import pytest

from harness.seeding import content_id, derive_seed, stable_int


def test_derived_seeds_are_fixed_values_across_processes():
    code = "from harness.seeding import derive_seed as d; print(d(3, 'train', 'digits', 'abc', 1))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(hash_seed), "PATH": ""},
        ).stdout.strip()
        for hash_seed in (0, 1, 12345)
    }
    assert outputs == {str(derive_seed(3, "train", "digits", "abc", 1))}


def test_keys_and_seeds_give_distinct_streams():
    seeds = {
        derive_seed(s, "train", "digits", c, f) for s in range(3) for c in "ab" for f in range(3)
    }
    assert len(seeds) == 18
    assert all(0 <= s < 2**31 for s in seeds)


def test_key_order_matters_and_ints_differ_from_other_keys():
    assert derive_seed(0, "a", "b") != derive_seed(0, "b", "a")
    assert stable_int("x") == stable_int("x") != stable_int("y")


@pytest.mark.parametrize("bad", [None, -1, 1.5, True])
def test_implicit_or_invalid_study_seeds_are_rejected(bad):
    with pytest.raises(ValueError):
        derive_seed(bad, "x")


def test_content_id_ignores_key_order():
    assert content_id({"a": 1, "b": 2.5}) == content_id({"b": 2.5, "a": 1})
