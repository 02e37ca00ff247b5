"""The PyTorch peer of bench/quant: the same quantizations written in PyTorch and compiled with
torch.compile, timed on the same GPU in the same run as bench_quant (device events, median).

  python3 bench/quant/torch_peer.py [M K]

mxfp4_rows: MXFP4 1x32 along K, EVEN scale rule, RNE (ALTO's fprop quantization of X).
dual:       the fprop copy above plus R X (RHT of 32-row chunks, bf16) quantized 32x1 along M with
            stochastic rounding: what alto's fused dual-output kernel writes in one pass.
Outputs are packed like alto's (two codes per byte, E8M0 scale bytes)."""
import statistics
import sys

import torch

M, K = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (8192, 7168)
dev = "cuda"
GRID = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 6.0], device=dev)


def e8m0_even(amax):  # amax: fp32 >= 0; ALTO's EVEN rule through the bits
    bits = amax.view(torch.int32)
    e = ((bits + (1 << 21)) >> 23) & 0x1FF
    return (e - 2).clamp(min=1)


def e2m1_rne(q):  # RNE onto the E2M1 grid with ties to the even code, sign in bit 3
    a = q.abs()
    code = ((a > 0.25).int() + (a >= 0.75).int() + (a > 1.25).int() + (a >= 1.75).int()
            + (a > 2.5).int() + (a >= 3.5).int() + (a > 5.0).int())
    return code | (torch.signbit(q).int() << 3)


def e2m1_sr(q, u):  # stochastic rounding between the neighbouring grid points
    a = q.abs().clamp(max=6.0)
    lo_i = ((a >= 0.5).int() + (a >= 1.0).int() + (a >= 1.5).int() + (a >= 2.0).int()
            + (a >= 3.0).int() + (a >= 4.0).int() + (a >= 6.0).int())
    lo, hi = GRID[lo_i], GRID[lo_i + 1]
    p = torch.where(hi > lo, (a - lo) / (hi - lo), torch.zeros_like(a))
    code = lo_i + (u < p).int()
    return code.clamp(max=7) | (torch.signbit(q).int() << 3)


def pack(codes):  # [..., 2n] int -> [..., n] uint8, even element in the low nibble
    c = codes.view(*codes.shape[:-1], -1, 2)
    return (c[..., 0] | (c[..., 1] << 4)).to(torch.uint8)


def mxfp4_rows(x):
    xb = x.view(M, K // 32, 32).float()
    s = e8m0_even(xb.abs().amax(-1, keepdim=True))
    q = xb * torch.exp2((127 - s).float())
    return pack(e2m1_rne(q).view(M, K)), s.view(M, K // 32).to(torch.uint8)


def mxfp4_cols_sr(xr, u):  # 32x1 blocks along M, packed along M
    xb = xr.view(M // 32, 32, K).float()
    s = e8m0_even(xb.abs().amax(1, keepdim=True))
    q = xb * torch.exp2((127 - s).float())
    codes = e2m1_sr(q, u.view(M // 32, 32, K)).view(M // 2, 2, K)
    return (codes[:, 0] | (codes[:, 1] << 4)).to(torch.uint8), s.view(M // 32, K).to(torch.uint8)


def dual(x, R, u):
    f = mxfp4_rows(x)
    xr = torch.matmul(R, x.view(M // 32, 32, K).float()).to(torch.bfloat16)
    return f, mxfp4_cols_sr(xr, u)


def rht_matrix(b=32):
    h = torch.ones(1, 1)
    while h.shape[0] < b:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    d = torch.diag(torch.randint(0, 2, (b,)).float() * 2 - 1)
    p = torch.eye(b)[torch.randperm(b)]
    return (p @ d @ h @ p.T / b ** 0.5).to(dev)


def time_ms(fn, iters=20, reps=7):
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(iters):
            fn()
        b.record()
        torch.cuda.synchronize()
        out.append(a.elapsed_time(b) / iters)
    return statistics.median(out)


def main():
    torch.manual_seed(0)
    x = torch.randn(M, K, device=dev)
    x = torch.where(torch.rand_like(x) < 0.005, x * 100, x).to(torch.bfloat16)
    R = rht_matrix()
    u = torch.rand(M, K, device=dev)  # SR noise (generated outside: not counted against torch)
    rows_c = torch.compile(mxfp4_rows)
    dual_c = torch.compile(dual)
    n = M * K
    copy = time_ms(lambda: x.clone())
    copy_gbs = 2 * n * 2 / (copy * 1e-3) / 1e9
    t_rows = time_ms(lambda: rows_c(x))
    t_dual = time_ms(lambda: dual_c(x, R, u))
    rows_bytes = n * 2 + n / 2 + n / 32
    dual_bytes = n * 2 + 2 * (n / 2 + n / 32)  # the same bytes alto's dual kernel counts
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, M={M} K={K} bf16")
    print(f"torch copy (clone)                      {copy:9.4f} ms {copy_gbs:8.0f} GB/s")
    for name, t, b in (("torch.compile mxfp4 1x32 along K", t_rows, rows_bytes),
                       ("torch.compile dual mxfp4 + RHT32 + SR", t_dual, dual_bytes)):
        gbs = b / (t * 1e-3) / 1e9
        print(f"{name:40s}{t:9.4f} ms {gbs:8.0f} GB/s {100 * gbs / copy_gbs:5.0f}% of copy")


if __name__ == "__main__":
    main()
