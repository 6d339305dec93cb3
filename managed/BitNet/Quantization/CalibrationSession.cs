using System.Collections.Concurrent;

namespace BitNet.Quantization;

/// <summary>
/// Calibrates every activation site of one or more <see cref="ICalibrationTarget"/>s: one <see cref="Calibrator"/> per
/// site, fed by the target's forward passes while the session is attached, and one <see cref="CalibrationResult"/> per
/// site from <see cref="Compute()"/>. Thread-safe. Disposing it frees every calibrator.
/// </summary>
public sealed class CalibrationSession : IActivationObserver, IDisposable
{
    private readonly ConcurrentDictionary<string, Calibrator> _calibrators = new(StringComparer.Ordinal);
    private readonly Lock _create = new();
    private volatile bool _disposed;

    /// <summary>A session whose calibrators follow <paramref name="options"/> (default: <see cref="CalibrationOptions"/>'s
    /// defaults).</summary>
    public CalibrationSession(CalibrationOptions? options = null) => Options = options ?? new CalibrationOptions();

    /// <summary>The histogram size and the method, bits and percentile of <see cref="Compute()"/>.</summary>
    public CalibrationOptions Options { get; }

    /// <summary>The sites seen so far (declared by an attached target or observed), in no particular order.</summary>
    public IReadOnlyCollection<string> Sites => _calibrators.Keys.ToArray();

    /// <summary>The calibrator of <paramref name="site"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such site.</exception>
    public Calibrator this[string site] => _calibrators[site];

    /// <summary>Creates a calibrator for each of <paramref name="target"/>'s sites and attaches the session to it; dispose
    /// the result to detach.</summary>
    /// <exception cref="BitNetException"><see cref="CalibrationOptions.Bins"/> is not valid.</exception>
    public IDisposable Attach(ICalibrationTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        foreach (string site in target.ActivationSites) CalibratorFor(site);
        return target.AttachObserver(this);
    }

    /// <summary>Feeds <paramref name="activations"/> to the calibrator of <paramref name="site"/> (created on first use).</summary>
    /// <inheritdoc cref="Calibrator.Observe(ReadOnlySpan{float}, int, int)"/>
    public void Observe(string site, ReadOnlySpan<float> activations, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(site);
        CalibratorFor(site).Observe(activations, rows, cols);
    }

    /// <summary>The result of <see cref="Options"/>' method for every site that has observed something.</summary>
    public IReadOnlyDictionary<string, CalibrationResult> Compute()
    {
        var results = new Dictionary<string, CalibrationResult>(StringComparer.Ordinal);
        foreach (var (site, calibrator) in _calibrators)
            if (calibrator.Count > 0) results[site] = calibrator.Compute(Options);
        return results;
    }

    /// <summary>Frees every calibrator.</summary>
    public void Dispose()
    {
        lock (_create)
        {
            _disposed = true;
            foreach (var c in _calibrators.Values) c.Dispose();
        }
    }

    private Calibrator CalibratorFor(string site)
    {
        if (_calibrators.TryGetValue(site, out var c)) return c;
        lock (_create) // one native calibrator per site, never a second one that would be dropped
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _calibrators.GetOrAdd(site, _ => new Calibrator(Options.Bins));
        }
    }
}
