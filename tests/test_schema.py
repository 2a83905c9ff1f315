import duckdb

from weefsel.warehouse.store import create_schema


def test_schema_creates_every_documented_table(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_schema(con)
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"areas", "observations", "variables", "facilities", "provenance", "validation",
            "build_info", "area_members"} <= tables


def test_create_warehouse_roundtrip(tmp_path):
    import pandas as pd

    from weefsel.warehouse import Warehouse
    from weefsel.warehouse.writer import create_warehouse

    areas = pd.DataFrame({"code": ["GM0034", "WK003401"], "level": ["gemeente", "wijk"],
                          "name": ["Almere", "Stad"], "gemeente_code": ["GM0034", "GM0034"]})
    obs = pd.DataFrame({"area_code": ["GM0034", "WK003401"], "period": ["2024", "2024"],
                        "variable": ["AantalInwoners"] * 2, "value": [226_000.0, 5_000.0],
                        "source": ["85984NED"] * 2})
    path = create_warehouse(tmp_path / "w.duckdb", areas=areas, observations=obs)
    with Warehouse(path) as wh:
        wide = wh.wide("wijk", period="2024")
        assert wide.loc[0, "AantalInwoners"] == 5000.0
        assert list(wh.areas(level="gemeente")["name"]) == ["Almere"]


def test_write_transaction_rolls_back_on_error(tmp_path):
    """A stage that fails halfway leaves its previous derived tables as they were."""
    import duckdb
    import pytest

    from weefsel.warehouse.writer import create_warehouse, write_transaction

    path = create_warehouse(tmp_path / "w.duckdb")
    with write_transaction(path) as con:
        con.execute("CREATE TABLE results AS SELECT 1 AS v")
    with pytest.raises(KeyboardInterrupt):
        with write_transaction(path) as con:
            con.execute("DROP TABLE results")
            con.execute("CREATE TABLE results AS SELECT 2 AS v")
            raise KeyboardInterrupt
    assert duckdb.connect(str(path), read_only=True).execute("SELECT v FROM results").fetchall() == [(1,)]
