"""ConfigSpace search spaces, one per task family (or model), registered by name."""

from search_spaces import (
    image,  # noqa: F401 (registers its spaces)
    recsys,  # noqa: F401 (registers its spaces)
    speech,  # noqa: F401 (registers its spaces)
    text,  # noqa: F401 (registers its spaces)
)
