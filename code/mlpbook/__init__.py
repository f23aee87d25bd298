"""mlpbook: the shared code of the chapter *Week 3 · MLPs & Backpropagation*.

Modules, one concept each: ``engine`` (scalar autograd), ``graph`` (computational graphs),
``gradcheck`` (finite differences), ``nn`` (teaching MLP on ``Value``), ``models`` (torch MLPs),
``data`` (seeded toy data sets), ``train`` (the training loop), ``plot`` (figures),
``checks`` (lab self-checks, run under ``timelimit``), ``activations`` (the one registry of
activation functions), ``ops`` (the one registry of the engine's ops), ``explorer`` (the
interactive backprop explorer) and ``validation`` (the argument checks every module uses).
"""

from __future__ import annotations

import random

__version__ = "0.1.0"
__all__ = ["set_seed", "__version__"]


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch with one integer ``seed`` in [0, 2**32 - 1]."""
    from mlpbook import validation

    seed = validation.seed(seed)  # checked before anything is seeded
    random.seed(seed)
    import numpy as np  # imported here so that `import mlpbook` stays cheap

    np.random.seed(seed)
    import torch

    torch.manual_seed(seed)
