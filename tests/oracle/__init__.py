"""Differential tests against PyTorch (float64, CPU autograd), the oracle.

* ``test_functions.py``: every public function of ``typed_dezero.functions`` and every Variable
  operator and method, forward and gradients of order 1 to 3 on both backward paths (the cases are
  in ``cases_core.py``, ``cases_nn.py`` and ``cases_variable.py``; the procedure and tolerance in
  ``harness.py``), with completeness tests that fail when one has no case;
* ``test_aliasing.py``: index arrays, ids and labels changed by the caller after the forward;
* ``test_layers.py``: the layers against torch.nn modules holding the same weights;
* ``test_optimizers.py``: the optimizers against torch.optim.

torch is reached only through ``_torch.py``, which the type checkers never look behind.
"""
