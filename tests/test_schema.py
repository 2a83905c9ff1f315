import duckdb

from weefsel.warehouse.store import create_schema


def test_schema_creates_every_documented_table(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_schema(con)
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"areas", "observations", "variables", "facilities", "provenance", "validation",
            "build_info", "area_members"} <= tables
