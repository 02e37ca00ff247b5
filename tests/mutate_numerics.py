#!/usr/bin/env python3
"""Mutation check of the numerics header: every single change of a rounding rule must make
tests/test_numerics.c fail. Each mutation replaces one exact snippet of
templates/common/alto_numerics.h; the test is compiled against the mutated copy and run.
Exit 0 when every mutation is caught, 1 when one survives (or a snippet no longer exists)."""
import os, subprocess, sys, tempfile

SRC = os.environ.get("ALTO_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Equivalent mutants left out on purpose (they cannot change any output): the SR lower neighbour test at
# exactly 0.5 ('>=' vs '>': p = 1 rounds up to the same point), the rceil clamp at 254 (the
# largest reachable scale is 253), and NVFP4's inner clamp at 448 (the E4M3 cast saturates there).
MUTATIONS = [
    ("e2m1 grid spacing", "alto_u32 mb = (me + 22u) << 23;", "alto_u32 mb = (me + 21u) << 23;"),
    ("e2m1 binade floor", "(ab >> 23) > 127u ? (ab >> 23) : 127u", "(ab >> 23) > 126u ? (ab >> 23) : 126u"),
    ("e2m1 code offset", "(t + 2u * (me - 127u))", "(t + 2u * (me - 126u))"),
    ("e2m1 ties -> up", "ALTO_FADD(alto_f32_from_bits(ab), alto_f32_from_bits(mb))", "ALTO_FADD(alto_f32_from_bits(ab + 1u), alto_f32_from_bits(mb))"),
    ("e2m1 saturation", "if (ab > 0x40C00000u) /* min(|x|, 6) */\n    ab = 0x40C00000u;", "if (ab > 0x40E00000u) /* min(|x|, 6) */\n    ab = 0x40E00000u;"),
    ("e2m1 NaN code", "if ((b & 0x7FFFFFFFu) > ALTO_F32_INF_BITS)\n    return 0x7;\n  return alto_e2m1_rne_nonan_(b);", "if ((b & 0x7FFFFFFFu) > ALTO_F32_INF_BITS)\n    return 0xF;\n  return alto_e2m1_rne_nonan_(b);"),
    ("sr threshold <=", "if (u < alto_sr_threshold_(p))", "if (u <= alto_sr_threshold_(p))"),
    ("sr threshold scale", "int sh = (e ? e : 1) - 118;", "int sh = (e ? e : 1) - 119;"),
    ("sr step below 2", "k < 4u ? 2.0f : (k < 6u ? 1.0f : 0.5f)", "k < 3u ? 2.0f : (k < 6u ? 1.0f : 0.5f)"),
    ("sr step", "k < 4u ? 2.0f : (k < 6u ? 1.0f : 0.5f)", "k < 4u ? 2.0f : (k < 5u ? 1.0f : 0.5f)"),
    ("amax NaN-sticky", "alto_u32 a = alto_f32_bits(x) & 0x7FFFFFFFu, m = alto_f32_bits(amax) & 0x7FFFFFFFu;", "alto_u32 a = alto_f32_bits(x) & 0x7FFFFFFFu, m = alto_f32_bits(amax) & 0x7FFFFFFFu;\n  if (a > 0x7F800000u) a = 0;"),
    ("fp8 normal RNE -> round half up", "((1u << (shift - 1)) - 1u) + ((ab >> shift) & 1u)", "(1u << (shift - 1))"),
    ("fp8 normal RNE -> truncate", "r &= ~((1u << shift) - 1u);", "r = ab & ~((1u << shift) - 1u);"),
    ("fp8 subnormal step", "alto_exp2i_f32(emin - mbits + 23)", "alto_exp2i_f32(emin - mbits + 24)"),
    ("fp8 saturation threshold", "if (alto_f32_from_bits(r) > maxval)", "if (alto_f32_from_bits(r) > 2.0f * maxval)"),
    ("fp8 NaN code", "return 0x7F; /* NaN", "return 0x7E; /* NaN"),
    ("bf16 RNE -> half up", "b += 0x7FFFu + ((b >> 16) & 1u);", "b += 0x8000u;"),
    ("even bump threshold", "(b + (1u << (22 - m)))", "(b + (1u << (21 - m)))"),
    ("floor rule", "s = E - emax;", "s = E - emax + 1;"),
    ("uos threshold", "mant > 0x680000u", "mant >= 0x680000u"),
    ("uos zero", "if (b == 0)\n      return 128;", "if (b == 0)\n      return 1;"),
    ("rceil threshold", "s = E - emax + (mant > thr ? 1 : 0);", "s = E - emax + (mant >= thr ? 1 : 0);"),
    ("scale clamp at 1", "return (alto_u8)(s < 1 ? 1 : s);", "return (alto_u8)(s < 0 ? 0 : s);"),
    ("scale of Inf", "if (b >= ALTO_F32_INF_BITS)\n    b = ALTO_F32_MAX_BITS;", "if (b > ALTO_F32_INF_BITS)\n    b = ALTO_F32_MAX_BITS;"),
    ("mx69 round half even", "if (!(a < 8388608.0f))", "if (!(a < 0.5f))"),
    ("mx69 demotion scale", "return alto_exp2i_f32(max_exp - demoted - quant_bit + 2);", "return alto_exp2i_f32(max_exp - quant_bit + 2);"),
    ("nvfp4 inner lower clamp", "if (!(v >= 0.001953125f))\n    v = 0.001953125f;", "if (!(v >= 0.0f))\n    v = 0.0f;"),
]

def main():
    header = open(os.path.join(SRC, "templates/common/alto_numerics.h")).read()
    test = os.path.join(SRC, "tests/test_numerics.c")
    survivors = []
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "templates/common"))
        for name, old, new in MUTATIONS:
            if header.count(old) != 1:
                print(f"MISSING  {name}: snippet found {header.count(old)} times")
                survivors.append(name)
                continue
            with open(os.path.join(tmp, "templates/common/alto_numerics.h"), "w") as f:
                f.write(header.replace(old, new))
            exe = os.path.join(tmp, "t")
            # The mutated header comes first on the include path; everything else from the tree.
            cc = ["cc", "-std=c11", "-O2", "-ffp-contract=off", "-D_GNU_SOURCE", f"-I{tmp}", f"-I{SRC}",
                  test, os.path.join(SRC, "tests/harness.c"), "-o", exe, "-lm"]
            r = subprocess.run(cc, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"NOBUILD  {name}\n{r.stderr}")
                survivors.append(name)
                continue
            r = subprocess.run([exe], capture_output=True, text=True, env=dict(os.environ, ALTO_TEST_SEED="12345"))
            caught = r.returncode != 0
            print(f"{'caught ' if caught else 'SURVIVED'} {name}")
            if not caught:
                survivors.append(name)
    print(f"{len(MUTATIONS) - len(survivors)}/{len(MUTATIONS)} mutations caught")
    return 1 if survivors else 0

if __name__ == "__main__":
    sys.exit(main())
