"""The PyTorch reference training step that alto's GPU trainer is compared against: the same Llama 3
model, batch and precision, timed on the same GPU.

  python3 bench/train/torch_ref.py --model debugmodel|1b --batch B --seq T \
      --precision bf16|fp8_block|fp8_rowwise|fp8_tensorwise [--steps N] [--warmup W]
      [--compile|--no-compile] [--profile] [--device cuda|cpu] [--check-hf]

Model: Llama 3 as models/llama3/<model>.yaml (read from there when the file is found, else the
copy in MODELS below): token embedding, n_layers x (RMSNorm, GQA attention with RoPE, RMSNorm,
SwiGLU MLP) with residuals, final RMSNorm, output projection (tied to the embedding for 1b),
cross-entropy. No bias anywhere. RoPE: Hugging Face's rotate_half convention (the two halves of a
head are the pair) with the llama3 frequency scaling; attention through
F.scaled_dot_product_attention(is_causal=True), kv heads repeated for GQA (query head h reads kv
head h // (n_heads / n_kv_heads)). The cos/sin tables are fp32 and cast to the activations' dtype
(bf16 under autocast) before the rotation, as Hugging Face does. Init: normal(0, 0.02) for every
Linear and the embedding, ones for the norms (seeded by --seed). Module names follow
Hugging Face's LlamaForCausalLM, so --check-hf can load our weights into transformers' model and
compare the logits (fp32, on --device); on the CPU with transformers 5.23 both models agree to
1e-6 (debugmodel) and 1e-5 (1b) in the logits, with identical RoPE frequencies.

Step: the standard mixed-precision recipe: fp32 master weights, forward under
torch.autocast(dtype=torch.bfloat16) (matmuls and attention in bf16; the residual stream, the
norms' statistics and the loss in fp32), backward, clip_grad_norm_(1.0), AdamW(fused=True,
lr 3e-4, betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on every parameter, constant lr),
zero_grad(set_to_none=True). The model (and its loss) goes through torch.compile unless
--no-compile.

Precisions:
  bf16            the recipe above.
  fp8_block       torchao's DeepSeek-style blockwise FP8 (1x128 activation tiles, 128x128 weight
                  blocks: torchao.prototype.blockwise_fp8_training) when that module exists and
                  its first steps run; otherwise torchao.float8 with the "rowwise" recipe. The
                  recipe used is printed and written in the RESULT line ("recipe").
  fp8_rowwise     torchao.float8.convert_to_float8_training, recipe "rowwise".
  fp8_tensorwise  torchao.float8.convert_to_float8_training, recipe "tensorwise".
  Every FP8 precision converts the Linear layers except the output projection (lm_head), as
  alto's recipes do (ignore: ["lm_head"]); without torchao it prints "fp8: torchao not installed"
  and skips.

Data: random tokens, torch.randint over the vocabulary with a fixed seed (--seed): a fresh batch of
B windows of T+1 tokens per step (inputs the first T, targets the last T), all generated on the
device before the first step; --same-batch reuses one batch every step.

Measurement: --warmup W untimed steps (they include compilation), then --steps N steps between two
CUDA events (synchronized), with an event per step for the median. Reported: tokens/s, ms/step
(mean over the N steps, and median and min per step), MFU, peak memory
(torch.cuda.max_memory_allocated over the whole run, GiB), the losses (first step of the run and
last step) and gradient norms of every step.

MFU, the PaLM paper's formula (Chowdhery et al. 2022, appendix B):
    FLOPs per token = 6 N + 12 L d T
  N = the weights every token multiplies by: all layers' weights, the norms and the output
      projection (d x V; counted for 1b too, where it shares its storage with the embedding
      table); the embedding lookup is no matmul and is left out ("n_params_nonembedding").
  12 L d T = attention scores and values (QK^T and PV, forward 2 x 2 L d T, backward twice that),
      L layers, d = n_heads x head_dim, T the sequence length. As in PaLM (and torchtitan,
      nanoGPT), NOT halved for the causal mask, although flash attention skips the masked half.
  MFU = tokens/s x FLOPs per token / 989.4e12 (H100 SXM dense bf16 peak), for every precision,
  FP8 included (so FP8's MFU is "against the bf16 peak"); FP8 runs also print mfu_fp8_peak
  against the dense FP8 peak 1978.9e12.

Output: one human line per run ("torch_ref ...") and a final JSON line prefixed "RESULT ".
--profile: after the timed steps, one more step under torch.profiler; prints the top 25 ops by
self CUDA (device) time (key_averages table; on --device cpu by self CPU time).
"""
import argparse
import gc
import inspect
import json
import math
import os
import statistics
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F

