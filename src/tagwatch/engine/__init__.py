"""The rule engine: pure, deterministic, vectorised.

    evaluate(rules, state, fixes, device_events, now) -> (state', events)

No I/O, no clock reads, no globals (a test enforces the imports). See DESIGN.md.
"""

from tagwatch.engine.batch import FixBatch
from tagwatch.engine.compile import CompiledRules, compile_rules
from tagwatch.engine.core import evaluate
from tagwatch.engine.state import EngineState

__all__ = ["CompiledRules", "EngineState", "FixBatch", "compile_rules", "evaluate"]
