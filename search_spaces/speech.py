"""Search space of the speech family's CNN over log-mel spectrograms: the number of mel bands,
the network's depth and width, SpecAugment masks, and the shared optimizer and regularizer
blocks."""

from __future__ import annotations

from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Integer

from harness.registry import register_space
from search_spaces.blocks import add_optimizer_block, add_regularizer_block

AUGMENTATIONS = ("none", "specaugment")
N_MELS = (20, 32, 40, 64)


@register_space("speech-cnn")
def speech_cnn_space() -> ConfigurationSpace:
    space = ConfigurationSpace(name="speech-cnn")
    # The time budget allows a few epochs (the task's default is 4): learning rates below 1e-3
    # barely train in that time.
    add_optimizer_block(space, lr=(1e-3, 1e-1), batch_sizes=(32, 64, 128))
    add_regularizer_block(space)
    augmentation = Categorical("aug:type", AUGMENTATIONS, default="none")
    freq_mask = Integer("aug:specaugment:freq_mask", (1, 10), default=4)
    time_mask = Integer("aug:specaugment:time_mask", (1, 8), default=3)
    space.add(
        Categorical("feat:n_mels", N_MELS, default=32, ordered=True),
        Integer("arch:depth", (1, 3), default=2),
        # widths above 16 make a 3-fold trial cost well over the quick suite's ~1.5 s
        Integer("arch:width", (4, 16), log=True, default=8),
        augmentation,
        freq_mask,
        time_mask,
        EqualsCondition(freq_mask, augmentation, "specaugment"),
        EqualsCondition(time_mask, augmentation, "specaugment"),
    )
    return space
