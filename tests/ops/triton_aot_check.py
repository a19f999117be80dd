"""Ahead-of-time compilation of every :mod:`stn_plugin.ops.roi_sample_triton` kernel
specialisation: a check the suite runs (``test_triton_aot_compile.py``), not library code.

The CUDA kernels must compile, for the GPUs users have, without spilling registers, and
this must be checkable on a machine without a GPU. Triton compiles for a named target
without a device (``triton.compile`` with a ``GPUTarget``; ``ptxas`` ships with
triton), so this module compiles each specialisation the launchers can produce --
forward and backward, parametric (matrix) and explicit grid, each padding rule, fp32 /
fp16 / bf16 features, and the one-launch FPN kernels of
:mod:`~stn_plugin.ops.roi_sample_levels_triton` -- for ``sm_80`` and ``sm_90`` and reads each cubin's resource usage
with ``cuobjdump`` (also shipped with triton): registers, and local / stack memory,
which for these kernels (no local arrays) is only ever spilled registers.

The specialisations are not written out by hand: the real launch functions
(:func:`~stn_plugin.ops.roi_sample_triton.sample_forward`,
:func:`~stn_plugin.ops.roi_sample_triton.sample_backward`)
run on CPU tensors of a realistic size with the kernels replaced by recorders, and each
recorded launch -- its argument types and ``constexpr`` values -- is compiled. So the
check follows the launchers when they change.

Run it in a process where triton was imported *without* ``TRITON_INTERPRET=1`` (the
interpreter replaces the kernels): ``python tests/ops/triton_aot_check.py --arch 80 90``
from the repository root (or with ``stn_plugin`` installed), which prints one JSON line per specialisation and exits non-zero on a
compile error or a spill.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch

__all__ = ["KernelLaunch", "AOTResult", "recorded_launches", "compile_launch", "main"]

_TYPE_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16", torch.int32: "i32",
               torch.int64: "i64"}
# launch options of a triton kernel call that are not kernel arguments
_LAUNCH_OPTIONS = ("num_warps", "num_stages", "num_ctas")


@dataclass
class KernelLaunch:
    """One recorded launch: which kernel, its argument signature and constexprs."""

    name: str  # e.g. "backward matrix roi_align bf16"
    kernel: object  # the triton JITFunction
    signature: Dict[str, str]
    constexprs: Dict[str, object]
    options: Dict[str, int]


@dataclass
class AOTResult:
    name: str
    arch: int
    registers: Optional[int] = None
    local_bytes: Optional[int] = None
    stack_bytes: Optional[int] = None
    error: Optional[str] = None

    @property
    def spills(self) -> bool:
        return bool(self.local_bytes or self.stack_bytes)


def _arg_type(value) -> str:
    if isinstance(value, torch.Tensor):
        return "*" + _TYPE_NAMES[value.dtype]
    if isinstance(value, bool):
        return "i1"
    if isinstance(value, int):
        return "i32" if -2 ** 31 <= value < 2 ** 31 else "i64"
    if isinstance(value, float):
        return "fp32"
    raise TypeError(f"cannot give a triton type to a kernel argument of type {type(value).__name__}")


def recorded_launches() -> List[KernelLaunch]:
    """Every kernel specialisation the launchers produce, recorded on CPU tensors.

    Shapes are the detector's (256 channels, 7x7 cells, sampling ratio 2), so the tile
    sizes are the largest the launchers pick.
    """
    from stn_plugin.ops import roi_sample_levels_triton as levels
    from stn_plugin.ops import roi_sample_triton as kernels

    if kernels.kernels_interpreted():
        raise RuntimeError("roi_sample_triton was imported under TRITON_INTERPRET=1: its kernels are "
                           "interpreted functions, which cannot be compiled; run in a fresh process "
                           "without TRITON_INTERPRET")
    recorded: List[Tuple[object, tuple, dict]] = []

    class _Recorder:
        def __init__(self, kernel):
            self.kernel = kernel

        def __getitem__(self, grid):
            return lambda *args, **kwargs: recorded.append((self.kernel, args, kwargs))

    saved = {name: getattr(kernels, name) for name in ("_launcher", "_check_launchable")}
    launches: List[KernelLaunch] = []
    try:
        kernels._launcher = _Recorder  # every launch goes through _launcher(kernel)[grid](...)
        kernels._check_launchable = lambda features: None
        n, c, (oh, ow), s = 4, 256, (7, 7), 2
        batch_idx = torch.zeros(n, dtype=torch.int32)
        matrices = torch.zeros(n, 3, 3)
        xs, ys = torch.zeros(ow * s), torch.zeros(oh * s)
        grid = torch.zeros(n, oh * s, ow * s, 2)
        for dtype in (torch.float32, torch.float16, torch.bfloat16):
            features = torch.zeros(2, c, 20, 24, dtype=dtype)
            grad_out = torch.zeros(n, c, oh, ow, dtype=dtype)
            for padding in kernels.PADDING_CODES:
                for kind, coords in (("matrix", dict(matrices=matrices, xs=xs, ys=ys)), ("grid", dict(grid=grid))):
                    tag = f"{kind} {padding} {_TYPE_NAMES[dtype]}"
                    recorded.clear()
                    kernels.sample_forward(features, batch_idx, (oh, ow), s, padding, **coords)
                    kernels.sample_backward(grad_out, features, batch_idx, (oh, ow), s, padding, True, True,
                                            **coords)
                    for (kernel, args, kwargs), direction in zip(recorded, ("forward", "backward")):
                        launches.append(_launch(f"{direction} {tag}", kernel, args, kwargs))
            launches += _level_launches(recorded, levels, features, dtype)
    finally:
        for name, value in saved.items():
            setattr(kernels, name, value)
    return launches


def _level_launches(recorded: list, levels, features: torch.Tensor, dtype: torch.dtype) -> List[KernelLaunch]:
    """The one-launch FPN kernels of :mod:`stn_plugin.ops.roi_sample_levels_triton` on a
    4-level pyramid: forward, features backward and the transform / box gradients, with
    a transform for every padding rule and without one for the default rule."""
    n, c, (oh, ow), s = 4, features.shape[1], (7, 7), 2
    pyramid = [torch.zeros(2, c, 200 // st, 304 // st, dtype=dtype) for st in (4, 8, 16, 32)]
    scales = [1 / st for st in (4, 8, 16, 32)]
    rois = torch.zeros(n, 5, dtype=dtype)
    grad_out = torch.zeros(n, c, oh, ow, dtype=dtype)
    out: List[KernelLaunch] = []
    names = ("levels forward", "levels backward", "levels coordinate-gradients")
    for padding in levels.PADDING_CODES:
        for kind, transform in (("matrix", torch.zeros(n, 3, 3, dtype=dtype)), ("none", None)):
            if kind == "none" and padding != "roi_align":
                continue
            recorded.clear()
            levels.levels_forward(pyramid, rois, transform, (oh, ow), s, padding, 56.0, scales)
            levels.levels_backward(grad_out, pyramid, rois, transform, (oh, ow), s, padding, 56.0, scales,
                                   True, transform is not None, True)
            for (kernel, args, kwargs), name in zip(recorded, names):
                if name == names[2] and padding != "roi_align":
                    continue  # no padding in the coordinate-gradient kernel
                tag = f"{kind} {_TYPE_NAMES[dtype]}" if name == names[2] else f"{kind} {padding} {_TYPE_NAMES[dtype]}"
                out.append(_launch(f"{name} {tag}", kernel, args, kwargs))
    return out


def _launch(name: str, kernel, args: tuple, kwargs: dict) -> KernelLaunch:
    names = list(kernel.arg_names)
    signature = {arg: _arg_type(value) for arg, value in zip(names, args)}
    constexprs, options = {}, {}
    for key, value in kwargs.items():
        if key in _LAUNCH_OPTIONS:
            options[key] = value
        else:
            signature[key] = "constexpr"
            constexprs[key] = value
    missing = [a for a in names if a not in signature]
    if missing:
        raise RuntimeError(f"{name}: launch did not pass kernel arguments {missing}")
    return KernelLaunch(name, kernel, {a: signature[a] for a in names}, constexprs, options)


def _tool(name: str) -> str:
    import triton

    return os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", name)


def _resource_usage(cubin: bytes) -> Tuple[int, int, int]:
    """``(registers, local bytes, stack bytes)`` of the one function in ``cubin``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "kernel.cubin")
        with open(path, "wb") as f:
            f.write(cubin)
        report = subprocess.run([_tool("cuobjdump"), "--dump-resource-usage", path], check=True,
                                capture_output=True, text=True).stdout
    fields = {k: int(v) for k, v in re.findall(r"\b(REG|STACK|LOCAL):(\d+)", report)}
    if "REG" not in fields:
        raise RuntimeError(f"cuobjdump printed no resource usage:\n{report}")
    return fields["REG"], fields.get("LOCAL", 0), fields.get("STACK", 0)


