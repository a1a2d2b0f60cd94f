"""Name → factory tables for tasks, search spaces and tuners.

The engine never imports a concrete task or space by name; modules in `tasks/` and
`search_spaces/` register themselves with the decorators below, and `load_plugins()` imports
those packages once. A user adds a task by registering it from their own module and naming that
module in $TUNEBENCH_PLUGINS (comma-separated module names), without editing tunebench.
"""

from __future__ import annotations

import difflib
import importlib
import os
from collections.abc import Callable
from typing import Any, TypeVar

from harness.errors import TunebenchError

F = TypeVar("F", bound=Callable[..., Any])

TASKS: dict[str, Callable[[], Any]] = {}
SPACES: dict[str, Callable[[], Any]] = {}
TUNERS: dict[str, Callable[..., Any]] = {}

_PLUGIN_PACKAGES = ("tasks", "search_spaces", "harness.tuners")
PLUGINS_ENV = "TUNEBENCH_PLUGINS"


def _register(table: dict[str, Callable[..., Any]], kind: str, name: str) -> Callable[[F], F]:
    def decorator(factory: F) -> F:
        if name in table and table[name] is not factory:
            raise ValueError(f"{kind} {name!r} is registered twice")
        table[name] = factory
        return factory

    return decorator


def register_task(name: str) -> Callable[[F], F]:
    """Register a zero-argument factory that returns a `tasks.base.Task`."""
    return _register(TASKS, "task", name)


def register_space(name: str) -> Callable[[F], F]:
    """Register a zero-argument factory that returns a `ConfigSpace.ConfigurationSpace`."""
    return _register(SPACES, "search space", name)


def register_tuner(name: str) -> Callable[[F], F]:
    """Register a factory `(space, seed, n_trials) -> Tuner`."""
    return _register(TUNERS, "tuner", name)


def load_plugins() -> None:
    """Import the packages whose modules register tasks, spaces and tuners."""
    extra = [m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()]
    for package in (*_PLUGIN_PACKAGES, *extra):
        try:
            importlib.import_module(package)
        except ImportError as error:
            if package in extra:
                raise TunebenchError(
                    f"{PLUGINS_ENV}: cannot import {package!r} ({error})"
                ) from None
            raise


def lookup(table: dict[str, Callable[..., Any]], kind: str, name: str) -> Callable[..., Any]:
    """The factory registered under `name`, or a one-line error listing close matches."""
    load_plugins()
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
    hint = (
        f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(table))}"
    )
    raise TunebenchError(f"unknown {kind} {name!r}{hint}")
