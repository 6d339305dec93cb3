using BitNet.Interop;

namespace BitNet.Quantization;

/// <summary>How a <see cref="Calibrator"/> turns what it observed into a symmetric clipping value.</summary>
public enum CalibrationMethod
{
    /// <summary>The running max |x| (exact).</summary>
    AbsMax = BnCalibMethod.Absmax,

    /// <summary>The upper edge of the histogram bin where the cumulative share of |x| reaches the percentile, capped at
    /// max |x|: at most one bin width above the true percentile.</summary>
    Percentile = BnCalibMethod.Percentile,

    /// <summary>The clip that minimises the estimated mean squared error of symmetric quantize-dequantize at the given bit
    /// width (values above the clip saturate), estimated over the histogram.</summary>
    Mse = BnCalibMethod.Mse,
}
