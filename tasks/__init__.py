"""Task families; importing this package registers every task."""

from tasks import (
    image,  # noqa: F401 (registers its tasks)
    recsys,  # noqa: F401 (registers its tasks)
    speech,  # noqa: F401 (registers its tasks)
    text,  # noqa: F401 (registers its tasks)
)
