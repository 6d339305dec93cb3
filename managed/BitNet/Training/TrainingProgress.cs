namespace BitNet.Training;

/// <summary>What a <see cref="TrainingRun"/> reports after each optimizer step.</summary>
/// <param name="Step">Optimizer steps completed (1-based).</param>
/// <param name="TotalSteps">Steps of the whole run.</param>
/// <param name="TrainLoss">Mean cross-entropy of this step's micro-batches.</param>
/// <param name="ValidationLoss">Validation loss, when evaluated at this step; else null.</param>
/// <param name="LearningRate">The learning rate this step used.</param>
/// <param name="WeightDecay">The weight decay this step used.</param>
/// <param name="GradientNorm">The global gradient norm before clipping.</param>
/// <param name="Blend">The quantization blend this step used (1: ternary).</param>
/// <param name="TokensPerSecond">Training tokens per second of this step (forward + backward + update).</param>
/// <param name="Elapsed">Time since this process started the run (or resumed it).</param>
/// <param name="CheckpointPath">The checkpoint written after this step, or null.</param>
public sealed record TrainingProgress(long Step, long TotalSteps, double TrainLoss, double? ValidationLoss,
                                      double LearningRate, double WeightDecay, double GradientNorm, float Blend,
                                      double TokensPerSecond, TimeSpan Elapsed, string? CheckpointPath)
{
    /// <summary>exp(validation loss), when evaluated.</summary>
    public double? ValidationPerplexity => ValidationLoss is double v ? Math.Exp(v) : null;
}
