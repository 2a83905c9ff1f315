"""The embedded warehouse: one DuckDB file, rebuilt atomically, safe to throw away."""

from weefsel.warehouse.store import Warehouse, open_warehouse

__all__ = ["Warehouse", "open_warehouse"]
