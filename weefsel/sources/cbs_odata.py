"""Online access to CBS StatLine through the OData v3 API (opendata.cbs.nl/ODataApi/odata).

``load_table`` hands the pages to the same mapping code as the offline dump loader
(:func:`weefsel.sources.kwb.map_typed_dataset`), so online and offline builds cannot drift.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import httpx
import pandas as pd

from weefsel.errors import InputError, WeefselError
from weefsel.sources.base import SourceFrames

DEFAULT_BASE = "https://opendata.cbs.nl/ODataApi/odata"


class ODataError(WeefselError):
    """The CBS OData service failed after retries (network, 5xx) or answered nonsense."""


class ODataClient:
    """Small, synchronous StatLine OData client with paging and retries.

    ``client`` may be any ``httpx.Client`` (tests pass one with ``httpx.MockTransport``).
    Retries: 5xx answers, timeouts and connection errors, with exponential backoff
    (``backoff`` seconds, doubled per attempt). A 404 means the table id is unknown.
    """

    def __init__(self, base_url: str = DEFAULT_BASE, client: httpx.Client | None = None,
                 retries: int = 4, backoff: float = 0.5, timeout: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=True)
        self.retries = retries
        self.backoff = backoff

    # -- transport ---------------------------------------------------------------------
    def _get(self, url: str, params: dict | None = None, table_id: str = "") -> dict:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                resp = self.client.get(url, params=params)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last = exc
            else:
                if resp.status_code == 404:
                    raise InputError(f"CBS OData has no table {table_id!r} (HTTP 404 for {resp.url})",
                                     expected="a StatLine table id such as 85984NED")
                if resp.status_code >= 500:
                    last = ODataError(f"HTTP {resp.status_code} from {resp.url}")
                elif resp.status_code >= 400:
                    raise ODataError(f"HTTP {resp.status_code} from {resp.url}: {resp.text[:200]}")
                else:
                    try:
                        return resp.json()
                    except ValueError as exc:
                        raise ODataError(f"not JSON from {resp.url}: {resp.text[:120]!r}") from exc
            if attempt < self.retries:
                time.sleep(self.backoff * (2 ** attempt))
        raise ODataError(f"CBS OData unreachable after {self.retries + 1} attempts: {last}")

    def _pages(self, url: str, params: dict | None, table_id: str) -> list[dict]:
        rows: list[dict] = []
        seen: set[str] = set()
        while url:
            payload = self._get(url, params, table_id)
            if not isinstance(payload, dict) or "value" not in payload:
                raise ODataError(f"unexpected OData payload from {url} (no 'value')")
            rows.extend(payload["value"])
            nxt = payload.get("odata.nextLink") or payload.get("@odata.nextLink")
            if nxt and nxt in seen:
                raise ODataError(f"OData paging loops at {nxt}")
            if nxt:
                seen.add(nxt)
            url, params = nxt, None  # nextLink carries its own query
        return rows

    # -- API -----------------------------------------------------------------------------
    def data_properties(self, table_id: str) -> pd.DataFrame:
        """The table's column dictionary (Key, Title, Unit, Description, ParentID, Type...)."""
        rows = self._pages(f"{self.base_url}/{quote(table_id)}/DataProperties", {"$format": "json"},
                           table_id)
        return pd.DataFrame(rows)

    def typed_dataset(self, table_id: str, filter: str | None = None) -> pd.DataFrame:
        """All rows of the TypedDataSet, following ``odata.nextLink``; ``filter`` is an OData $filter."""
        params = {"$format": "json"}
        if filter:
            params["$filter"] = filter
        rows = self._pages(f"{self.base_url}/{quote(table_id)}/TypedDataSet", params, table_id)
        return pd.DataFrame(rows)

    def dimension(self, table_id: str, name: str) -> pd.DataFrame:
        """A dimension's code list (Key, Title, ...), e.g. WijkenEnBuurten."""
        return pd.DataFrame(self._pages(f"{self.base_url}/{quote(table_id)}/{quote(name)}",
                                        {"$format": "json"}, table_id))

    def load_table(self, table_id: str, filter: str | None = None,
                   known_areas: pd.DataFrame | None = None) -> SourceFrames:
        """Download a table and map it exactly like the offline loader (see :func:`load_table`)."""
        return load_table(table_id, filter=filter, client=self, known_areas=known_areas)


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    """JSON numbers/None -> the strings the offline dumps hold ('' for null)."""
    return df.astype("string").fillna("")


