namespace BitNet.Training;

/// <summary>What <see cref="TrainingRun.Run(IProgress{TrainingProgress}?, CancellationToken)"/> did.</summary>
/// <param name="CompletedSteps">Optimizer steps done in total (including those before a resume).</param>
/// <param name="History">Every step's losses and settings, from step 1 (including those before a resume).</param>
/// <param name="LastCheckpoint">The last checkpoint written, or null.</param>
/// <param name="Cancelled">True when the token stopped the run before <see cref="TrainingOptions.TotalSteps"/>.</param>
public sealed record TrainingResult(long CompletedSteps, IReadOnlyList<TrainingStepRecord> History, string? LastCheckpoint, bool Cancelled)
{
    /// <summary>The last step's training loss (NaN before any step).</summary>
    public double FinalTrainLoss => History.Count > 0 ? History[^1].TrainLoss : double.NaN;

    /// <summary>The last validation loss measured, or null.</summary>
    public double? FinalValidationLoss => History.LastOrDefault(h => h.ValidationLoss is not null)?.ValidationLoss;
}
