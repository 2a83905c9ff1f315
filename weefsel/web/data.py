"""What the dashboard and the API read from a warehouse, feature-detected per table.

The warehouse is opened read-only and treated as immutable while the server runs, so
area lists, geometry conversions and whole responses are cached in memory. Every
measure the web shows is a *layer*: an id, a title, a unit, a direction and a query
that yields ``(area_code, period, value, suppressed)``. Layers come from whatever tables
exist: the indicator catalogue (``indicator_values``), the composite index
(``index_results``), stacked-vulnerability flags (``svi_results``), accessibility
(``access_results``) and, always, the raw variables in ``observations``.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import duckdb
import numpy as np
import pandas as pd

from weefsel.errors import WeefselError

LEVEL_ORDER = ["land", "provincie", "gemeente", "wijk", "buurt"]
LEVEL_LABELS = {"land": "Nederland", "provincie": "Provincies", "gemeente": "Gemeenten",
                "wijk": "Wijken", "buurt": "Buurten"}
KEY_COLUMNS = {"area_code", "period", "code", "level", "breakdown"}


class NotFound(LookupError):
    """An unknown code, indicator, level or period; the message is Dutch and user-facing."""


@dataclass
class Layer:
    """One measure that can be mapped, tabled and profiled."""

    id: str
    title: str
    unit: str = ""               # Dutch: what the dashboard, profile and CSV views show
    direction: str = ""          # 'hoger is beter' / 'hoger is slechter' / ''
    source: str = ""
    theme: str = ""
    kind: str = "variabele"      # indicator | index | flag | toegankelijkheid | variabele
    title_en: str = ""
    unit_en: str = ""            # the catalogue's English unit (API clients, docs)
    table: str = field(default="", repr=False)
    column: str = field(default="value", repr=False)
    where: str = field(default="", repr=False)
    params: tuple = field(default=(), repr=False)
    suppressed_col: str | None = field(default=None, repr=False)
    lower_col: str | None = field(default=None, repr=False)
    upper_col: str | None = field(default=None, repr=False)
    technical: str = ""          # the technical wording a plain label replaced (tooltip)

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("table", "column", "where", "params", "suppressed_col", "lower_col", "upper_col"):
            d.pop(k)
        return d


def _direction_nl(raw: Any) -> str:
    text = str(raw or "").strip().lower()
    if text in {"higher_is_better", "positive", "+", "up", "hoger is beter", "higher is better", "1"}:
        return "hoger is beter"
    if text in {"higher_is_worse", "negative", "-", "down", "hoger is slechter",
                "higher is worse", "lower_is_better", "-1"}:
        return "hoger is slechter"
    if text in {"context", "none", "neutral"}:
        return "context"
    return text


def load_catalogue() -> list[dict]:
    """The indicator catalogue (weefsel/indicators/catalogue.yaml) or [] when absent."""
    path = Path(__file__).resolve().parents[1] / "indicators" / "catalogue.yaml"
    if not path.exists():
        return []
    try:
        import yaml
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception:  # a broken catalogue must not take the dashboard down
        return []
    if isinstance(raw, dict):
        raw = raw.get("indicators", raw)
        if isinstance(raw, dict):
            raw = [dict(v, id=k) if isinstance(v, dict) else {"id": k} for k, v in raw.items()]
    return [r for r in (raw or []) if isinstance(r, dict) and r.get("id")]


def _units(entry: dict) -> tuple[str, str]:
    """(Dutch unit, English unit) of a catalogue entry. The dashboard is Dutch, so it shows
    ``unit_nl``; an entry without it (an older warehouse's indicator_catalogue, a hand-made
    catalogue) falls back to ``unit``, which is then not known to be English."""
    unit_nl = str(entry.get("unit_nl") or "").strip()
    unit = str(entry.get("unit") or "").strip()
    if unit_nl:
        return unit_nl, str(entry.get("unit_en") or unit)
    return unit, str(entry.get("unit_en") or "")


def _access_texts() -> tuple[dict[str, dict], dict[str, str], dict[str, str]]:
    """Dutch wording for access_results layers: measure -> its entry of
    weefsel/analysis/access_indicators.yaml (title_nl template, unit_nl, direction), and
    facility type -> label_nl and -> label_nl_plural of weefsel/sources/typology.yaml (counts
    need the plural: "Aantal buurthuizen", not "Aantal buurthuis"). Empty when unreadable."""
    import yaml
    root = Path(__file__).resolve().parents[1]
    try:
        spec = yaml.safe_load((root / "analysis" / "access_indicators.yaml").read_text(encoding="utf-8"))
        types = yaml.safe_load((root / "sources" / "typology.yaml").read_text(encoding="utf-8"))
    except Exception:  # wording only: never take the dashboard down
        return {}, {}, {}
    measures = {str(e["measure"]): e for e in (spec or {}).get("indicators", [])
                if isinstance(e, dict) and e.get("measure")}
    entries = {str(k): v for k, v in ((types or {}).get("types") or {}).items() if isinstance(v, dict)}
    labels = {k: str(v["label_nl"]) for k, v in entries.items() if v.get("label_nl")}
    plurals = {k: str(v["label_nl_plural"]) for k, v in entries.items() if v.get("label_nl_plural")}
    labels.setdefault("meeting_places", "ontmoetingsplekken")
    plurals.setdefault("meeting_places", "ontmoetingsplekken")
    return measures, labels, plurals


def _key_words(key: str) -> str:
    """A CBS key part in plain words: 'HavoVwo' -> 'havo vwo', 'GeborenInNederland' ->
    'geboren in Nederland'."""
    import re
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", key)
    out = []
    for w in words:
        out.append(w if w in ("Nederland", "Europa") or (w.isupper() and len(w) > 1) else w.lower())
    return " ".join(out)


def _distinguish(layers: dict[str, "Layer"], meta: Any) -> None:
    """Variables that share a title get a plain-Dutch qualifier (the publisher's group, or
    the words of the key's suffix, or 'onderdeel n van m' where the publisher named
    nothing) instead of the raw CBS key; titles that still clash get the key words."""
    groups: dict[str, list[Layer]] = {}
    for lay in layers.values():
        groups.setdefault(lay.title, []).append(lay)
    for title, lays in groups.items():
        if len(lays) < 2:
            continue
        for i, lay in enumerate(lays):
            var = str(lay.params[0])
            stem, _, suffix = var.partition("_")
            qual = ""
            m = meta.loc[var] if len(meta) and var in meta.index else None
            grp = str(m["group"]) if m is not None and "group" in m and pd.notna(m.get("group")) \
                else ""
            if suffix and not (suffix.startswith("o") and suffix[1:].isdigit()):
                qual = _key_words(suffix)
            elif not suffix and any("_" in str(o.params[0]) for o in lays if o is not lay):
                qual = "totaal"
            elif grp:
                qual = grp.split("/")[-1].strip().lower()
            else:
                qual = f"onderdeel {i + 1} van {len(lays)}"
            lay.title = f"{title} ({qual})" if "(" not in title else f"{title}, {qual}"
    seen: dict[str, int] = {}
    for lay in layers.values():
        seen[lay.title.lower()] = seen.get(lay.title.lower(), 0) + 1
    for lay in layers.values():
        if seen[lay.title.lower()] > 1:
            lay.title = f"{lay.title} ({_key_words(str(lay.params[0]))})"


def _sources_text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, (list, tuple)):
        return ", ".join(_sources_text(r) for r in raw)
    if isinstance(raw, dict):
        return str(raw.get("table") or raw.get("source") or raw.get("name") or
                   ", ".join(f"{k}" for k in raw))
    return str(raw)


def _registry_dated(sources: str, build: dict[str, str]) -> str:
    """'registry' as a source carries the date of the snapshot it was counted from."""
    day = build.get("registry_snapshot")
    parts = [p.strip() for p in sources.split(",")]
    if "registry" not in parts:
        return sources
    label = f"register (momentopname {day})" if day else "register"
    return ", ".join(label if p == "registry" else p for p in parts)


class WebData:
    """Read-only, cached access to one warehouse for the web layer."""

    def __init__(self, path: str | Path, catalogue: list[dict] | None = None):
        self.path = Path(path)
        self._catalogue = catalogue
        if not self.path.exists():
            raise WeefselError(
                f"Geen warehouse op {self.path}. Draai eerst 'weefsel build --region <naam>'.")
        from weefsel.warehouse.safety import connect
        self._con = connect(self.path, read_only=True)  # a non-warehouse file: one line
        self._lock = threading.Lock()
        self._local = threading.local()
        self.tables = {r[0] for r in self._con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        self.columns = {t: [r[0] for r in self._con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position", [t]).fetchall()] for t in self.tables}
        self.areas = self.sql("SELECT * EXCLUDE (geom_rd), geom_rd IS NOT NULL AS has_geom "
                              "FROM areas ORDER BY code")
        self.areas["name"] = self.areas["name"].fillna(self.areas["code"])
        self._area_index = self.areas.set_index("code", drop=False)
        self.levels = [lv for lv in LEVEL_ORDER if (self.areas["level"] == lv).any()]
        self.land_code = next(iter(self.areas.loc[self.areas["level"] == "land", "code"]), None)
        self.build = self._build_info()
        self.layers = self._discover_layers()
        from weefsel.web.classing import plain_labels
        plain_labels(self.layers)
        self._geom_cache: dict[tuple[str, int], LevelGeometry] = {}
        self._geom_locks: dict[tuple[str, int], threading.Lock] = {}
        self.response_cache: dict[Any, bytes] = {}
        self._periods: dict[tuple, list[str]] = {}
        self._pre_state = "unknown"
        self._pre: dict[str, list[tuple]] | None = None
        self._public = {lid: lay.public() for lid, lay in self.layers.items()}
        self._area_dicts = {r["code"]: r for r in clean_records(self.areas)}
        self._cache_lock = threading.Lock()
        #: threads working on this warehouse in the background, and their stop signal
        self.background: list[threading.Thread] = []
        self.stopping = threading.Event()

    def close(self) -> None:
        """Stop background work (warming) first: DuckDB refuses to close a connection
        whose cursor another thread is using."""
        self.stopping.set()
        for t in self.background:
            t.join(timeout=60)
        self._con.close()

    # -- low level -------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A per-thread cursor: DuckDB connections must not be shared across threads."""
        cur = getattr(self._local, "cur", None)
        if cur is None:
            with self._lock:
                cur = self._con.cursor()
            self._local.cur = cur
        return cur

    def sql(self, query: str, params: list | tuple | None = None) -> pd.DataFrame:
        return self.cursor().execute(query, list(params or [])).df()

    def _build_info(self) -> dict[str, str]:
        if "build_info" not in self.tables:
            return {}
        return dict(self._con.execute("SELECT key, value FROM build_info").fetchall())

    # -- layers ----------------------------------------------------------------------------
    def _discover_layers(self) -> dict[str, Layer]:
        layers: dict[str, Layer] = {}
        if "indicator_values" in self.tables:
            present = set(self.sql("SELECT DISTINCT indicator FROM indicator_values")["indicator"])
            cat = {str(c["id"]): c for c in (self._catalogue or load_catalogue())}
            if "indicator_catalogue" in self.tables and not self._catalogue:
                for c in clean_records(self.sql("SELECT * FROM indicator_catalogue")):
                    cid = str(c.get("indicator") or c.get("id"))
                    cat[cid] = {**cat.get(cid, {}), **{k: v for k, v in c.items() if v}}
            for ind in sorted(present, key=lambda i: (list(cat).index(i) if i in cat else 1e9, i)):
                c = cat.get(ind, {})
                cols = self.columns["indicator_values"]
                unit, unit_en = _units(c)
                layers[ind] = Layer(
                    id=ind, title=str(c.get("title_nl") or c.get("title") or ind),
                    title_en=str(c.get("title_en") or ""), unit=unit, unit_en=unit_en,
                    direction=_direction_nl("context" if str(c.get("display") or "") == "context"
                                            else c.get("direction")),
                    source=_registry_dated(_sources_text(c.get("sources")), self.build),
                    theme=str(c.get("theme") or ""),
                    kind="indicator", table="indicator_values", column="value",
                    where="indicator = ?", params=(ind,),
                    suppressed_col="suppressed" if "suppressed" in cols else None)
        if "index_results" in self.tables:
            cols = self.columns["index_results"]
            ref_where, ref_params = self._reference_filter("index_results")
            if "composite" in cols:
                layers["index:composite"] = Layer(
                    id="index:composite", title="Samengestelde index sociaal weefsel",
                    unit="score", direction="hoger is beter", source="weefsel index",
                    theme="index", kind="index", table="index_results", column="composite",
                    where=ref_where, params=ref_params)
            if "rank" in cols:
                layers["index:rank"] = Layer(
                    id="index:rank", title="Rang op de samengestelde index",
                    unit="rang (1 = hoogste score)", direction="hoger is slechter",
                    source="weefsel index", theme="index", kind="index",
                    table="index_results", column="rank", where=ref_where, params=ref_params,
                    lower_col="rank_p05" if "rank_p05" in cols else None,
                    upper_col="rank_p95" if "rank_p95" in cols else None)
        if "svi_results" in self.tables and "component_type" in self.columns["svi_results"]:
            layers.update(self._svi_long_layers())
        elif "svi_results" in self.tables:
            layers.update(self._generic_layers("svi_results", "flag", "Kwetsbaarheid"))
        if "access_results" in self.tables:
            layers.update(self._generic_layers("access_results", "toegankelijkheid",
                                               "Bereikbaarheid"))
        if "crisis_buurt" in self.tables:      # weefsel crisis prepare (docs/crisis.md)
            from weefsel.crisis.prepare import map_layers
            layers.update(map_layers(Layer))
        layers.update(self._variable_layers())
        return layers

    def _reference_filter(self, table: str) -> tuple[str, tuple]:
        """Derived tables may hold several reference populations; the web shows 'nl' (else
        the first one), so every area has one value per period."""
        memo = self.__dict__.setdefault("_ref_memo", {})
        if table not in memo:
            memo[table] = self._reference_filter_uncached(table)
        return memo[table]

    def _reference_filter_uncached(self, table: str) -> tuple[str, tuple]:
        if "reference" not in self.columns.get(table, []):
            return "", ()
        refs = [r for (r,) in self.cursor().execute(
            f"SELECT DISTINCT reference FROM {table} ORDER BY 1").fetchall()]
        if not refs:
            return "", ()
        ref = "nl" if "nl" in refs else refs[0]
        return "reference = ?", (ref,)

    def _svi_long_layers(self) -> dict[str, Layer]:
        """svi_results in long form (component_type indicator|theme|overall, flag 0/1)."""
        ref_where, ref_params = self._reference_filter("svi_results")
        join = (" AND " + ref_where) if ref_where else ""
        out: dict[str, Layer] = {}
        cols = self.columns["svi_results"]
        if "themes_flagged" in cols:
            out["svi:themes_flagged"] = Layer(
                id="svi:themes_flagged", title="Gestapelde kwetsbaarheid: aantal gemarkeerde thema's",
                unit="aantal thema's", direction="hoger is slechter", source="weefsel index (SVI)",
                theme="kwetsbaarheid", kind="flag", table="svi_results", column="themes_flagged",
                where="component_type = ?" + join, params=("overall",) + ref_params)
        themes = [r for (r,) in self.cursor().execute(
            "SELECT DISTINCT component FROM svi_results WHERE component_type = 'theme' "
            "ORDER BY 1").fetchall()]
        out["svi:overall"] = Layer(
            id="svi:overall", title="Gestapelde kwetsbaarheid: totaal gemarkeerd",
            unit="vlag (1 = ja)", direction="hoger is slechter", source="weefsel index (SVI)",
            theme="kwetsbaarheid", kind="flag", table="svi_results", column="flag",
            where="component_type = ? AND component = ?" + join,
            params=("overall", "overall") + ref_params)
        for t in themes:
            out[f"svi:thema:{t}"] = Layer(
                id=f"svi:thema:{t}", title=f"Kwetsbaar thema: {str(t).replace('_', ' ')}",
                unit="vlag (1 = ja)", direction="hoger is slechter",
                source="weefsel index (SVI)", theme="kwetsbaarheid", kind="flag",
                table="svi_results", column="flag",
                where="component_type = ? AND component = ?" + join,
                params=("theme", t) + ref_params)
        return out

    def _generic_layers(self, table: str, kind: str, label: str) -> dict[str, Layer]:
        """Wide tables (one numeric/boolean column per measure) or long ones (indicator/value)."""
        out: dict[str, Layer] = {}
        cols = self.columns[table]
        types = dict(self.cursor().execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
            [table]).fetchall())
        prefix = "svi" if kind == "flag" else "access"
        name_col = next((c for c in ("indicator", "flag", "measure", "variable", "facility_type",
                                     "type") if c in cols), None)
        if "area_code" not in cols:
            return out
        if {"measure", "facility_type", "value"} <= set(cols):  # access_results (H5)
            measures, labels, plurals = _access_texts()
            for m, ft in self.cursor().execute(
                    f"SELECT DISTINCT measure, facility_type FROM {table} ORDER BY 1, 2").fetchall():
                lid = f"{prefix}:{m}:{ft}"
                spec = measures.get(str(m), {})
                ft_nl = labels.get(str(ft), str(ft).replace("_", " "))
                # a type outside the typology has no known plural: its key, as the singular
                title = (str(spec["title_nl"]).replace("{types}", plurals.get(str(ft), ft_nl))
                         .replace("{type}", ft_nl) if spec.get("title_nl")
                         else f"{str(m).replace('_', ' ')} ({ft_nl})")
                unit_en = str(spec.get("unit") or "")
                out[lid] = Layer(id=lid, title=f"{label}: {title}", kind=kind, table=table,
                                 column="value", where="measure = ? AND facility_type = ?",
                                 params=(m, ft), source="weefsel access", theme=kind,
                                 unit=str(spec.get("unit_nl") or "").strip(), unit_en=unit_en,
                                 direction=_direction_nl(spec.get("direction")))
            return out
        if name_col and "value" in cols:
            for (name,) in self._con.execute(
                    f"SELECT DISTINCT {name_col} FROM {table} ORDER BY 1").fetchall():
                lid = f"{prefix}:{name}"
                out[lid] = Layer(id=lid, title=f"{label}: {name}", kind=kind, table=table,
                                 column="value", where=f"{name_col} = ?", params=(name,),
                                 unit="vlag (1 = ja)" if kind == "flag" else "",
                                 source="weefsel", theme=kind,
                                 suppressed_col="suppressed" if "suppressed" in cols else None)
            return out
        for col in cols:
            t = str(types.get(col, "")).upper()
            if col in KEY_COLUMNS or col == name_col or col == "suppressed":
                continue
            if not any(k in t for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "BOOL", "REAL")):
                continue
            lid = f"{prefix}:{col}"
            is_flag = "BOOL" in t or kind == "flag"
            out[lid] = Layer(id=lid, title=f"{label}: {col.replace('_', ' ')}", kind=kind,
                             table=table, column=f"CAST({col} AS DOUBLE)",
                             unit="vlag (1 = ja)" if is_flag else "", source="weefsel",
                             theme=kind)
        return out

    def _variable_layers(self) -> dict[str, Layer]:
        if "observations" not in self.tables:
            return {}
        meta = (self.sql("SELECT * FROM variables") if "variables" in self.tables
                else pd.DataFrame(columns=["variable"]))
        meta = meta.set_index("variable") if len(meta) else meta
        combos = self.sql("SELECT variable, breakdown, min(source) AS source, count(*) AS n "
                          "FROM observations GROUP BY 1, 2 ORDER BY 1, 2")
        out: dict[str, Layer] = {}
        for row in combos.itertuples(index=False):
            bd = row.breakdown or ""
            lid = f"var:{row.variable}" + (f"@{bd}" if bd else "")
            m = meta.loc[row.variable] if len(meta) and row.variable in meta.index else None
            title = str(m["title"]) if m is not None and pd.notna(m.get("title")) else row.variable
            if bd:
                title += f" ({bd.replace('leeftijd=', '')})"
            unit = str(m["unit"]) if m is not None and pd.notna(m.get("unit")) else ""
            topic = str(m["topic"]) if m is not None and pd.notna(m.get("topic")) else ""
            out[lid] = Layer(id=lid, title=title, unit=unit, source=str(row.source or ""),
                             theme=topic, kind="variabele", table="observations",
                             column="value", where="variable = ? AND breakdown = ?",
                             params=(row.variable, bd), lower_col="lower", upper_col="upper")
        # publishers reuse titles across sub-questions: tell them apart in words
        _distinguish(out, meta)
        return out

    def layer(self, layer_id: str) -> Layer:
        try:
            return self.layers[layer_id]
        except KeyError:
            raise NotFound(f"Onbekende indicator: {layer_id}") from None

    def default_layer_ids(self, n: int = 12) -> list[str]:
        """The measures shown when the user chose none: indicators first, else variables."""
        preferred = [lid for lid, lay in self.layers.items() if lay.kind in ("index", "indicator")]
        if preferred:
            return preferred[:n]
        return list(self.layers)[:n]

    def _layer_query(self, layer: Layer, *, level: str | None = None,
                     codes: Iterable[str] | None = None, period: str | None = None,
                     with_layer: bool = False) -> tuple[str, list]:
        sup = f"coalesce(CAST(t.{layer.suppressed_col} AS BOOLEAN), false)" \
            if layer.suppressed_col else "false"
        col = layer.column if "(" in layer.column else f"t.{layer.column}"
        lower = f"CAST(t.{layer.lower_col} AS DOUBLE)" if layer.lower_col else "NULL::DOUBLE"
        upper = f"CAST(t.{layer.upper_col} AS DOUBLE)" if layer.upper_col else "NULL::DOUBLE"
        period_sel = "CAST(t.period AS VARCHAR)" if "period" in self.columns[layer.table] \
            else "''"
        params: list = []
        head = ""
        if with_layer:
            head = "?::VARCHAR AS layer, "
            params.append(layer.id)
        q = (f"SELECT {head}t.area_code, {period_sel} AS period, CAST({col} AS DOUBLE) AS value, "
             f"{sup} AS suppressed, {lower} AS lower, {upper} AS upper "
             f"FROM {layer.table} t WHERE 1=1")
        params += list(layer.params)
        if layer.where:
            q += " AND " + " AND ".join(f"t.{part.strip()}" for part in layer.where.split(" AND "))
        if level:
            q += " AND t.area_code IN (SELECT code FROM areas WHERE level = ?)"
            params.append(level)
        if codes is not None:
            q += " AND t.area_code IN (SELECT unnest(?))"
            params.append(list(codes))
        if period:
            q += f" AND {period_sel} = ?"
            params.append(str(period))
        return q, params

    def values(self, layer: Layer, *, level: str | None = None,
               codes: Iterable[str] | None = None, period: str | None = None) -> pd.DataFrame:
        """``area_code, period, value, suppressed`` (+ lower, upper) for one layer."""
        q, params = self._layer_query(layer, level=level, codes=codes, period=period)
        df = self.sql(q, params)
        # NaN values are missing, not numbers; suppressed wins over missing.
        df["value"] = df["value"].where(np.isfinite(df["value"].astype(float)), None)
        return df

    #: above this many value rows the profile queries DuckDB per request instead of memory
    PRELOAD_MAX_ROWS = 1_500_000

    def rows_many(self, codes: list[str], layer_ids: Iterable[str] | None = None
                  ) -> list[tuple]:
        """``(layer, area_code, period, value, suppressed, lower, upper)`` of many layers for a
        few areas, without pandas (the profile endpoint is latency-bound). Small warehouses
        are held in memory per area after the first call; large ones are queried."""
        wanted = set(layer_ids) if layer_ids is not None else None
        pre = self._preloaded()
        if pre is not None:
            rows = [r for c in codes for r in pre.get(c, ())]
        else:
            rows = self._query_rows(codes, wanted)
        if wanted is not None:
            rows = [r for r in rows if r[0] in wanted]
        return rows

    def _preloaded(self) -> dict[str, list[tuple]] | None:
        if self._pre_state == "no":
            return None
        if self._pre_state == "yes":
            return self._pre
        with self._lock:
            if self._pre_state == "unknown":
                n = 0
                for t in {lay.table for lay in self.layers.values()}:
                    n += self._con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                if n > self.PRELOAD_MAX_ROWS:
                    self._pre_state = "no"
                    return None
                pre: dict[str, list[tuple]] = {}
                for r in self._query_rows(None, None, con=self._con.cursor()):
                    pre.setdefault(r[1], []).append(r)
                self._pre = pre
                self._pre_state = "yes"
        return self._pre if self._pre_state == "yes" else None

    def _query_rows(self, codes: list[str] | None, wanted: set[str] | None,
                    con: duckdb.DuckDBPyConnection | None = None) -> list[tuple]:
        by_table: dict[str, list[Layer]] = {}
        for lay in self.layers.values():
            if wanted is None or lay.id in wanted:
                by_table.setdefault(lay.table, []).append(lay)
        parts: list[str] = []
        params: list = []
        area_filter = " AND area_code IN (SELECT unnest(?))" if codes is not None else ""
        for table, lays in by_table.items():
            if table == "indicator_values":
                sup = "coalesce(CAST(suppressed AS BOOLEAN), false)" \
                    if "suppressed" in self.columns[table] else "false"
                parts.append(
                    f"SELECT indicator AS layer, area_code, CAST(period AS VARCHAR) AS period, "
                    f"CAST(value AS DOUBLE) AS value, {sup} AS suppressed, "
                    f"NULL::DOUBLE AS lower, NULL::DOUBLE AS upper FROM indicator_values "
                    f"WHERE indicator IN (SELECT unnest(?)){area_filter}")
                params.append([lay.params[0] for lay in lays])
                if codes is not None:
                    params.append(list(codes))
            elif table == "observations":
                parts.append(
                    "SELECT 'var:' || variable || CASE WHEN breakdown = '' THEN '' "
                    "ELSE '@' || breakdown END AS layer, area_code, period, value, "
                    f"false AS suppressed, lower, upper FROM observations WHERE 1=1{area_filter}")
                if codes is not None:
                    params.append(list(codes))
            else:
                for lay in lays:
                    q, p = self._layer_query(lay, codes=codes, with_layer=True)
                    parts.append(q)
                    params += p
        if not parts:
            return []
        cur = con or self.cursor()
        rows = cur.execute(" UNION ALL ".join(f"({q})" for q in parts), params).fetchall()
        out = []
        for r in rows:
            v = r[3]
            if v is not None and not math.isfinite(v):
                v = None
            out.append((r[0], r[1], str(r[2]), v, bool(r[4]), r[5], r[6]))
        return out

    def values_many(self, codes: list[str], layer_ids: Iterable[str] | None = None
                    ) -> pd.DataFrame:
        """rows_many as a DataFrame (compare view)."""
        cols = ["layer", "area_code", "period", "value", "suppressed", "lower", "upper"]
        out = pd.DataFrame(self.rows_many(codes, layer_ids), columns=cols)
        out["value"] = out["value"].astype(float)
        return out

    def periods(self, layer: Layer, level: str | None = None) -> list[str]:
        key = (layer.id, level)
        hit = self._periods.get(key)
        if hit is None:
            q, params = self._layer_query(layer, level=level)
            hit = sorted({str(r[0]) for r in self.cursor().execute(
                f"SELECT DISTINCT period FROM ({q}) WHERE period IS NOT NULL", params).fetchall()})
            self._periods[key] = hit
        return hit

    def data_periods(self, layer: Layer, level: str | None, period: str | None) -> list[str]:
        """Distinct ``data_period`` behind a layer's values: the publisher's year can be older
        than the reference period (health 2020 in a 2024 run). Empty without that column."""
        if "data_period" not in self.columns.get(layer.table, []):
            return []
        q, params = self._layer_query(layer, level=level, period=period)
        q = ("SELECT DISTINCT CAST(t.data_period AS VARCHAR) "
             + q[q.index(f"FROM {layer.table} t"):] + " AND t.data_period IS NOT NULL")
        return sorted(str(p) for (p,) in self.cursor().execute(q, params).fetchall())

    def resolve_period(self, layer: Layer, level: str | None, period: str | None) -> str | None:
        periods = self.periods(layer, level)
        if period is None or period == "":
            return periods[-1] if periods else None
        if str(period) not in periods:
            raise NotFound(f"Onbekende periode voor {layer.id}: {period}")
        return str(period)

    # -- ranks: one answer for map, table, compare and profile ------------------------------
    def ranks(self, layer: Layer, level: str, period: str | None) -> dict[str, Any] | None:
        """Every area's rank on one layer at one level and period, with the rank's scope.

        ``{"by_code": {code: (rank, of, percentile, place)}, "order", "scope", "scope_code",
        "place"}``; None for flags (they are not ranked) or a layer without values. Indicators
        and variables: weefsel.indicators.reference.rank_values over the areas of the level in
        this warehouse (1 = most favourable). The composite: the index's own central rank
        (``index_results.rank``, 1 = highest score) within its reference group."""
        key = ("ranks", layer.id, level, period)
        memo = self.__dict__.setdefault("_rank_memo", {})
        if key in memo:
            return memo[key]
        memo[key] = out = self._ranks_uncached(layer, level, period)
        return out

    def _ranks_uncached(self, layer: Layer, level: str, period: str | None
                        ) -> dict[str, Any] | None:
        from weefsel.indicators.reference import rank_order, rank_values, scope_name
        if layer.kind == "flag" or period is None:
            return None
        memo = self.__dict__.setdefault("_scope_memo", {})
        if level not in memo:
            memo[level] = scope_name(self.areas, level)
        scope, scope_code, place = memo[level]
        by_code: dict[str, tuple] = {}
        if layer.kind == "index" and "rank" in self.columns.get("index_results", []):
            ref_where, ref_params = self._reference_filter("index_results")
            grp = "reference_group" if "reference_group" in self.columns["index_results"] \
                else "NULL"
            q = (f"SELECT area_code, rank, {grp} FROM index_results WHERE rank IS NOT NULL "
                 "AND CAST(period AS VARCHAR) = ? AND area_code IN "
                 "(SELECT code FROM areas WHERE level = ?)"
                 + (f" AND {ref_where}" if ref_where else ""))
            rows = self.cursor().execute(q, [str(period), level, *ref_params]).fetchall()
            counts: dict[Any, int] = {}
            for _, _, g in rows:
                counts[g] = counts.get(g, 0) + 1
            names = self.areas.set_index("code")["name"]
            for code, rank, g in rows:
                n = counts[g]
                g_place = f"in {names[g]}" if isinstance(g, str) and g in names.index \
                    and str(g).startswith("PV") else place
                by_code[code] = (float(rank), n, (n - rank) / (n - 1) if n > 1 else None,
                                 g_place)
            order = "highest_score"
        else:
            if layer.table == "indicator_values":
                val = self._level_indicator_values(level).get((layer.params[0], str(period)))
                if val is None:
                    return None
            else:
                v = self.values(layer, level=level, period=period)
                v = v.drop_duplicates("area_code")
                if v.empty:
                    return None
                v = v.set_index("area_code")
                val = v["value"].where(~v["suppressed"].astype(bool))
            r = rank_values(val.astype(float), layer.direction)
            r = r[r["rank"].notna()]
            for code, rk, n, pct in zip(r.index, r["rank"].to_numpy(), r["of"].to_numpy(),
                                        r["percentile"].to_numpy()):
                by_code[code] = (float(rk), int(n), None if np.isnan(pct) else float(pct),
                                 place)
            order = rank_order(layer.direction)
        if not by_code:
            return None
        return {"by_code": by_code, "order": order, "scope": scope, "scope_code": scope_code,
                "place": place}

    def _level_indicator_values(self, level: str) -> dict[tuple[str, str], pd.Series]:
        """All indicator_values of one level in one query (ranks of every indicator of a
        profile then cost one query, not one per indicator)."""
        memo = self.__dict__.setdefault("_ivl_memo", {})
        if level not in memo:
            sup = "coalesce(CAST(suppressed AS BOOLEAN), false)" \
                if "suppressed" in self.columns["indicator_values"] else "false"
            df = self.sql(
                f"SELECT indicator, area_code, CAST(period AS VARCHAR) AS period, "
                f"CAST(value AS DOUBLE) AS value, {sup} AS suppressed FROM indicator_values "
                "WHERE area_code IN (SELECT code FROM areas WHERE level = ?)", [level])
            vals = np.array(df["value"].to_numpy(dtype=float), dtype=float, copy=True)
            vals[df["suppressed"].to_numpy(dtype=bool)] = np.nan
            codes = df["area_code"].to_numpy(dtype=object)
            out: dict[tuple[str, str], pd.Series] = {}
            keys = list(zip(df["indicator"].to_numpy(dtype=object),
                            df["period"].to_numpy(dtype=object)))
            order: dict[tuple[str, str], list[int]] = {}
            for i, k in enumerate(keys):
                order.setdefault(k, []).append(i)
            for k, idx in order.items():
                ser = pd.Series(vals[idx], index=codes[idx])
                out[k] = ser[~ser.index.duplicated()]
            memo[level] = out
        return memo[level]

    def rank_of(self, layer: Layer, level: str, period: str | None, code: str
                ) -> dict[str, Any] | None:
        """The API's ``rank`` object of one area (docs/dashboard.md)."""
        from weefsel.indicators.reference import band_text, scope_text
        rs = self.ranks(layer, level, period)
        hit = rs["by_code"].get(code) if rs else None
        if hit is None:
            return None
        rank, of, pct, place = hit
        return {"rank": int(rank), "of": int(of), "order": rs["order"], "scope": rs["scope"],
                "scope_code": rs["scope_code"], "scope_name": place.removeprefix("in "),
                "level": level, "scope_nl": scope_text(rank, of, level, place, rs["order"]),
                "percentile": None if pct is None else round(pct, 4),
                "band_nl": band_text(pct, level, place) if rs["order"] != "highest_first"
                else None}

    # -- areas -----------------------------------------------------------------------------
    def area(self, code: str) -> dict[str, Any]:
        hit = self._area_dicts.get(code)
        if hit is None:
            raise NotFound(f"Onbekende gebiedscode: {code}")
        return dict(hit)

    def check_level(self, level: str) -> str:
        if level not in self.levels:
            known = ", ".join(self.levels) or "geen"
            raise NotFound(f"Onbekend niveau: {level} (beschikbaar: {known})")
        return level

    def parents(self, code: str) -> list[dict[str, Any]]:
        """The area's buurt → wijk → gemeente → provincie → land chain above it."""
        a = self.area(code)
        chain: list[str] = []
        for key in ("wijk_code", "gemeente_code", "provincie_code"):
            c = a.get(key)
            if c and c != code and c in self._area_dicts:
                chain.append(c)
        if a.get("level") != "land" and self.land_code:
            chain.append(self.land_code)
        out = []
        for c in chain:
            p = self.area(c)
            out.append({"code": p["code"], "name": p["name"], "level": p["level"]})
        return out

    def search(self, q: str | None = None, level: str | None = None,
               limit: int = 50) -> pd.DataFrame:
        df = self.areas
        if level:
            df = df[df["level"] == self.check_level(level)]
        if q:
            ql = q.strip().lower()
            hit = df["code"].str.lower().str.contains(ql, regex=False) | \
                df["name"].str.lower().str.contains(ql, regex=False)
            df = df[hit].copy()
            # exact code, then name prefix, then the rest; coarse levels first
            score = np.where(df["code"].str.lower() == ql, 0,
                             np.where(df["name"].str.lower().str.startswith(ql), 1, 2))
            df = df.assign(_s=score, _l=df["level"].map(
                {lv: i for i, lv in enumerate(LEVEL_ORDER)}).fillna(9))
            df = df.sort_values(["_s", "_l", "name"]).drop(columns=["_s", "_l"])
        return df.head(limit)

    # -- geometry --------------------------------------------------------------------------
    def geometries(self, level: str, zoom: int) -> "LevelGeometry":
        """code → GeoJSON geometry text in EPSG:4326, simplified for ``zoom`` and cached.

        Kept as JSON text so a map response is assembled by joining strings: switching the
        indicator never re-serialises the coordinates."""
        key = (level, zoom)
        with self._cache_lock:
            hit = self._geom_cache.get(key)
        if hit is not None:
            return hit
        lock = self._geom_locks.setdefault(key, threading.Lock())
        with lock:  # one conversion per (level, zoom), however many requests wait for it
            with self._cache_lock:
                hit = self._geom_cache.get(key)
            if hit is not None:
                return hit
            rows = self.cursor().execute(
                "SELECT code, geom_rd FROM areas WHERE level = ? AND geom_rd IS NOT NULL",
                [level]).fetchall()
            geoms = _convert_geometries(rows, zoom)
            with self._cache_lock:
                self._geom_cache[key] = geoms
        return geoms


