"""Test-session set-up.

Without a GPU, roi_sample's Triton kernels are tested through triton's interpreter,
which works only when ``TRITON_INTERPRET=1`` is set before triton is first imported
(importing torch does not import triton). Setting it here, before any test module is
collected, lets the kernel tests run in this process instead of a child process.
Nothing else in the suite uses triton.
"""
import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
