#!/usr/bin/env python3
# Helper of bench/llama-cpp-logits.sh (standard library only).
#   base REF.safetensors N_CTX OUT.dat
#       llama-perplexity's "_logits_" file from the reference logits: one chunk of the first N_CTX reference ids, and
#       the log-probabilities of positions N_CTX/2 .. N_CTX-2 (the positions llama-perplexity --kl-divergence scores),
#       quantized as its log_softmax() writes them (scale, min log-prob, then uint16 per vocabulary entry).
#   kld N_CTX:LOG...
#       Combine the KL divergence and "same top p" of several llama-perplexity --kl-divergence runs over one chunk of
#       N_CTX ids each (each scored N_CTX-1-N_CTX/2 positions) into one mean over all their positions.
#   ours REF.safetensors OURS.safetensors FIRST LAST
#       Mean and max KL(reference || ours), max |Δlogit| and top-1 agreement over positions FIRST..LAST (inclusive),
#       with `bitnet logits` output as OURS.
import json, math, re, struct, sys


def read_safetensors(path):
    b = open(path, 'rb').read()
    n = struct.unpack_from('<Q', b, 0)[0]
    header = json.loads(b[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        lo, hi = info['data_offsets']
        raw = b[8 + n + lo:8 + n + hi]
        fmt = {'F32': 'f', 'I32': 'i'}[info['dtype']]
        vals = struct.unpack('<%d%s' % (len(raw) // 4, fmt), raw)
        out[name] = (info['shape'], vals)
    return out


def rows(shape_vals):
    shape, vals = shape_vals
    width = shape[-1]
    return [vals[i * width:(i + 1) * width] for i in range(len(vals) // width)]


def log_softmax(row):
    m = max(row)
    lse = m + math.log(sum(math.exp(x - m) for x in row))
    return [x - lse for x in row]


def nearest_int(x):
    # llama.cpp's nearest_int: round half to even through the 1.5*2^23 trick, for the values it sees here
    return int(round(x))


def cmd_base(ref_path, n_ctx, out_path):
    ref = read_safetensors(ref_path)
    ids = list(ref['input_ids'][1])[:n_ctx]
    logits = rows(ref['logits'])
    n_vocab = len(logits[0])
    if len(ids) < n_ctx:
        raise SystemExit(f'error: the reference has {len(ids)} ids, fewer than n_ctx {n_ctx}')
    nv = 2 * ((n_vocab + 1) // 2) + 4
    first = n_ctx // 2
    out = bytearray(b'_logits_')
    out += struct.pack('<Iii', n_ctx, n_vocab, 1)
    out += struct.pack('<%di' % n_ctx, *ids)
    for pos in range(first, n_ctx - 1):
        row = [float(x) for x in logits[pos]]
        max_logit = max(row)
        min_logit = max(min(row), max_logit - 16)
        log_sum_exp = math.log(sum(math.exp(x - max_logit) for x in row))
        min_log_prob = min_logit - max_logit - log_sum_exp
        scale = (max_logit - min_logit) / 65535.0
        q = [0] * (nv - 4)
        if scale:
            inv = 1 / scale
            for i, x in enumerate(row):
                q[i] = nearest_int(inv * (x - min_logit)) if x > min_logit else 0
        out += struct.pack('<ff', scale, min_log_prob)
        out += struct.pack('<%dH' % (nv - 4), *q)
    open(out_path, 'wb').write(out)


def cmd_kld(logs):
    # llama-perplexity prints its summary statistics only from 100 scored positions on; below that, the last
    # per-chunk line carries the running means:
    #   chunk  PPL ± u  ln(PPL(Q)/PPL(base)) ± u  KL ± u  Δp RMS ± u %  Same top p ± u %
    total = 0; sum_kld = 0.0; same = 0.0
    for arg in logs:
        n_ctx, path = arg.split(':', 1)
        n_ctx = int(n_ctx)
        text = open(path, encoding='utf-8', errors='replace').read()
        lines = [l for l in text.splitlines() if re.match(r'^\s*\d+\s+[0-9.]+ ± .*%.*%', l)]
        if not lines:
            raise SystemExit(f'error: {path}: no per-chunk result line (did llama-perplexity run?)')
        f = [x for x in lines[-1].replace('%', ' ').split() if x != '±']
        kl, top = float(f[5]), float(f[9])
        count = n_ctx - 1 - n_ctx // 2
        total += count; sum_kld += kl * count; same += top / 100 * count
    print(f'positions {total} mean_kl {sum_kld / total:.3g} top1_agree {100 * same / total:.1f}%')


def cmd_ours(ref_path, ours_path, first, last):
    ref = rows(read_safetensors(ref_path)['logits'])
    ours = rows(read_safetensors(ours_path)['logits'])
    kls = []; max_d = 0.0; same = 0
    for pos in range(first, last + 1):
        lp = log_softmax(ref[pos]); lq = log_softmax(ours[pos])
        # llama-perplexity's KL: base (reference) log-probs below -16 are skipped; the same here
        kls.append(sum(math.exp(a) * (a - b) for a, b in zip(lp, lq) if a > -16))
        max_d = max(max_d, max(abs(a - b) for a, b in zip(ref[pos], ours[pos])))
        same += max(range(len(lp)), key=lp.__getitem__) == max(range(len(lq)), key=lq.__getitem__)
    n = len(kls)
    print(f'positions {n} mean_kl {sum(kls) / n:.3g} max_kl {max(kls):.3g} top1_agree {100 * same / n:.1f}% '
          f'max_dlogit {max_d:.4f}')


if __name__ == '__main__':
    a = sys.argv[1:]
    if a[:1] == ['base'] and len(a) == 4:
        cmd_base(a[1], int(a[2]), a[3])
    elif a[:1] == ['kld'] and len(a) >= 2:
        cmd_kld(a[1:])
    elif a[:1] == ['ours'] and len(a) == 5:
        cmd_ours(a[1], a[2], int(a[3]), int(a[4]))
    else:
        raise SystemExit(__doc__ if __doc__ else 'usage: base|kld|ours ...')