def compile_launch(launch: KernelLaunch, arch: int) -> AOTResult:
    """Compile one specialisation for ``sm_<arch>`` and read its resource usage."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    result = AOTResult(launch.name, arch)
    try:
        source = ASTSource(launch.kernel, launch.signature, launch.constexprs)
        compiled = triton.compile(source, target=GPUTarget("cuda", arch, 32), options=dict(launch.options))
        result.registers, result.local_bytes, result.stack_bytes = _resource_usage(compiled.asm["cubin"])
    except Exception as err:  # a compile error is the finding: report it, go on with the rest
        result.error = f"{type(err).__name__}: {err}"[:2000]
    return result


def compile_all(archs: Sequence[int]) -> Iterator[AOTResult]:
    for launch in recorded_launches():
        for arch in archs:
            yield compile_launch(launch, arch)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Compile every roi_sample Triton kernel specialisation "
                                                 "ahead of time (no GPU needed); fail on errors or spills.")
    parser.add_argument("--arch", type=int, nargs="+", default=[80, 90], help="compute capabilities, e.g. 80 90")
    args = parser.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        parser.error("unset TRITON_INTERPRET: interpreted kernels cannot be compiled")
    failed = 0
    for result in compile_all(args.arch):
        print(json.dumps(dict(asdict(result), spills=result.spills)), flush=True)
        failed += bool(result.error or result.spills)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