#: Non-KWB tables the file loaders understand, and the dimension whose titles they need.
_OTHER_TABLES = {"50090NED": None, "50150NED": None, "85900NED": None, "85146NED": "RegioS"}


def load_table(table_id: str, filter: str | None = None, client: ODataClient | None = None,
               known_areas: pd.DataFrame | None = None) -> SourceFrames:
    """Online table -> SourceFrames through the same mapping code as the offline loaders.

    KWB tables go through :func:`weefsel.sources.kwb.map_typed_dataset` (DataProperties stems);
    50090NED, 85900NED and 85146NED are written to a temporary CSV and read by their file
    loaders, so online and offline cannot drift. ``known_areas`` is passed to the
    Veiligheidsmonitor loader to resolve gemeente names.
    """
    from weefsel.sources.cbs_common import KWB_TABLES
    from weefsel.sources.kwb import clean_dataproperties, map_typed_dataset

    client = client or ODataClient()
    tid = table_id.upper()
    url = f"{client.base_url}/{table_id}"
    if tid not in KWB_TABLES and tid not in _OTHER_TABLES:
        raise InputError(f"no loader for table {table_id!r}",
                         expected=f"a KWB table ({', '.join(KWB_TABLES)}) or one of {', '.join(_OTHER_TABLES)}")
    data = client.typed_dataset(table_id, filter=filter)
    if data.empty:
        raise InputError(f"TypedDataSet of {table_id} returned no rows"
                         + (f" for filter {filter!r}" if filter else ""), where=url)
    where = f"{url}/TypedDataSet" + (f"?$filter={filter}" if filter else "")
    if tid in _OTHER_TABLES:
        return _load_other(client, tid, _as_text(data), where, known_areas)
    dp_raw = client.data_properties(table_id)
    dp = clean_dataproperties(_as_text(dp_raw), f"{url}/DataProperties")
    titles = _titles(client, table_id, "WijkenEnBuurten")
    return map_typed_dataset(_as_text(data), dp, table_id=table_id, file=where, titles=titles)


def _titles(client: ODataClient, table_id: str, dim: str) -> dict[str, str] | None:
    try:
        d = client.dimension(table_id, dim)
    except (InputError, ODataError):
        return None  # names are a nicety; the codes carry the data
    if not {"Key", "Title"} <= set(d.columns):
        return None
    return dict(zip(d["Key"].astype(str).str.strip(), d["Title"].astype(str).str.strip()))


def _load_other(client: ODataClient, tid: str, data: pd.DataFrame, where: str,
                known_areas: pd.DataFrame | None) -> SourceFrames:
    import tempfile
    from pathlib import Path

    from weefsel.sources.health import load_health_csv
    from weefsel.sources.ses import load_ses_csv
    from weefsel.sources.veiligheidsmonitor import load_vm_csv

    dim = _OTHER_TABLES[tid]
    if dim:  # 85146NED names its regions: the file loader resolves titles like 'Almere (GM)'
        titles = _titles(client, tid, dim)
        if not titles:
            raise InputError(f"cannot read the {dim} titles of {tid}", where=where,
                             expected=f"the {dim} dimension with Key and Title")
        data[dim] = data[dim].str.strip().map(titles).fillna(data[dim])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{tid}.csv"
        data.to_csv(path, index=False)
        if tid in ("50090NED", "50150NED"):   # 50150NED: the publisher's re-expression
            frames = load_health_csv(path, table_id=tid)
        elif tid == "85900NED":
            frames = load_ses_csv(path)
        else:
            frames = load_vm_csv(path, known_areas=known_areas)
    for r in frames.rejections:
        r.source = where
    for p in frames.provenance:
        p["file"], p["sha256"] = where, None
    return frames
