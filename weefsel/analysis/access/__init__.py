"""Accessibility of meeting places: distance, counts, E2SFCA, variety and reach.

Public API (see docs/accessibility.md):
  AccessConfig, AccessInputs, compute_access, what_if, run_access,
  EuclideanDetour, NetworkDistance, DistanceModel, parse_decay, e2sfca,
  demand_from_areas, read_demand_file, assign_areas, compare_with_cbs, read_nabijheid_export
"""

from weefsel.analysis.access.cbs import (CbsComparison, attach_codes, compare_with_cbs, normalise_name,
                                         read_nabijheid_export)
from weefsel.analysis.access.crs import check_rd
from weefsel.analysis.access.decay import Decay, parse_decay
from weefsel.analysis.access.demand import assign_areas, demand_from_areas, read_demand_file
from weefsel.analysis.access.distance import DistanceModel, EuclideanDetour, NetworkDistance, Pairs
from weefsel.analysis.access.engine import (AccessInputs, AccessResult, apply_changes,
                                            compute_access, what_if)
from weefsel.analysis.access.measures import ALL_MEETING, AccessConfig, e2sfca, point_measures, shannon
from weefsel.analysis.access.supply import clean_facilities
from weefsel.analysis.access.typology_link import cbs_values_for_type, meeting_types
from weefsel.analysis.access.warehouse import load_inputs, run_access, to_observations, write_results

__all__ = [
    "ALL_MEETING", "AccessConfig", "AccessInputs", "AccessResult", "CbsComparison", "Decay",
    "DistanceModel", "EuclideanDetour", "NetworkDistance", "Pairs", "apply_changes", "assign_areas", "attach_codes", "normalise_name",
    "cbs_values_for_type", "check_rd", "meeting_types", "clean_facilities", "compare_with_cbs", "compute_access", "demand_from_areas",
    "e2sfca", "load_inputs", "parse_decay", "point_measures", "read_demand_file",
    "read_nabijheid_export", "run_access", "shannon", "to_observations", "what_if", "write_results",
]
