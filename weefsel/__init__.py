"""weefsel: make the social fabric (sociaal weefsel) of Dutch neighbourhoods visible.

The package follows the data's path: ``sources`` (publishers' formats) ->
``warehouse`` (embedded DuckDB, rebuilt atomically) -> ``indicators`` ->
``analysis`` -> ``web``. What people enter lives apart in ``registry``;
``participation`` holds the burgerberaad and burgerbegroting instruments.
"""

__version__ = "0.1.0"
