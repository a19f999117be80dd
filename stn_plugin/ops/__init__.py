"""Differentiable sampling ops: public functions with autograd, a pure-torch path (CPU,
the test oracle) and fused Triton kernels (CUDA).

Imports nothing from the OpenMMLab stack; triton is imported only when a Triton path
runs.
"""
from .roi_sample import roi_sample
from .roi_sample_levels import roi_sample_levels
from .warp import warp

__all__ = ["roi_sample", "roi_sample_levels", "warp"]
