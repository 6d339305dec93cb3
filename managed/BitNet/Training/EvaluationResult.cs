namespace BitNet.Training;

/// <summary>What <see cref="BitNetTrainer.Evaluate"/> measured.</summary>
/// <param name="Loss">Mean cross-entropy (nats) over the counted targets.</param>
/// <param name="TargetCount">Targets counted (those not -1).</param>
public readonly record struct EvaluationResult(float Loss, long TargetCount);
