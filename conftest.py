"""Collection rules for the whole repository (tests/conftest.py sets up test sessions).

The docstring examples of ``stn_plugin/geometry``, ``stn_plugin/ops`` and ``stn_plugin/datasets`` run as doctests
(``--doctest-modules`` in pyproject.toml). The Triton kernel modules and their operator
registration are not collected: they have no examples, and importing them imports triton, which must not happen before
``TRITON_INTERPRET`` is decided (see tests/conftest.py).
"""
collect_ignore = ["stn_plugin/ops/roi_sample_triton.py", "stn_plugin/ops/roi_sample_levels_triton.py",
                  "stn_plugin/ops/roi_sample_triton_ops.py"]
