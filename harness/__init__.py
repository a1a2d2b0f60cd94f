"""tunebench's engine: study specs, tuners, the evaluation protocol, storage, analysis and CLI."""

__version__ = "0.1.0"
