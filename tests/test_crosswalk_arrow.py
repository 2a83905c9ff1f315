"""The Arrow path of the re-expression (one typed table per vintage, used by the national
build for speed) gives the same values as DuckDB's own casts of the raw frame did."""

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from weefsel.warehouse.crosswalk import prepare_observations, reexpress

CW = pd.DataFrame({"from_code": ["WK000101", "WK000102", "WK000102"],
                   "to_code": ["WK000103", "WK000103", "WK000104"],
                   "method": ["areal", "dasymetric", "dasymetric"],
                   "weight": [1.0, 0.5, 0.5], "target_share": [2 / 3, 1 / 3, 1.0]})


def _raw_casts(obs: pd.DataFrame) -> pd.DataFrame:
    """What the former query made of each column (CAST / TRY_CAST on the pandas scan)."""
    return duckdb.query_df(obs, "o", """
        SELECT CAST(area_code AS VARCHAR) a, CAST(period AS VARCHAR) p,
               coalesce(CAST(breakdown AS VARCHAR), '') b, TRY_CAST(value AS DOUBLE) v,
               TRY_CAST(lower AS DOUBLE) l, CAST(source AS VARCHAR) s FROM o ORDER BY a, p""").df()


@pytest.mark.parametrize("values,periods,breakdowns", [
    ([40.0, 60.0, None], ["2020", "2020", "2020"], ["", None, ""]),
    ([" 40", "60", "6,0"], [2020, 2020, 2020], ["", "", ""]),         # text values, int periods
    ([40, 60, 7], ["2020", 2020, "2020"], ["m", "v", None]),          # mixed object column
])
def test_arrow_table_equals_frame(values, periods, breakdowns):
    obs = pd.DataFrame({"area_code": ["WK000101", "WK000102", "WK000999"], "period": periods,
                        "variable": "Eenzaam", "breakdown": breakdowns, "value": values,
                        "lower": values, "upper": None, "source": "50090NED"})
    table = prepare_observations(obs)
    assert isinstance(table, pa.Table) and table.num_rows == 3
    a = _raw_casts(obs)
    b = _raw_casts(table.to_pandas())
    pd.testing.assert_frame_equal(a, b)
    via_frame = reexpress(obs, CW, {}).sort_values(["area_code", "breakdown"], ignore_index=True)
    via_table = reexpress(table, CW, {}).sort_values(["area_code", "breakdown"],
                                                     ignore_index=True)
    pd.testing.assert_frame_equal(via_frame, via_table)
    assert len(via_table) > 0


def test_values_outside_the_crosswalk_are_ignored():
    obs = pd.DataFrame({"area_code": ["BU99990001"], "period": "2020", "variable": "x",
                        "value": [1.0]})
    assert reexpress(prepare_observations(obs), CW, {}).empty
