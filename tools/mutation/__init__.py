"""The mutation tool's parts (tools/mutate.py is its command line): ``syntax`` (AST helpers),
``operators`` (a mutant; the engine's local rules), ``sites`` (generic operators, targets,
``generate``), ``rewrite`` (applying a mutant), ``planner`` (which pages, in which order),
``runner`` (a mutant's builds) and ``report``."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGE = Path("code") / "mlpbook"
RESULTS = Path("bench") / "mutation.json"