H100_BF16_PEAK = 989.4e12  # H100 SXM, dense bf16 tensor-core FLOP/s
H100_FP8_PEAK = 1978.9e12  # H100 SXM, dense fp8

# The copy of models/llama3/{debugmodel,1b}.yaml used when the files are not found.
MODELS = {
    "debugmodel": dict(dim=256, n_layers=6, vocab_size=2048, norm_eps=1e-5, tied_embeddings=False,
                       theta=500000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                       original_max_position=8192, n_heads=16, n_kv_heads=16, ffn_dim=768,
                       max_seq_len=131072),
    "1b": dict(dim=2048, n_layers=16, vocab_size=128256, norm_eps=1e-5, tied_embeddings=True,
               theta=500000.0, factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
               original_max_position=8192, n_heads=32, n_kv_heads=8, ffn_dim=8192,
               max_seq_len=131072),
}


def _yaml_leaves(path):
    """The leaf 'key: value' pairs of our flat model yaml files (every leaf name is unique there)."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].rstrip()
            if ":" not in line:
                continue
            k, v = (s.strip() for s in line.split(":", 1))
            if not v:
                continue
            if v in ("true", "false"):
                out[k] = v == "true"
                continue
            try:
                out[k] = int(v)
            except ValueError:
                try:
                    out[k] = float(v)
                except ValueError:
                    out[k] = v
    return out


def load_config(name):
    cfg = dict(MODELS[name])
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "models", "llama3", name + ".yaml")
    src = "builtin copy"
    if os.path.exists(path):
        y = _yaml_leaves(path)
        for k in cfg:
            if k in y:
                cfg[k] = type(cfg[k])(y[k]) if not isinstance(cfg[k], bool) else bool(y[k])
        if y.get("scaling", "llama3") != "llama3" or y.get("kind", "swiglu") != "swiglu":
            raise SystemExit(f"{path}: only llama3 rope scaling and a swiglu mlp are written here")
        src = os.path.relpath(path)
    cfg["head_dim"] = cfg["dim"] // cfg["n_heads"]
    return cfg, src


# --- model -------------------------------------------------------------------------------------

def llama3_inv_freq(cfg):
    """Hugging Face's _compute_llama3_parameters: RoPE inverse frequencies with llama3 scaling."""
    hd = cfg["head_dim"]
    inv = 1.0 / (cfg["theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    factor, lo, hi = cfg["factor"], cfg["low_freq_factor"], cfg["high_freq_factor"]
    old = cfg["original_max_position"]
    low_freq_wavelen, high_freq_wavelen = old / lo, old / hi
    wavelen = 2 * math.pi / inv
    inv_l = torch.where(wavelen > low_freq_wavelen, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
    medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    return torch.where(medium, smoothed, inv_l)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * y.to(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, hd = cfg["dim"], cfg["head_dim"]
        self.n_heads, self.n_kv, self.hd = cfg["n_heads"], cfg["n_kv_heads"], hd
        self.q_proj = nn.Linear(d, self.n_heads * hd, bias=False)
        self.k_proj = nn.Linear(d, self.n_kv * hd, bias=False)
        self.v_proj = nn.Linear(d, self.n_kv * hd, bias=False)
        self.o_proj = nn.Linear(self.n_heads * hd, d, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_heads, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        cos, sin = cos.to(q.dtype), sin.to(q.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.n_heads // self.n_kv
        if rep > 1:  # query head h reads kv head h // rep (HF repeat_kv)
            k = k[:, :, None].expand(B, self.n_kv, rep, T, self.hd).reshape(B, self.n_heads, T, self.hd)
            v = v[:, :, None].expand(B, self.n_kv, rep, T, self.hd).reshape(B, self.n_heads, T, self.hd)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(o.transpose(1, 2).reshape(B, T, self.n_heads * self.hd))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, f = cfg["dim"], cfg["ffn_dim"]
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg["dim"], cfg["norm_eps"])
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg["dim"], cfg["norm_eps"])
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama3(nn.Module):
    def __init__(self, cfg, max_seq):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["dim"])
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg["n_layers"]))
        self.norm = RMSNorm(cfg["dim"], cfg["norm_eps"])
        self.lm_head = nn.Linear(cfg["dim"], cfg["vocab_size"], bias=False)
        if cfg["tied_embeddings"]:
            self.lm_head.weight = self.embed_tokens.weight
        freqs = torch.outer(torch.arange(max_seq, dtype=torch.float32), llama3_inv_freq(cfg))
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def logits(self, tokens):
        T = tokens.shape[1]
        cos, sin = self.cos[:T], self.sin[:T]
        h = self.embed_tokens(tokens)
        for layer in self.layers:
            h = layer(h, cos, sin)
        return self.lm_head(self.norm(h))

    def forward(self, tokens, targets):
        logits = self.logits(tokens)
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.reshape(-1))


