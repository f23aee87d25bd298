"""mlpbook: the shared code of the chapter *Week 3 · MLPs & Backpropagation*.

Modules, one concept each: ``engine`` (scalar autograd), ``graph`` (computational graphs),
``gradcheck`` (finite differences), ``nn`` (teaching MLP on ``Value``), ``models`` (torch MLPs),
``data`` (seeded toy data sets), ``train`` (the training loop), ``plot`` (figures) and
``checks`` (lab self-checks).
"""

from __future__ import annotations

import random

__version__ = "0.1.0"
__all__ = ["set_seed", "__version__"]


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch with one integer ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    random.seed(seed)
    import numpy as np  # imported here so that `import mlpbook` stays cheap

    np.random.seed(seed)
    import torch

    torch.manual_seed(seed)
