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

    def load_table(self, table_id: str, filter: str | None = None) -> SourceFrames:
        """Download a KWB table and map it exactly like :func:`weefsel.sources.kwb.load_kwb_csv`."""
        return load_table(table_id, filter=filter, client=self)


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    """JSON numbers/None -> the strings the offline dumps hold ('' for null)."""
    out = df.astype(object).where(df.notna(), "")
    return out.map(lambda v: v if isinstance(v, str) else (repr(v) if isinstance(v, float) else str(v)))


def load_table(table_id: str, filter: str | None = None, client: ODataClient | None = None
               ) -> SourceFrames:
    """Online KWB table -> SourceFrames via the same mapping as the offline CSV loader."""
    from weefsel.sources.kwb import clean_dataproperties, map_typed_dataset

    client = client or ODataClient()
    url = f"{client.base_url}/{table_id}"
    dp_raw = client.data_properties(table_id)
    dp = clean_dataproperties(_as_text(dp_raw), f"{url}/DataProperties")
    data = client.typed_dataset(table_id, filter=filter)
    if data.empty:
        raise InputError(f"TypedDataSet of {table_id} returned no rows"
                         + (f" for filter {filter!r}" if filter else ""), where=url)
    titles = None
    try:
        dim = client.dimension(table_id, "WijkenEnBuurten")
        if {"Key", "Title"} <= set(dim.columns):
            titles = dict(zip(dim["Key"].astype(str).str.strip(), dim["Title"].astype(str).str.strip()))
    except (InputError, ODataError):
        titles = None  # names are a nicety; the codes carry the data
    frames = map_typed_dataset(_as_text(data), dp, table_id=table_id,
                               file=f"{url}/TypedDataSet" + (f"?$filter={filter}" if filter else ""),
                               titles=titles)
    return frames
