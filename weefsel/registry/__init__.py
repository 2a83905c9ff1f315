"""Registry: what people enter (burgerbegroting processes, proposals, ballots); never rebuilt."""

from weefsel.registry.store import Registry

__all__ = ["Registry"]
