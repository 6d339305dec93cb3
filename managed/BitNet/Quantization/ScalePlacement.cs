using BitNet.Interop;

namespace BitNet.Quantization;

/// <summary>Where a <see cref="PackedFormat"/> keeps its dequantization scale (w = code * scale).</summary>
public enum ScalePlacement
{
    /// <summary>Not in the bytes: the caller keeps it (HF's <c>weight_scale</c> tensor beside the weight).</summary>
    Outside = BnScaleKind.Outside,
    /// <summary>One per tensor, inside the bytes (I2_S: an fp32 after the codes).</summary>
    PerTensor = BnScaleKind.PerTensor,
    /// <summary>One per block, inside each block (TQ1_0, TQ2_0: an fp16 d).</summary>
    PerBlock = BnScaleKind.PerBlock,
}
