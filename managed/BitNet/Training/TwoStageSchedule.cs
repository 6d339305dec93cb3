using System.Text.Json;

namespace BitNet.Training;

/// <summary>
/// The two-stage schedule of the BitNet b1.58 2B4T technical report (Ma et al., arXiv:2504.12285, §3.1
/// "Pre-training"): stage 1 is a standard cosine decay started from a relatively high peak (1-bit models tolerate it);
/// about midway through the run the value drops abruptly and stage 2 ("cooldown") follows a cosine from a much lower
/// peak. The report's weight decay follows the same two stages: a cosine with peak 0.1 in stage 1, and 0 (disabled) in
/// stage 2, so the model settles on fine-grained, high-quality data without decay pulling the latent weights.
/// <para>What is implemented (the report gives the shape, not the numbers):</para>
/// <list type="bullet">
/// <item>step &lt; warmup: <c>stage1Peak · (step+1)/warmup</c> (linear warmup);</item>
/// <item>warmup ≤ step &lt; switch: the cosine that would go from <c>stage1Peak</c> (end of warmup) to <c>stage1Final</c>
/// (last step of the whole run), cut off at the switch (at the midpoint it is halfway down);</item>
/// <item>switch ≤ step: a cosine from <c>stage2Peak</c> (at the switch) to <c>stage2Final</c> (last step), held after it.</item>
/// </list>
/// <see cref="BitNet2B4TLearningRate"/> and <see cref="BitNet2B4TWeightDecay"/> give this library's defaults for the two.
/// </summary>
public sealed class TwoStageSchedule : Schedule
{
    /// <summary>Creates the schedule (see the class remarks for the formula).</summary>
    public TwoStageSchedule(double stage1Peak, double stage1Final, double stage2Peak, double stage2Final,
                            long warmupSteps, long switchStep, long totalSteps)
    {
        RequireFinite(stage1Peak, nameof(stage1Peak));
        RequireFinite(stage1Final, nameof(stage1Final));
        RequireFinite(stage2Peak, nameof(stage2Peak));
        RequireFinite(stage2Final, nameof(stage2Final));
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(switchStep, warmupSteps);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(switchStep, totalSteps);
        Stage1Peak = stage1Peak;
        Stage1Final = stage1Final;
        Stage2Peak = stage2Peak;
        Stage2Final = stage2Final;
        WarmupSteps = warmupSteps;
        SwitchStep = switchStep;
        TotalSteps = totalSteps;
    }

    /// <summary>The learning rate of the report's recipe as this library sets it: warmup to <paramref name="peak"/>, the
    /// stage-1 cosine aimed at 0.1 × peak over the whole run, the switch at the midpoint, and stage 2 a cosine from
    /// peak / 3 to 0 (the ratio of the b1.58 "Training Tips, Code and FAQ" table, 1.5e-3 then 5e-4 to 0).</summary>
    public static TwoStageSchedule BitNet2B4TLearningRate(double peak, long totalSteps, long warmupSteps = 0) =>
        new(peak, 0.1 * peak, peak / 3, 0, warmupSteps, Math.Max(warmupSteps, totalSteps / 2), totalSteps);

    /// <summary>The report's weight decay: stage 1 a cosine from <paramref name="peak"/> (0.1 in the report) aimed at 0
    /// over the whole run (so 0.05 at the switch), stage 2 zero; the switch at the midpoint.</summary>
    public static TwoStageSchedule BitNet2B4TWeightDecay(long totalSteps, double peak = 0.1) =>
        new(peak, 0, 0, 0, 0, totalSteps / 2, totalSteps);

    /// <summary>The value at the end of the warmup.</summary>
    public double Stage1Peak { get; }
    /// <summary>Where the stage-1 cosine would end at the last step of the run.</summary>
    public double Stage1Final { get; }
    /// <summary>The value at the switch.</summary>
    public double Stage2Peak { get; }
    /// <summary>The value at the last step.</summary>
    public double Stage2Final { get; }
    /// <summary>Steps of linear warmup.</summary>
    public long WarmupSteps { get; }
    /// <summary>The first step of stage 2.</summary>
    public long SwitchStep { get; }
    /// <summary>The run's length in steps.</summary>
    public long TotalSteps { get; }

    /// <inheritdoc />
    public override double At(long step)
    {
        if (step < WarmupSteps) return Stage1Peak * (step + 1) / WarmupSteps;
        long last = TotalSteps - 1;
        if (step < SwitchStep)
        {
            long span = last - WarmupSteps;
            return Cosine(Stage1Peak, Stage1Final, span <= 0 ? 1 : (double)(step - WarmupSteps) / span);
        }
        long span2 = last - SwitchStep;
        return Cosine(Stage2Peak, Stage2Final, span2 <= 0 ? 1 : (double)(step - SwitchStep) / span2);
    }

    internal override void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "two_stage");
        w.WriteNumber("stage1_peak", Stage1Peak);
        w.WriteNumber("stage1_final", Stage1Final);
        w.WriteNumber("stage2_peak", Stage2Peak);
        w.WriteNumber("stage2_final", Stage2Final);
        w.WriteNumber("warmup_steps", WarmupSteps);
        w.WriteNumber("switch_step", SwitchStep);
        w.WriteNumber("total_steps", TotalSteps);
        w.WriteEndObject();
    }
}
