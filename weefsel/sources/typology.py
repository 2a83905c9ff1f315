"""The weefsel typology of meeting places and services (declared in ``typology.yaml``).

Keeping the OSM tag rules declarative lets a policy analyst read (and change) which OSM
objects count as a buurthuis or a GP practice without reading Python; the same file drives
the tag matching, the Overpass query and docs/typology.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import yaml

from weefsel.errors import InputError

TYPOLOGY_PATH = Path(__file__).with_name("typology.yaml")


@dataclass(frozen=True)
class FacilityType:
    key: str
    label_nl: str
    label_en: str
    meeting_place: bool
    nabijheid_stem: str | None
    nabijheid_title: str | None
    rules: tuple[tuple[tuple[str, frozenset[str]], ...], ...]   # any rule; all (key, values) in a rule

    def matches(self, tags: Mapping[str, object]) -> bool:
        return any(all(str(tags.get(k, "")) in vals for k, vals in rule) for rule in self.rules)


@dataclass(frozen=True)
class Typology:
    types: tuple[FacilityType, ...]

    def classify(self, tags: Mapping[str, object]) -> str | None:
        """The first type (in YAML order) whose rules match, else None (dropped, counted)."""
        for t in self.types:
            if t.matches(tags):
                return t.key
        return None

    def __getitem__(self, key: str) -> FacilityType:
        for t in self.types:
            if t.key == key:
                return t
        raise KeyError(key)

    @property
    def keys(self) -> list[str]:
        return [t.key for t in self.types]

    def tag_filters(self) -> list[tuple[tuple[str, tuple[str, ...]], ...]]:
        """Every rule as ((key, sorted values), ...) for building queries."""
        return [tuple((k, tuple(sorted(v))) for k, v in rule) for t in self.types for rule in t.rules]


def _parse(doc: dict, where: str) -> Typology:
    if not isinstance(doc, dict) or not isinstance(doc.get("types"), dict):
        raise InputError("no 'types' mapping", where=where, expected="typology.yaml layout")
    types = []
    for key, spec in doc["types"].items():
        try:
            rules = tuple(
                tuple((str(k), frozenset(str(v) for v in (vals if isinstance(vals, list) else [vals])))
                      for k, vals in rule.items())
                for rule in spec["osm"])
            nab = spec.get("nabijheid") or {}
            types.append(FacilityType(
                key=str(key), label_nl=str(spec["label_nl"]), label_en=str(spec["label_en"]),
                meeting_place=bool(spec.get("meeting_place", False)),
                nabijheid_stem=nab.get("stem"), nabijheid_title=nab.get("title"), rules=rules))
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"type {key!r} is incomplete ({exc})", where=where,
                             expected="label_nl, label_en, meeting_place, nabijheid, osm rules") from None
    return Typology(tuple(types))


@lru_cache(maxsize=4)
def load_typology(path: Path | None = None) -> Typology:
    """The typology from ``typology.yaml`` (or another file with the same layout)."""
    path = Path(path) if path else TYPOLOGY_PATH
    with open(path, encoding="utf-8") as fh:
        return _parse(yaml.safe_load(fh), str(path))


def render_markdown(typology: Typology | None = None) -> str:
    """The typology table for docs/typology.md."""
    typology = typology or load_typology()
    lines = ["| key | Nederlands | English | ontmoetingsplek | CBS nabijheid variable | OSM tags |",
             "|---|---|---|---|---|---|"]
    for t in typology.types:
        rules = " or ".join(" and ".join(f"`{k}={'/'.join(sorted(v))}`" for k, v in rule)
                            for rule in t.rules)
        title = (t.nabijheid_title or "").replace("|", " › ")
        nab = f"`{t.nabijheid_stem}` ({title})" if t.nabijheid_stem else "none"
        lines.append(f"| `{t.key}` | {t.label_nl} | {t.label_en} | "
                     f"{'yes' if t.meeting_place else 'no'} | {nab} | {rules} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m weefsel.sources.typology  → the table for docs/typology.md
    print(render_markdown(), end="")
