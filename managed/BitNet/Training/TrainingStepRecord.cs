namespace BitNet.Training;

/// <summary>One optimizer step in a run's history (for plotting; kept in checkpoints).</summary>
/// <param name="Step">The step (1-based).</param>
/// <param name="TrainLoss">Mean cross-entropy of its micro-batches.</param>
/// <param name="ValidationLoss">The validation loss after it, or null when not evaluated.</param>
/// <param name="LearningRate">Its learning rate.</param>
/// <param name="WeightDecay">Its weight decay.</param>
/// <param name="GradientNorm">Its global gradient norm before clipping.</param>
/// <param name="Blend">Its quantization blend.</param>
public sealed record TrainingStepRecord(long Step, double TrainLoss, double? ValidationLoss, double LearningRate,
                                        double WeightDecay, double GradientNorm, float Blend);
