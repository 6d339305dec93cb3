using System.Globalization;
using System.Text.Json;

namespace BitNet.Training;

/// <summary>
/// A value that changes over the optimizer steps of a run: the learning rate, or the weight decay.
/// <c>step</c> is the 0-based index of the optimizer step about to be taken (0 for the first), as PyTorch's
/// <c>LambdaLR</c> counts. Schedules are immutable and pure, so a resumed run gets the same values as an uninterrupted
/// one, and they round-trip through the JSON stored in checkpoints (<see cref="ToJson"/> / <see cref="FromJson"/>).
/// </summary>
public abstract class Schedule
{
    private protected Schedule() { }

    /// <summary>The value at 0-based optimizer step <paramref name="step"/>.</summary>
    public abstract double At(long step);

    /// <summary>The schedule as a JSON object with a "type" member.</summary>
    public string ToJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) Write(w);
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>Reads what <see cref="ToJson"/> wrote.</summary>
    /// <exception cref="FormatException">Not a schedule this library writes.</exception>
    public static Schedule FromJson(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return Read(doc.RootElement);
        }
        catch (JsonException e)
        {
            throw new FormatException($"not a schedule: {e.Message}", e);
        }
    }

    internal abstract void Write(Utf8JsonWriter w);

    internal static Schedule Read(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw new FormatException("a schedule is a JSON object with a string 'type'");
        double D(string key) => e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number
            ? v.GetDouble() : throw new FormatException($"schedule '{type.GetString()}': missing number '{key}'");
        long L(string key) => e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long l)
            ? l : throw new FormatException($"schedule '{type.GetString()}': missing integer '{key}'");
        return type.GetString() switch
        {
            "constant" => new ConstantSchedule(D("value")),
            "linear_warmup_cosine" => new LinearWarmupCosineSchedule(D("peak"), L("warmup_steps"), L("total_steps"), D("min_ratio")),
            "step_decay" => new StepDecaySchedule(D("initial"), L("every"), D("gamma")),
            "two_stage" => new TwoStageSchedule(D("stage1_peak"), D("stage1_final"), D("stage2_peak"), D("stage2_final"),
                                                L("warmup_steps"), L("switch_step"), L("total_steps")),
            var other => throw new FormatException($"unknown schedule type '{other}'"),
        };
    }

    /// <summary>Half a cosine from <paramref name="from"/> (progress 0) to <paramref name="to"/> (progress 1).</summary>
    private protected static double Cosine(double from, double to, double progress)
    {
        progress = Math.Clamp(progress, 0, 1);
        return to + (from - to) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }

    private protected static void RequireFinite(double value, string name)
    {
        if (!double.IsFinite(value)) throw new ArgumentOutOfRangeException(name, value, "must be a finite number");
    }

    /// <inheritdoc />
    public override string ToString() => ToJson();

    private protected static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>The same value at every step.</summary>
public sealed class ConstantSchedule : Schedule
{
    /// <summary>A schedule that is always <paramref name="value"/>.</summary>
    public ConstantSchedule(double value)
    {
        RequireFinite(value, nameof(value));
        Value = value;
    }

    /// <summary>The value.</summary>
    public double Value { get; }

    /// <inheritdoc />
    public override double At(long step) => Value;

    internal override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "constant");
        w.WriteNumber("value", Value);
        w.WriteEndObject();
    }
}

/// <summary>
/// Linear warmup then cosine decay (nanoGPT / llm.c): <c>peak · (step+1)/warmup</c> for step &lt; warmup; then half a
/// cosine from <c>peak</c> down to <c>peak · minRatio</c> reached at <c>totalSteps</c> - 1, and held after it.
/// </summary>
public sealed class LinearWarmupCosineSchedule : Schedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="peak">The value at the end of the warmup.</param>
    /// <param name="warmupSteps">Steps of linear warmup (0: start at the peak).</param>
    /// <param name="totalSteps">The run's length; the minimum is reached at its last step.</param>
    /// <param name="minRatio">The final value as a fraction of the peak (e.g. 0.1).</param>
    public LinearWarmupCosineSchedule(double peak, long warmupSteps, long totalSteps, double minRatio = 0.1)
    {
        RequireFinite(peak, nameof(peak));
        RequireFinite(minRatio, nameof(minRatio));
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 1);
        Peak = peak;
        WarmupSteps = warmupSteps;
        TotalSteps = totalSteps;
        MinRatio = minRatio;
    }

    /// <summary>The value at the end of the warmup.</summary>
    public double Peak { get; }
    /// <summary>Steps of linear warmup.</summary>
    public long WarmupSteps { get; }
    /// <summary>The run's length in steps.</summary>
    public long TotalSteps { get; }
    /// <summary>Final value / peak.</summary>
    public double MinRatio { get; }

    /// <inheritdoc />
    public override double At(long step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        long span = TotalSteps - 1 - WarmupSteps;
        double progress = span <= 0 ? 1 : (double)(step - WarmupSteps) / span;
        return Cosine(Peak, Peak * MinRatio, progress);
    }

    internal override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "linear_warmup_cosine");
        w.WriteNumber("peak", Peak);
        w.WriteNumber("warmup_steps", WarmupSteps);
        w.WriteNumber("total_steps", TotalSteps);
        w.WriteNumber("min_ratio", MinRatio);
        w.WriteEndObject();
    }
}

/// <summary>Step decay (<c>torch.optim.lr_scheduler.StepLR</c>): <c>initial · gamma^⌊step / every⌋</c>.</summary>
public sealed class StepDecaySchedule : Schedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="initial">The value for the first <paramref name="every"/> steps.</param>
    /// <param name="every">Steps between decays (at least 1).</param>
    /// <param name="gamma">The factor applied at each decay.</param>
    public StepDecaySchedule(double initial, long every, double gamma)
    {
        RequireFinite(initial, nameof(initial));
        RequireFinite(gamma, nameof(gamma));
        ArgumentOutOfRangeException.ThrowIfLessThan(every, 1);
        Initial = initial;
        Every = every;
        Gamma = gamma;
    }

    /// <summary>The starting value.</summary>
    public double Initial { get; }
    /// <summary>Steps between decays.</summary>
    public long Every { get; }
    /// <summary>The decay factor.</summary>
    public double Gamma { get; }

    /// <inheritdoc />
    public override double At(long step) => Initial * Math.Pow(Gamma, Math.Max(0, step) / Every);

    internal override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "step_decay");
        w.WriteNumber("initial", Initial);
        w.WriteNumber("every", Every);
        w.WriteNumber("gamma", Gamma);
        w.WriteEndObject();
    }
}
