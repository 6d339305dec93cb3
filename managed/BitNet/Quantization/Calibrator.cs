using BitNet.Interop;

namespace BitNet.Quantization;

/// <summary>
/// libbitnet's activation calibrator (<c>bn_calibrator</c>): it observes batches of float activations and proposes a
/// symmetric clipping value by <see cref="CalibrationMethod"/>. It keeps the exact running max |x| and a histogram of
/// |x| over [0, R) with R the smallest power of two &gt;= max |x|; when R grows, pairs of bins merge, so the order of
/// batches never changes the result. Thread-safe: calls are serialised.
/// </summary>
public sealed class Calibrator : IDisposable
{
    /// <summary>The bins a calibrator has when none are asked for.</summary>
    public const int DefaultBins = 8192;

    private readonly CalibratorHandle _handle;
    private readonly Lock _lock = new();

    /// <summary>Creates an empty calibrator.</summary>
    /// <param name="bins">Histogram bins: a power of two in 64..1048576, or 0 for <see cref="DefaultBins"/>.</param>
    /// <exception cref="BitNetException">Any other number of bins (<see cref="BnStatus.ErrInvalidArgument"/>).</exception>
    public Calibrator(int bins = 0)
    {
        _handle = CalibratorHandle.Create(bins);
        Bins = bins == 0 ? DefaultBins : bins;
    }

    /// <summary>The number of histogram bins.</summary>
    public int Bins { get; }

    /// <summary>The number of values observed since creation or the last <see cref="Reset"/>.</summary>
    public long Count
    {
        get
        {
            lock (_lock) return _count;
        }
    }

    private long _count;

    /// <summary>Observes [<paramref name="rows"/>, <paramref name="cols"/>] activations (either may be 0). A batch with a NaN
    /// or infinity is refused whole and changes nothing.</summary>
    /// <exception cref="ArgumentException">A negative dimension, or <paramref name="activations"/> is not rows * cols long.</exception>
    /// <exception cref="BitNetException">A NaN or infinity (<see cref="BnStatus.ErrNumeric"/>, naming its row and column).</exception>
    /// <exception cref="ObjectDisposedException">The calibrator is disposed.</exception>
    public unsafe void Observe(ReadOnlySpan<float> activations, int rows, int cols)
    {
        long n = TensorArguments.Count(rows, cols);
        TensorArguments.RequireLength(activations, n, rows, cols, nameof(activations));
        lock (_lock)
        {
            using var use = Use();
            fixed (float* x = activations)
                BitNetException.Check(NativeMethods.bn_calibrator_observe(_handle.Native, x, rows, cols));
            _count += n;
        }
    }

    /// <summary>Observes a flat batch of activations.</summary>
    /// <inheritdoc cref="Observe(ReadOnlySpan{float}, int, int)"/>
    public void Observe(ReadOnlySpan<float> activations) => Observe(activations, 1, activations.Length);

    /// <summary>Forgets every observation.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            using var use = Use();
            BitNetException.Check(NativeMethods.bn_calibrator_reset(_handle.Native));
            _count = 0;
        }
    }

    /// <summary>The clipping value <paramref name="method"/> proposes for what was observed so far, with the step and MSE of
    /// symmetric <paramref name="bits"/>-bit quantization at that clip.</summary>
    /// <param name="method">How to choose the clip.</param>
    /// <param name="bits">2..16.</param>
    /// <param name="percentile">For <see cref="CalibrationMethod.Percentile"/>: in (0, 100]; ignored otherwise.</param>
    /// <exception cref="BitNetException">Nothing observed yet, bits outside 2..16, or a percentile outside (0, 100]
    /// (<see cref="BnStatus.ErrInvalidArgument"/>).</exception>
    public unsafe CalibrationResult Compute(CalibrationMethod method, int bits = 8, double percentile = 99.99)
    {
        BnCalibResult r;
        lock (_lock)
        {
            using var use = Use();
            BitNetException.Check(NativeMethods.bn_calibrator_compute(_handle.Native, (BnCalibMethod)method, percentile, bits, &r));
        }
        return new CalibrationResult(r.Clip, r.Step, r.Multiplier, r.Bits, r.Mse, r.Count);
    }

    /// <summary>The clip that <paramref name="options"/>' method, bit width and percentile propose.</summary>
    /// <inheritdoc cref="Compute(CalibrationMethod, int, double)"/>
    public CalibrationResult Compute(CalibrationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Compute(options.Method, options.Bits, options.Percentile);
    }

    /// <summary>Frees the native calibrator.</summary>
    public void Dispose() => _handle.Dispose();

    private HandleReference Use()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        return new(_handle);
    }
}
