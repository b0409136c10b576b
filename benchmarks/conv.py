"""Workload 3, convolution: conv2d (x 32x3x32x32, W 16x3x3x3, pad 1) then 2x2 max pooling, stride 2.

Forward and backward (gradients of x and W, seed of ones on the pooled output), in milliseconds per
iteration. The NumPy floor is an im2col convolution with matrix products and a col2im backward. The
GEMM floor is the three matrix products alone (forward, kernel gradient, column gradient) on
preallocated operands, in the per-image layout typed_dezero uses: what this algorithm costs on this
BLAS with every copy, pooling and framework step taken away.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from benchmarks import _torch
from benchmarks._common import (
    TYPED_ON,
    Kind,
    Row,
    Samples,
    Settings,
    Target,
    WorkloadResult,
    contenders,
    gather,
    median,
    time_cases,
)

# Only for the annotations: typed_dezero is imported where it is measured, never by the baselines.
if TYPE_CHECKING:
    from typed_dezero._typing import Arr

NAME = "conv"
TITLE = "convolution: conv2d x 32x3x32x32, W 16x3x3x3, pad 1, + 2x2 max pooling, forward+backward"
CASE = "fwd+bwd"
GEMM_CASE = "GEMM only, cache-sized blocks"
GEMM_WHOLE_CASE = "GEMM only, whole batch"
PAD = 1
POOL = 2


def inputs(settings: Settings) -> tuple[Arr, Arr]:
    """x (N, 3, 32, 32) and W (16, 3, 3, 3), seed 0; N is 32 (4 in the tiny mode)."""
    rng = np.random.default_rng(0)
    n = 4 if settings.mode == "tiny" else 32
    return rng.standard_normal((n, 3, 32, 32)), rng.standard_normal((16, 3, 3, 3)) * 0.1


def floor_fwd_bwd(x: Arr, W: Arr) -> tuple[Arr, Arr]:
    """Hand-written forward and backward; returns (gx, gW) for a seed of ones on the output.

    im2col in channels-last order (one copy of the windows), one matrix product each for y, gW and
    the column gradient, col2im as KH*KW strided additions. Pooling routes each window's gradient to
    its maximum by equality (a tie, which random inputs do not produce, would route to each).
    """
    n, c, h, w = x.shape
    oc, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (PAD, PAD), (PAD, PAD)))
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))  # (N, C, OH, OW, KH, KW), a view
    oh, ow = win.shape[2], win.shape[3]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    Wm = W.reshape(oc, -1)
    y = (cols @ Wm.T).reshape(n, oh // POOL, POOL, ow // POOL, POOL, oc)  # channels last, windows split
    out = y.max(axis=(2, 4), keepdims=True)
    gy = (y == out).astype(np.float64).reshape(n * oh * ow, oc)
    gW = (gy.T @ cols).reshape(W.shape)
    gcols = (gy @ Wm).reshape(n, oh, ow, c, kh, kw)
    gxp = np.zeros((n, h + 2 * PAD, w + 2 * PAD, c))
    for i in range(kh):
        for j in range(kw):
            gxp[:, i : i + oh, j : j + ow, :] += gcols[:, :, :, :, i, j]
    return gxp[:, PAD : PAD + h, PAD : PAD + w, :].transpose(0, 3, 1, 2), gW


def _floor(x: Arr, W: Arr) -> Callable[[], float]:
    return lambda: float(floor_fwd_bwd(x, W)[1].sum())


BLOCK_BYTES = 1 << 21
"""typed_dezero multiplies a few images at a time, 2 MiB of patches per block (its _CHUNK_BYTES)."""


def gemm_floor(x: Arr, W: Arr, *, blocked: bool = True) -> Callable[[], float]:
    """The matrix products of one forward+backward alone, on operands allocated once.

    Per image, as typed_dezero multiplies: y = Wm @ col (OC x C*KH*KW by C*KH*KW x OH*OW),
    gW = gy @ col.T and the column gradient Wm.T @ gy, each written into a preallocated output.
    `blocked`: the operands of one block of images (cache-sized, as typed_dezero's), multiplied
    once per block of the batch; else the whole batch's operands at once (they stream from memory).
    """
    n, c = x.shape[:2]
    oc, _, kh, kw = W.shape
    k = c * kh * kw
    pixels = x.shape[2] * x.shape[3]  # pad 1 and a 3x3 kernel keep the size
    b = max(1, min(n, BLOCK_BYTES // (8 * k * pixels))) if blocked else n
    rng = np.random.default_rng(1)
    col = rng.standard_normal((b, k, pixels))
    gy = rng.standard_normal((b, oc, pixels))
    Wm = W.reshape(oc, k)
    y, gW, gcol = np.empty((b, oc, pixels)), np.empty((b, oc, k)), np.empty((b, k, pixels))
    blocks = [min(b, n - start) for start in range(0, n, b)]

    def products() -> float:
        for m in blocks:
            np.matmul(Wm, col[:m], out=y[:m])
            np.matmul(gy[:m], col[:m].transpose(0, 2, 1), out=gW[:m])
            np.matmul(Wm.T, gy[:m], out=gcol[:m])
        return float(gW[0, 0, 0])

    return products


def _torch_side(torch: _torch.Torch, x: Arr, W: Arr) -> Callable[[], float]:
    tx = _torch.tensor(torch, x, requires_grad=True)
    tW = _torch.tensor(torch, W, requires_grad=True)
    functional = torch.nn.functional

    def fwd_bwd() -> float:
        tx.grad = tW.grad = None
        y = functional.max_pool2d(functional.conv2d(tx, tW, padding=PAD), kernel_size=POOL, stride=POOL)
        y.backward(torch.ones_like(y))
        return _torch.grad_sum(tW)

    return fwd_bwd


def _typed(x: Arr, W: Arr) -> Callable[[], float] | None:
    try:
        from typed_dezero.functions.conv import conv2d, pooling
    except ImportError:
        return None
    from typed_dezero import Variable

    vx, vW = Variable(x), Variable(W)

    def fwd_bwd() -> float:
        vx.cleargrad()
        vW.cleargrad()
        pooling(conv2d(vx, vW, pad=PAD), POOL, stride=POOL).backward()
        return float("nan") if vW.grad is None else float(vW.grad.data.sum())

    return fwd_bwd


def typed_workload(case: str, settings: Settings) -> Callable[[], object]:
    """typed_dezero's forward+backward (for ``--profile``)."""
    del case
    fn = _typed(*inputs(settings))
    if fn is None:
        msg = "typed_dezero.functions.conv is not available"
        raise RuntimeError(msg)
    return fn


def measure(kind: Kind, case: str, settings: Settings) -> Samples:
    """Milliseconds per forward+backward, and the sum of gW (the same for every contender)."""
    del case
    x, W = inputs(settings)
    torch = settings.torch
    if kind == "floor":
        # Both floors in one call, interleaved sample by sample.
        floors = {
            CASE: _floor(x, W),
            GEMM_CASE: gemm_floor(x, W),
            GEMM_WHOLE_CASE: gemm_floor(x, W, blocked=False),
        }
        out = time_cases(floors, settings, scale=1e3)
        out["gW sum"] = [_floor(x, W)()]
        return out
    if kind == "torch":
        fn: Callable[[], float] | None = None if torch is None else _torch_side(torch, x, W)
    else:
        fn = _typed(x, W)
    if fn is None:
        return {}
    out = time_cases({CASE: fn}, settings, scale=1e3)
    out["gW sum"] = [fn()]
    return out


def run(settings: Settings) -> WorkloadResult:
    cs = contenders(settings)
    got = gather(NAME, cs, CASE, settings)
    result = WorkloadResult(3, NAME, TITLE)
    torch = got.get("PyTorch")
    for c in cs:
        if c.kind == "typed":
            result.rows.append(
                Row(
                    CASE,
                    c.label,
                    "ms",
                    got[c.label].get(CASE, []),
                    got["NumPy floor"][CASE],
                    None if torch is None else torch[CASE],
                    Target(0.8, "torch"),
                )
            )
            if not got[c.label]:
                result.notes.append(f"{c.label}: typed_dezero.functions.conv not available yet")
    floor, torch_times = got["NumPy floor"], None if torch is None else torch[CASE]
    for case in (GEMM_CASE, GEMM_WHOLE_CASE):
        result.rows.append(
            Row(case, "GEMM floor (matmuls alone)", "ms", floor.get(case, []), floor[CASE], torch_times)
        )
    gemm, mine = floor.get(GEMM_CASE, []), got[TYPED_ON.label].get(CASE, [])
    if gemm and mine:
        result.notes.append(
            f"typed_dezero takes {median(mine) / median(gemm):.2f}x the GEMM floor: "
            f"{median(gemm):.2f} ms of matrix products, the rest is copies, pooling and the framework"
        )
    sums = {label: median(s["gW sum"]) for label, s in got.items() if s.get("gW sum")}
    spread = max(sums.values()) - min(sums.values())
    result.notes.append(
        f"sum of gW agrees across contenders to {spread:.1e} (floor {sums['NumPy floor']:.6f})"
    )
    if torch is None:
        result.notes.append("PyTorch not installed: torch columns skipped")
    return result
