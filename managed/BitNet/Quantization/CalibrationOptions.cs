namespace BitNet.Quantization;

/// <summary>Settings of a calibration: the histogram's resolution and how clipping values are chosen from it.</summary>
public sealed record CalibrationOptions
{
    /// <summary>Histogram bins of each <see cref="Calibrator"/>: a power of two in 64..1048576, or 0 for
    /// <see cref="Calibrator.DefaultBins"/>. A bin is between max|x| / Bins and 2 max|x| / Bins wide.</summary>
    public int Bins { get; init; }

    /// <summary>How the clip is chosen (default: <see cref="CalibrationMethod.Percentile"/>).</summary>
    public CalibrationMethod Method { get; init; } = CalibrationMethod.Percentile;

    /// <summary>The bit width the step and the MSE estimate are for, 2..16 (default 8).</summary>
    public int Bits { get; init; } = 8;

    /// <summary>For <see cref="CalibrationMethod.Percentile"/>: the share of |x| kept below the clip, in (0, 100]
    /// (default 99.99).</summary>
    public double Percentile { get; init; } = 99.99;
}
