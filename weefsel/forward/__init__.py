"""Forward monitoring (`weefsel vooruit`): from a building programme to a yearly facility
gap per buurt with its probability. See docs/forward.md.

Public API:
  load_scenario, parse_scenario, run_scenario, ForwardResult, load_norms, Norm,
  project, Programme, Draws, Flows, draw (Monte-Carlo), write_result, what_if, compare,
  backtest
"""

from weefsel.forward.montecarlo import Uncertainty, draw
from weefsel.forward.norms import Norm, load_norms
from weefsel.forward.project import Draws, Flows, Programme, draw_area_age, project
from weefsel.forward.run import ForwardResult, run_scenario
from weefsel.forward.backtest import backtest
from weefsel.forward.export import export
from weefsel.forward.scenario import load_scenario, parse_scenario
from weefsel.forward.store import write_result
from weefsel.forward.whatif import compare, what_if

__all__ = ["Draws", "Flows", "ForwardResult", "Norm", "Programme", "Uncertainty", "backtest", "compare",
           "draw", "draw_area_age", "export", "load_norms", "load_scenario", "parse_scenario", "project",
           "run_scenario", "what_if", "write_result"]
