"""A dense numpy Longformer written from the paper's rule, to check windows transformers cannot run.

Local token i attends to non-padded, non-global keys j with |i - j| <= window/2 and to every global
token; global tokens attend to every non-padded token with the *_global projections. No padding to a
window multiple, no band layout: an independent statement of the same semantics.
"""

from __future__ import annotations

import math

import numpy as np

_erf = np.vectorize(math.erf)


def _layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _softmax(x, allowed):
    x = np.where(allowed, x, -np.inf)
    x = x - x.max(-1, keepdims=True)
    e = np.where(allowed, np.exp(x), 0.0)
    return e / e.sum(-1, keepdims=True)


def dense_longformer_forward(model, config, input_ids, attention_mask, global_attention_mask):
    """Last hidden state `(batch, seq, hidden)` of `model`'s weights under the dense rule (float64)."""
    w = {name: (var.numpy().T if tr else var.numpy()).astype(np.float64)
         for name, (var, tr) in model.hf_weights().items()}
    pad = config.pad_token_id
    not_pad = (input_ids != pad).astype(np.int64)
    positions = np.cumsum(not_pad, 1) * not_pad + pad
    h = (w["embeddings.word_embeddings.weight"][input_ids] + w["embeddings.position_embeddings.weight"][positions]
         + w["embeddings.token_type_embeddings.weight"][np.zeros_like(input_ids)])
    h = _layer_norm(h, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], config.layer_norm_eps)
    masked = attention_mask == 0
    is_global = (global_attention_mask == 1) & ~masked
    n = input_ids.shape[1]
    heads, d = config.num_attention_heads, config.hidden_size // config.num_attention_heads
    dist = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])

    def lin(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    for layer, window in enumerate(config.layer_attention_windows):
        p = f"encoder.layer.{layer}."
        out = np.zeros_like(h)
        for b in range(h.shape[0]):
            x = h[b]
            q = lin(x, p + "attention.self.query").reshape(n, heads, d) / math.sqrt(d)
            k = lin(x, p + "attention.self.key").reshape(n, heads, d)
            v = lin(x, p + "attention.self.value").reshape(n, heads, d)
            qg = lin(x, p + "attention.self.query_global").reshape(n, heads, d) / math.sqrt(d)
            kg = lin(x, p + "attention.self.key_global").reshape(n, heads, d)
            vg = lin(x, p + "attention.self.value_global").reshape(n, heads, d)
            local_allowed = ((dist <= window // 2) & ~masked[b][None] & ~is_global[b][None]) | is_global[b][None]
            local = _softmax(np.einsum("ihd,jhd->hij", q, k), local_allowed[None]) @ v.transpose(1, 0, 2)
            glob = _softmax(np.einsum("ihd,jhd->hij", qg, kg), ~masked[b][None, None, :]) @ vg.transpose(1, 0, 2)
            attn = np.where(is_global[b][:, None, None], glob.transpose(1, 0, 2), local.transpose(1, 0, 2))
            attn = np.where(masked[b][:, None, None], 0.0, attn).reshape(n, heads * d)
            out[b] = attn
        a = _layer_norm(lin(out, p + "attention.output.dense") + h, w[p + "attention.output.LayerNorm.weight"],
                        w[p + "attention.output.LayerNorm.bias"], config.layer_norm_eps)
        f = lin(a, p + "intermediate.dense")
        f = 0.5 * f * (1 + _erf(f / math.sqrt(2)))
        h = _layer_norm(lin(f, p + "output.dense") + a, w[p + "output.LayerNorm.weight"],
                        w[p + "output.LayerNorm.bias"], config.layer_norm_eps)
    return h
