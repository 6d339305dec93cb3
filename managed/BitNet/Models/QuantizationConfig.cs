namespace BitNet.Models;

/// <summary>HF <c>quantization_config.linear_class</c>: how a packed checkpoint's <c>weight_scale</c> is applied
/// (BITNET_FACTS.md; transformers <c>integrations/bitnet.py</c>).</summary>
public enum LinearClass
{
    /// <summary><c>bitlinear</c>: the output is divided by weight_scale (weight_scale = 1/mean|W|, so W ≈ codes / weight_scale).</summary>
    BitLinear,
    /// <summary><c>autobitlinear</c>: the output is multiplied by weight_scale (weight_scale = mean|W|, so W ≈ codes * weight_scale).</summary>
    AutoBitLinear,
}

/// <summary>HF <c>quantization_config.quantization_mode</c>.</summary>
public enum QuantizationMode
{
    /// <summary><c>offline</c>: the checkpoint stores packed ternary weights and their scales.</summary>
    Offline,
    /// <summary><c>online</c>: the checkpoint stores master weights, ternarized at run time.</summary>
    Online,
}

/// <summary>The <c>quantization_config</c> of a HF BitNet <c>config.json</c>.</summary>
/// <param name="LinearClass">How <c>weight_scale</c> is applied.</param>
/// <param name="Mode">Whether the weights are stored packed (offline) or as master weights (online).</param>
public sealed record QuantizationConfig(LinearClass LinearClass, QuantizationMode Mode);
