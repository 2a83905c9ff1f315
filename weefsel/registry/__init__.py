"""The one operational store of what people enter (registry and burgerbegroting); never rebuilt.

``ops`` holds the schema migrations, the engine factory and ``OpsStore``; ``store`` the
burgerbegroting's ``Registry``."""

from weefsel.registry.store import Registry

__all__ = ["Registry"]