class LevelGeometry(dict):
    """code → GeoJSON geometry text, plus the lon/lat bbox of the whole level."""

    bbox: list[float] | None = None


def zoom_tolerance(zoom: int) -> float:
    """Simplification tolerance in metres: half a screen pixel at ``zoom`` at 52° N."""
    metres_per_pixel = 156543.03 * math.cos(math.radians(52.2)) / (2 ** zoom)
    return metres_per_pixel * 0.5


def _convert_geometries(rows: list[tuple], zoom: int) -> LevelGeometry:
    import shapely
    from pyproj import Transformer
    out = LevelGeometry()
    if not rows:
        return out
    codes = [r[0] for r in rows]
    geoms = shapely.from_wkb(np.array([bytes(r[1]) for r in rows], dtype=object))
    geoms = shapely.simplify(geoms, zoom_tolerance(zoom), preserve_topology=True)
    tf = Transformer.from_crs("EPSG:28992", "EPSG:4326", always_xy=True)

    def _tf(coords: np.ndarray) -> np.ndarray:
        x, y = tf.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    geoms = shapely.transform(geoms, _tf)
    digits = 5 if zoom >= 10 else 4
    geoms = shapely.set_precision(geoms, 10 ** -digits, mode="pointwise")
    texts = shapely.to_geojson(geoms)
    for code, g, text in zip(codes, geoms, texts):
        if g is None or g.is_empty or text is None:
            continue
        out[code] = text
    ok = geoms[~shapely.is_empty(geoms)]
    if len(ok):
        out.bbox = [round(float(v), 5) for v in shapely.total_bounds(ok)]
    return out


def _iter_coords(coords: Any):
    if coords and isinstance(coords[0], (int, float)):
        yield coords[0], coords[1]
        return
    for c in coords:
        yield from _iter_coords(c)


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    """NaN/NumPy → JSON-safe Python values."""
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.bool_,)):
            v = bool(v)
        elif isinstance(v, np.integer):
            v = int(v)
        elif isinstance(v, (float, np.floating)):
            v = None if not math.isfinite(float(v)) else float(v)
        elif v is pd.NA or v is pd.NaT:
            v = None
        out[k] = v
    return out


def clean_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [_clean(r) for r in df.to_dict(orient="records")]


@lru_cache(maxsize=4)
def open_data(path: str) -> WebData:
    return WebData(path)