def count_params(model, cfg):
    total = sum(p.numel() for p in model.parameters())  # a tied weight once
    emb = cfg["vocab_size"] * cfg["dim"]
    nonemb = total - emb + (emb if cfg["tied_embeddings"] else 0)
    return total, nonemb


# --- precision ---------------------------------------------------------------------------------

def torchao_version():
    try:
        import torchao
        return getattr(torchao, "__version__", "unknown")
    except Exception:
        return None


def linear_filter(block):
    def keep(mod, fqn):
        if not isinstance(mod, nn.Linear) or fqn.split(".")[-1] == "lm_head":
            return False
        return mod.in_features % block == 0 and mod.out_features % block == 0
    return keep


def candidates(precision):
    return {"bf16": ["bf16"], "fp8_block": ["blockwise", "rowwise"], "fp8_rowwise": ["rowwise"],
            "fp8_tensorwise": ["tensorwise"]}[precision]


def apply_recipe(model, recipe):
    """Converts the model's Linear layers in place for recipe; returns a description."""
    if recipe == "bf16":
        return "bf16 autocast, fp32 master weights"
    if recipe == "blockwise":
        from torchao.prototype.blockwise_fp8_training.linear import (
            Float8BlockwiseLinear, Float8BlockwiseLinearConfig)
        from torchao.quantization import quantize_
        quantize_(model, Float8BlockwiseLinearConfig(), filter_fn=linear_filter(128))
        n = 0
        for m in model.modules():
            if isinstance(m, Float8BlockwiseLinear):
                # Its autograd.Function does not autocast: hand it bf16 as F.linear would be.
                m.register_forward_pre_hook(_to_autocast_dtype)
                n += 1
        if n == 0:
            raise RuntimeError("blockwise: no Linear was converted")
        return f"torchao blockwise fp8 (1x128 act, 128x128 weight), {n} Linear, lm_head bf16"
    from torchao.float8 import Float8LinearConfig, convert_to_float8_training
    convert_to_float8_training(model, module_filter_fn=linear_filter(16),
                               config=Float8LinearConfig.from_recipe_name(recipe))
    n = sum(type(m).__name__ == "Float8Linear" for m in model.modules())
    if n == 0:
        raise RuntimeError(f"{recipe}: no Linear was converted")
    return f"torchao.float8 recipe {recipe}, {n} Linear, lm_head bf16"


