namespace BitNet.Quantization;

/// <summary>
/// Something with quantized layers whose inputs can be observed while it runs: the hook a model implements so that its
/// activations can be calibrated. The contract:
/// <list type="bullet">
/// <item><see cref="ActivationSites"/> names every point where activations are quantized, in forward order, after the
/// layer that quantizes them (e.g. <c>model.layers.0.self_attn.q_proj</c>, the tensor name without <c>.weight</c>);
/// layers that share one input (q/k/v, gate/up) may share one site.</item>
/// <item>While an observer is attached, every forward pass calls <see cref="IActivationObserver.Observe"/> once per site
/// and batch with the float input of that site, before it is quantized, [tokens, features].</item>
/// <item><see cref="AttachObserver"/> returns a token whose Dispose detaches the observer; several observers may be
/// attached at once.</item>
/// </list>
/// <code>
/// using var session = new CalibrationSession(new CalibrationOptions { Method = CalibrationMethod.Mse });
/// using (session.Attach(model))
///     foreach (var batch in calibrationData) model.Forward(batch);
/// IReadOnlyDictionary&lt;string, CalibrationResult&gt; clips = session.Compute();
/// </code>
/// </summary>
public interface ICalibrationTarget
{
    /// <summary>The activation sites, in forward order.</summary>
    IReadOnlyList<string> ActivationSites { get; }

    /// <summary>Starts reporting activations to <paramref name="observer"/>; disposing the result stops it.</summary>
    IDisposable AttachObserver(IActivationObserver observer);
}
