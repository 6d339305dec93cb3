using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace BitNet.Models;

/// <summary>
/// The one map between GGUF tensor names (llama.cpp LLM_ARCH_BITNET, also bitnet.cpp's <c>bitnet-b1.58</c> /
/// <c>bitnet-25</c>) and Hugging Face names (transformers <c>BitNetForCausalLM</c>):
/// <c>token_embd.weight</c> ↔ <c>model.embed_tokens.weight</c>, <c>blk.N.attn_q.weight</c> ↔
/// <c>model.layers.N.self_attn.q_proj.weight</c>, and so on. The HF packed checkpoint's per-tensor
/// <c>*_proj.weight_scale</c> maps to llama.cpp's optional per-tensor <c>.scale</c>: only the names correspond here;
/// whether a value multiplies or divides is the converter's business (see BITNET_FACTS.md).
/// </summary>
public static class GgufTensorNames
{
    private const string GgufLayer = "blk.";
    private const string HfLayer = "model.layers.";

    // (GGUF base, HF base) of tensors outside the layers
    private static readonly (string Gguf, string Hf)[] s_global =
    [
        ("token_embd", "model.embed_tokens"),
        ("output_norm", "model.norm"),
        ("output", "lm_head"),
    ];

    // (GGUF base, HF base) inside layer N: blk.N.<gguf> ↔ model.layers.N.<hf>
    private static readonly (string Gguf, string Hf)[] s_layer =
    [
        ("attn_norm", "input_layernorm"),
        ("attn_q", "self_attn.q_proj"),
        ("attn_k", "self_attn.k_proj"),
        ("attn_v", "self_attn.v_proj"),
        ("attn_output", "self_attn.o_proj"),
        ("attn_sub_norm", "self_attn.attn_sub_norm"),
        ("ffn_norm", "post_attention_layernorm"),
        ("ffn_gate", "mlp.gate_proj"),
        ("ffn_up", "mlp.up_proj"),
        ("ffn_down", "mlp.down_proj"),
        ("ffn_sub_norm", "mlp.ffn_sub_norm"),
    ];

    // (GGUF suffix, HF suffix)
    private static readonly (string Gguf, string Hf)[] s_suffix =
    [
        ("weight", "weight"),
        ("scale", "weight_scale"),
    ];

    /// <summary>Every (GGUF, HF) pair for a model of <paramref name="layers"/> layers, weights and scales alike.</summary>
    public static IEnumerable<(string Gguf, string Hf)> All(int layers)
    {
        foreach (var (sg, sh) in s_suffix)
        {
            foreach (var (g, h) in s_global) yield return ($"{g}.{sg}", $"{h}.{sh}");
            for (int i = 0; i < layers; i++)
                foreach (var (g, h) in s_layer) yield return ($"{GgufLayer}{i}.{g}.{sg}", $"{HfLayer}{i}.{h}.{sh}");
        }
    }

    /// <summary>The HF name of a GGUF tensor name, or false for names outside the map.</summary>
    public static bool TryToHf(string gguf, [NotNullWhen(true)] out string? hf) =>
        TryMap(gguf, GgufLayer, HfLayer, fromGguf: true, out hf);

    /// <summary>The GGUF name of an HF tensor name, or false for names outside the map.</summary>
    public static bool TryToGguf(string hf, [NotNullWhen(true)] out string? gguf) =>
        TryMap(hf, HfLayer, GgufLayer, fromGguf: false, out gguf);

    /// <summary>The HF name of a GGUF tensor name.</summary>
    /// <exception cref="ArgumentException">The name is not a BitNet tensor name.</exception>
    public static string ToHf(string gguf) =>
        TryToHf(gguf, out var hf) ? hf : throw new ArgumentException($"'{gguf}' is not a BitNet GGUF tensor name", nameof(gguf));

    /// <summary>The GGUF name of an HF tensor name.</summary>
    /// <exception cref="ArgumentException">The name is not a BitNet HF tensor name.</exception>
    public static string ToGguf(string hf) =>
        TryToGguf(hf, out var g) ? g : throw new ArgumentException($"'{hf}' is not a BitNet Hugging Face tensor name", nameof(hf));

    private static bool TryMap(string name, string fromLayer, string toLayer, bool fromGguf, [NotNullWhen(true)] out string? result)
    {
        result = null;
        ArgumentNullException.ThrowIfNull(name);
        int dot = name.LastIndexOf('.');
        if (dot <= 0) return false;
        string suffix = name[(dot + 1)..], stem = name[..dot];
        string? mappedSuffix = Lookup(s_suffix, suffix, fromGguf);
        if (mappedSuffix is null) return false;

        if (Lookup(s_global, stem, fromGguf) is { } global)
        {
            result = $"{global}.{mappedSuffix}";
            return true;
        }
        if (!stem.StartsWith(fromLayer, StringComparison.Ordinal)) return false;
        string rest = stem[fromLayer.Length..];
        int end = rest.IndexOf('.');
        if (end <= 0) return false;
        string layer = rest[..end];
        // digits only and no leading zero, so that the map is a bijection on the names it accepts
        if (!layer.All(char.IsAsciiDigit) || (layer.Length > 1 && layer[0] == '0')
            || !int.TryParse(layer, NumberStyles.None, CultureInfo.InvariantCulture, out _)) return false;
        if (Lookup(s_layer, rest[(end + 1)..], fromGguf) is not { } inLayer) return false;
        result = $"{toLayer}{layer}.{inLayer}.{mappedSuffix}";
        return true;
    }

    private static string? Lookup((string Gguf, string Hf)[] table, string key, bool fromGguf)
    {
        foreach (var (g, h) in table)
            if ((fromGguf ? g : h) == key) return fromGguf ? h : g;
        return null;
    }
}