def _to_autocast_dtype(mod, args):
    x = args[0]
    dev = x.device.type
    if x.is_floating_point() and torch.is_autocast_enabled(dev):
        return (x.to(torch.get_autocast_dtype(dev)),) + tuple(args[1:])
    return None


# --- run ---------------------------------------------------------------------------------------

class Skip(Exception):
    pass


def sync(dev):
    if dev == "cuda":
        torch.cuda.synchronize()


def run(args, cfg, recipe):
    dev = args.device
    torch.manual_seed(args.seed)
    model = Llama3(cfg, args.seq).to(dev)
    total, nonemb = count_params(model, cfg)
    desc = apply_recipe(model, recipe)
    params = [p for p in model.parameters()]
    opt = torch.optim.AdamW(params, lr=3e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1,
                            fused=True)
    fwd = torch.compile(model) if args.compile else model

    B, T, V = args.batch, args.seq, cfg["vocab_size"]
    n_total = args.warmup + args.steps + (1 if args.profile else 0)
    g = torch.Generator(device=dev).manual_seed(args.seed)
    n_batches = 1 if args.same_batch else n_total
    data = torch.randint(0, V, (n_batches, B, T + 1), generator=g, device=dev)

    def step(i):
        tok = data[0 if args.same_batch else i]
        with torch.autocast(device_type=dev, dtype=torch.bfloat16):
            loss = fwd(tok[:, :-1], tok[:, 1:])
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach(), gnorm.detach()

    if dev == "cuda":
        torch.cuda.reset_peak_memory_stats()
    losses, gnorms = [], []
    t0 = time.perf_counter()
    for i in range(args.warmup):
        l, gn = step(i)
        losses.append(l)
        gnorms.append(gn)
        if i == 0:
            sync(dev)
            if not math.isfinite(l.item()):
                raise RuntimeError(f"loss {l.item()} at the first step")
    sync(dev)
    warmup_s = time.perf_counter() - t0

    ev = None
    if dev == "cuda":
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(args.steps + 1)]
        ev[0].record()
    t0 = time.perf_counter()
    for i in range(args.steps):
        l, gn = step(args.warmup + i)
        losses.append(l)
        gnorms.append(gn)
        if ev:
            ev[i + 1].record()
    sync(dev)
    if ev:
        per = [ev[i].elapsed_time(ev[i + 1]) for i in range(args.steps)]
        total_ms = ev[0].elapsed_time(ev[-1])
    else:
        total_ms = (time.perf_counter() - t0) * 1e3
        per = [total_ms / args.steps] * args.steps

    prof_table = None
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev == "cuda" else [])
        with profile(activities=acts) as prof:
            step(args.warmup + args.steps)
            sync(dev)
        ka = prof.key_averages()
        keys = (["self_device_time_total", "self_cuda_time_total", "device_time_total"]
                if dev == "cuda" else ["self_cpu_time_total"])
        for key in keys:
            try:
                prof_table = ka.table(sort_by=key, row_limit=25)
                break
            except (AttributeError, KeyError, TypeError):
                continue

    losses = torch.stack(losses).float().tolist()
    gnorms = torch.stack(gnorms).float().tolist()
    ms = total_ms / args.steps
    tok_s = B * T / (ms * 1e-3)
    flops_tok = 6 * nonemb + 12 * cfg["n_layers"] * cfg["n_heads"] * cfg["head_dim"] * T
    res = dict(
        recipe=recipe, recipe_desc=desc, n_params=total, n_params_nonembedding=nonemb,
        flops_per_token=flops_tok, tokens_per_s=tok_s, ms_per_step=ms,
        ms_per_step_median=statistics.median(per), ms_per_step_min=min(per),
        tflops_per_s=tok_s * flops_tok / 1e12, mfu=tok_s * flops_tok / H100_BF16_PEAK,
        warmup_s=warmup_s, loss_first=losses[0], loss_last=losses[-1], losses=losses,
        gnorms=gnorms)
    if recipe != "bf16":
        res["mfu_fp8_peak"] = tok_s * flops_tok / H100_FP8_PEAK
    if dev == "cuda":
        res["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
        res["peak_reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
    return res, prof_table


def cleanup(dev):
    gc.collect()
    try:
        torch._dynamo.reset()
    except Exception:
        pass
    if dev == "cuda":
        torch.cuda.empty_cache()


# --- the Hugging Face check --------------------------------------------------------------------

def check_hf(args, cfg):
    """Loads our random weights into transformers' LlamaForCausalLM and compares fp32 logits."""
    try:
        from transformers import LlamaConfig, LlamaForCausalLM
    except ImportError:
        print("check-hf: transformers not installed")
        return 0
    dev = args.device
    torch.manual_seed(args.seed)
    ours = Llama3(cfg, args.seq).to(dev).eval()
    rope = dict(rope_type="llama3", factor=cfg["factor"], low_freq_factor=cfg["low_freq_factor"],
                high_freq_factor=cfg["high_freq_factor"],
                original_max_position_embeddings=cfg["original_max_position"])
    kw = dict(vocab_size=cfg["vocab_size"], hidden_size=cfg["dim"],
              intermediate_size=cfg["ffn_dim"], num_hidden_layers=cfg["n_layers"],
              num_attention_heads=cfg["n_heads"], num_key_value_heads=cfg["n_kv_heads"],
              head_dim=cfg["head_dim"], rms_norm_eps=cfg["norm_eps"],
              max_position_embeddings=cfg["max_seq_len"], tie_word_embeddings=cfg["tied_embeddings"],
              attention_bias=False, mlp_bias=False)
    if "rope_parameters" in inspect.signature(LlamaConfig.__init__).parameters:
        kw["rope_parameters"] = dict(rope, rope_theta=cfg["theta"])
    else:
        kw.update(rope_theta=cfg["theta"], rope_scaling=rope)
    hcfg = LlamaConfig(**kw)
    try:
        hf = LlamaForCausalLM._from_config(hcfg, attn_implementation="eager")
    except TypeError:
        hcfg._attn_implementation = "eager"
        hf = LlamaForCausalLM(hcfg)
    hf = hf.to(dev).float().eval()
    sd = {("lm_head.weight" if k == "lm_head.weight" else "model." + k): v
          for k, v in ours.state_dict().items()}
    missing, unexpected = hf.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not (cfg["tied_embeddings"] and k == "lm_head.weight")]
    if missing or unexpected:
        print(f"check-hf: state dict mismatch: missing {missing} unexpected {unexpected}")
        return 1
    inv_hf = hf.model.rotary_emb.inv_freq.float().cpu()
    inv_ours = llama3_inv_freq(cfg)
    d_inv = (inv_hf - inv_ours).abs().max().item()
    g = torch.Generator(device=dev).manual_seed(args.seed)
    tok = torch.randint(0, cfg["vocab_size"], (args.batch, args.seq + 1), generator=g, device=dev)
    with torch.no_grad():
        a = ours.logits(tok[:, :-1]).float()
        b = hf(input_ids=tok[:, :-1]).logits.float()
        la = F.cross_entropy(a.view(-1, a.shape[-1]), tok[:, 1:].reshape(-1)).item()
        lb = F.cross_entropy(b.view(-1, b.shape[-1]), tok[:, 1:].reshape(-1)).item()
    d = (a - b).abs().max().item()
    ok = d <= 1e-3 * max(1.0, b.abs().max().item()) and d_inv <= 1e-6 * inv_ours.max().item()
    import transformers
    print(f"check-hf {args.model}: transformers {transformers.__version__}, max |logit diff| "
          f"{d:.3e} (max |logit| {b.abs().max().item():.3f}), max |inv_freq diff| {d_inv:.3e}, "
          f"loss ours {la:.6f} hf {lb:.6f}: {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


# --- main --------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="debugmodel")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--precision", default="bf16",
                    choices=["bf16", "fp8_block", "fp8_rowwise", "fp8_tensorwise"])
    ap.add_argument("--steps", type=int, default=20, help="timed steps")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps, compilation included")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--profile", action="store_true", help="per-op table of one more step")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--same-batch", action="store_true", help="one batch for every step")
    ap.add_argument("--check-hf", action="store_true",
                    help="only compare our forward with transformers' LlamaForCausalLM (fp32)")
    args = ap.parse_args()
    if min(args.warmup, args.steps, args.batch, args.seq) < 1:
        ap.error("--warmup, --steps, --batch and --seq must be at least 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("CUDA is not available (use --device cpu for a smoke run)")

    cfg, src = load_config(args.model)
    torch.set_float32_matmul_precision("high")
    if args.check_hf:
        return check_hf(args, cfg)

    gpu = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    aov = torchao_version()
    head = dict(model=args.model, precision=args.precision, batch=args.batch, seq=args.seq,
                steps=args.steps, warmup=args.warmup, compile=args.compile, device=gpu,
                torch=torch.__version__, cuda=torch.version.cuda, torchao=aov, config_src=src)
    print(f"# torch_ref: torch {torch.__version__} (CUDA {torch.version.cuda}), torchao {aov}, "
          f"{gpu}; llama3 {args.model} from {src}: " +
          ", ".join(f"{k}={v}" for k, v in cfg.items()), flush=True)

    res, prof, errors, status = None, None, [], "ok"
    if args.precision != "bf16" and aov is None:
        print("fp8: torchao not installed", flush=True)
        status = "skipped: torchao not installed"
    else:
        for recipe in candidates(args.precision):
            err = None
            try:
                res, prof = run(args, cfg, recipe)
            except Exception as e:  # OOM, a missing torchao module, a kernel that refuses...
                err = f"{recipe}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                tb = traceback.format_exc()
            if err is None:
                break
            errors.append(err)
            print(f"# {args.precision}: recipe {err}", flush=True)
            print(tb[-3000:], file=sys.stderr, flush=True)
            cleanup(args.device)
        if res is None:
            status = "failed"

    out = dict(head, status=status, errors=errors)
    if res is not None:
        out.update(res)
        used = res["recipe"]
        fell = f" (after: {'; '.join(errors)})" if errors else ""
        if args.precision != "bf16":
            print(f"# {args.precision}: used recipe {used}: {res['recipe_desc']}{fell}", flush=True)
        extra = f", {res['mfu_fp8_peak'] * 100:.1f}% of fp8 peak" if "mfu_fp8_peak" in res else ""
        mem = f", peak {res['peak_mem_gib']:.2f} GiB" if "peak_mem_gib" in res else ""
        print(f"torch_ref {args.model} {args.precision}[{used}] B={args.batch} T={args.seq} "
              f"compile={'on' if args.compile else 'off'}: {res['tokens_per_s']:.0f} tok/s, "
              f"{res['ms_per_step']:.2f} ms/step (median {res['ms_per_step_median']:.2f}), "
              f"{res['tflops_per_s']:.1f} TFLOP/s, MFU {res['mfu'] * 100:.1f}% of bf16 peak{extra}"
              f"{mem}, loss {res['loss_first']:.4f} -> {res['loss_last']:.4f}, "
              f"warmup {res['warmup_s']:.1f} s", flush=True)
        if prof:
            print(f"# profile of one step ({args.model} {args.precision}[{used}]):\n{prof}")
    else:
        print(f"torch_ref {args.model} {args.precision} B={args.batch} T={args.seq}: {status}"
              + (f" ({'; '.join(errors)})" if errors else ""), flush=True)
    print("RESULT " + json.dumps(out), flush=True)
    return 1 if status == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
