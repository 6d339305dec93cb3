namespace BitNet.Quantization;

/// <summary>A clipping value proposed by a <see cref="Calibrator"/> and the symmetric quantization it implies.</summary>
/// <param name="Clip">The clipping value (0 when only zeros were seen).</param>
/// <param name="Step">Clip / qmax with qmax = 2^(bits-1) - 1: the dequantization step, x ≈ q * step.</param>
/// <param name="Multiplier">qmax / clip, HF's convention (q = round(x * multiplier)); 0 when the clip is 0.</param>
/// <param name="Bits">The bit width the step and the MSE are for.</param>
/// <param name="Mse">The histogram's estimate of the quantize-dequantize mean squared error at this clip.</param>
/// <param name="Count">The number of values observed.</param>
public sealed record CalibrationResult(float Clip, float Step, float Multiplier, int Bits, double Mse, long Count);
