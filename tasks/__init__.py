"""Task families; importing this package registers every task."""

from tasks import image  # noqa: F401 (registers its tasks)
