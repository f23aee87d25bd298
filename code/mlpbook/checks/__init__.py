"""Lab self-checks: run your function, get a friendly verdict, never a traceback or a hang.

Every check prints ``✅ ...`` or ``❌ ... expected X, observed Y, hint: ...`` (``verbose=True``)
and returns a ``CheckResult`` that is truthy iff the check passed, so a build can
``assert check_tanh(tanh_fn).passed``. Whatever the student's function does (raises, returns
None, ``...``, a string, complex numbers or the wrong shape, changes its inputs, prints, or
never returns), the check fails with a message: it never raises and never hangs. Student code
runs under a time limit (``timeout`` seconds, ``TIME_LIMIT`` by default, see ``timelimit``);
what it prints is shown, cut to ``MAX_OUTPUT`` characters. The check's own settings
(``points``, ``atol``, ``seed``, ``expected``...) come from the page, not the student: bad
ones raise TypeError/ValueError. All comparisons are in float64 with the tolerances stated in
each docstring.

Grades that mean something: a check fails code that calls the library's own answer
(``Value.tanh`` for ``check_tanh``, ``models.collapse_linear`` for ``check_collapse``) or breaks
a rule the page states (autograd in ``check_mlp_backward``/``check_gradcheck``, flagged
``autograd``); a graded answer is checked with ``reveal=False`` and never shown; where one slip
fails several parts, ``CheckResult.credit`` keeps the parts that passed.

One module per concept: ``core`` (the verdict and running student code), ``scalar`` (the
engine), ``gradients`` (a hand-written backward), ``linear``, ``training`` and ``answers``.
"""

from __future__ import annotations

from mlpbook.checks.answers import check_answer
from mlpbook.checks.core import MAX_OUTPUT, TIME_LIMIT, CheckResult  # noqa: F401
from mlpbook.checks.gradients import (_loss_with_backward, check_gradcheck,  # noqa: F401
                                      check_mlp_backward)
from mlpbook.checks.linear import check_collapse, check_is_linear
from mlpbook.checks.scalar import check_backward, check_tanh
from mlpbook.checks.training import check_capacity, check_training_loop

__all__ = ["CheckResult", "check_backward", "check_tanh", "check_mlp_backward",
           "check_gradcheck", "check_is_linear", "check_collapse", "check_training_loop",
           "check_capacity", "check_answer", "TIME_LIMIT"]
