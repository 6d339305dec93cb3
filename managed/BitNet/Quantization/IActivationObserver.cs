namespace BitNet.Quantization;

/// <summary>
/// Receives the float activations that enter a quantized layer during a forward pass, before they are quantized; the
/// other half of <see cref="ICalibrationTarget"/>. <see cref="CalibrationSession"/> is the observer that calibrates.
/// </summary>
public interface IActivationObserver
{
    /// <summary>Called by the forward pass with one layer's input activations.</summary>
    /// <param name="site">The layer, one of <see cref="ICalibrationTarget.ActivationSites"/>.</param>
    /// <param name="activations">[<paramref name="rows"/>, <paramref name="cols"/>] values, token after token; valid only
    /// during the call (copy what must outlive it).</param>
    /// <param name="rows">Tokens.</param>
    /// <param name="cols">Features.</param>
    /// <remarks>May be called from several threads at once when the target runs layers in parallel, and must not throw
    /// unless the forward pass should fail.</remarks>
    void Observe(string site, ReadOnlySpan<float> activations, int rows, int cols);
}
