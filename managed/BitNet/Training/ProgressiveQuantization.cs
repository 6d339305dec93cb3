namespace BitNet.Training;

/// <summary>
/// Progressive quantization: the BitLinear blend (bitnet.h <c>bn_train_bitlinear_prepare</c>: weights and activations
/// <c>x + blend · (Q(x) - x)</c>) rises linearly from 0 (full precision) at step 0 to 1 (ternary weights, int8
/// activations, exactly as inference) at step <see cref="Steps"/>, and stays 1. <see cref="Steps"/> = 0 trains ternary
/// from the start (native BitNet b1.58 training). The gradual phase-in follows Nielsen et al., "Continual
/// Quantization-Aware Pre-Training" (arXiv:2502.11895), who find it softens the loss spike of switching to 1.58 bits.
/// </summary>
/// <param name="Steps">Optimizer steps over which the blend goes from 0 to 1 (0: always 1).</param>
public readonly record struct ProgressiveQuantization(long Steps)
{
    /// <summary>The blend at 0-based optimizer step <paramref name="step"/>: min(1, step / Steps), or 1 when Steps is 0.</summary>
    public float BlendAt(long step) => Steps <= 0 ? 1f : (float)Math.Clamp((double)step / Steps, 0, 1);
}
