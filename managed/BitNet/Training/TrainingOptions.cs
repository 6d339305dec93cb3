using BitNet.Models;

namespace BitNet.Training;

/// <summary>
/// Everything a <see cref="TrainingRun"/> needs besides the data. One optimizer step consumes
/// <see cref="GradientAccumulationSteps"/> micro-batches of <see cref="Batch"/> rows of <see cref="SequenceLength"/>
/// tokens. Stored in every checkpoint (as JSON, schedules included), so a resumed run continues with the same settings.
/// <code>
/// var options = new TrainingOptions
/// {
///     Model = ModelPresets.Tiny, TotalSteps = 1000, Batch = 8, SequenceLength = 256,
///     LearningRate = TwoStageSchedule.BitNet2B4TLearningRate(1.5e-3, 1000, warmupSteps: 50),
///     WeightDecay = TwoStageSchedule.BitNet2B4TWeightDecay(1000),
///     EvalEvery = 100, CheckpointEvery = 250, CheckpointDirectory = "runs/tiny",
/// };
/// </code>
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>The model's shape (its LM head tied to the embedding).</summary>
    public required ModelConfig Model { get; init; }

    /// <summary>Rows per micro-batch (default 8).</summary>
    public int Batch { get; init; } = 8;

    /// <summary>Tokens per row; must be the data's <see cref="ITrainingData.SequenceLength"/> (default 256).</summary>
    public int SequenceLength { get; init; } = 256;

    /// <summary>Micro-batches per optimizer step, each with gradient scale 1/k (default 1).</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Optimizer steps of the whole run.</summary>
    public required long TotalSteps { get; init; }

    /// <summary>The optimizer (default AdamW, β = (0.9, 0.95), ε = 1e-8).</summary>
    public OptimizerOptions Optimizer { get; init; } = new AdamWOptions();

    /// <summary>The learning rate per step (default constant 1e-3).</summary>
    public Schedule LearningRate { get; init; } = new ConstantSchedule(1e-3);

    /// <summary>The weight decay per step (default constant 0.1).</summary>
    public Schedule WeightDecay { get; init; } = new ConstantSchedule(0.1);

    /// <summary>The largest global gradient norm; larger gradients are scaled down to it (default 1; 0: no clipping).</summary>
    public double ClipNorm { get; init; } = 1.0;

    /// <summary>Steps over which the quantization blend rises from 0 to 1 (<see cref="ProgressiveQuantization"/>;
    /// default 0: ternary from the start).</summary>
    public long ProgressiveQuantizationSteps { get; init; }

    /// <summary>Validation loss every N steps and after the last one (0: never).</summary>
    public long EvalEvery { get; init; }

    /// <summary>Validation rows evaluated each time (0: all of the data's <see cref="ITrainingData.ValidationRows"/>).</summary>
    public int EvalRows { get; init; }

    /// <summary>A checkpoint every N steps and after the last one (0: only after the last one, and only when
    /// <see cref="CheckpointDirectory"/> is set).</summary>
    public long CheckpointEvery { get; init; }

    /// <summary>Where checkpoints go (<c>checkpoint-00000100.safetensors</c>); null: none are written.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>The seed of the weight initialisation (<see cref="BitNetTrainer.InitializeRandom"/>).</summary>
    public ulong Seed { get; init; }

    /// <summary>Threads of the native pool (0: one per logical core). Results do not depend on it.</summary>
    public int Threads { get; init; }

    /// <summary>A model (HF folder or GGUF file) whose weights start the run instead of the random initialisation
    /// (fine-tuning); null: <see cref="BitNetTrainer.InitializeRandom"/> with <see cref="Seed"/>.</summary>
    public string? InitialWeights { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that cannot work.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Model, nameof(Model));
        ArgumentNullException.ThrowIfNull(Optimizer, nameof(Optimizer));
        ArgumentNullException.ThrowIfNull(LearningRate, nameof(LearningRate));
        ArgumentNullException.ThrowIfNull(WeightDecay, nameof(WeightDecay));
        static void Require(bool ok, string message)
        {
            if (!ok) throw new ArgumentException(message);
        }
        Require(Batch >= 1, $"Batch must be at least 1, not {Batch}");
        Require(SequenceLength >= 1 && SequenceLength <= Model.MaxPositionEmbeddings,
            $"SequenceLength must be 1 .. {Model.MaxPositionEmbeddings} (the model's max_position_embeddings), not {SequenceLength}");
        Require(GradientAccumulationSteps >= 1, $"GradientAccumulationSteps must be at least 1, not {GradientAccumulationSteps}");
        Require(TotalSteps >= 1, $"TotalSteps must be at least 1, not {TotalSteps}");
        Require(double.IsFinite(ClipNorm) && ClipNorm >= 0, $"ClipNorm must be a finite number >= 0, not {ClipNorm}");
        Require(ProgressiveQuantizationSteps >= 0, "ProgressiveQuantizationSteps must be >= 0");
        Require(EvalEvery >= 0 && EvalRows >= 0 && CheckpointEvery >= 0, "EvalEvery, EvalRows and CheckpointEvery must be >= 0");
        Require(Threads >= 0, $"Threads must be >= 0, not {Threads}");
        Require(Model.TieWordEmbeddings, "the model's LM head must be tied to the embedding (BitNet b1.58)");
        switch (Optimizer)
        {
            case AdamWOptions a:
                Require(a.Beta1 is >= 0 and < 1 && a.Beta2 is >= 0 and < 1, $"AdamW betas must be in [0, 1), not ({a.Beta1}, {a.Beta2})");
                Require(a.Epsilon > 0, $"AdamW epsilon must be positive, not {a.Epsilon}");
                break;
            case SgdOptions s:
                Require(s.Momentum >= 0 && double.IsFinite(s.Momentum), $"SGD momentum must be >= 0, not {s.Momentum}");
                Require(!s.Nesterov || s.Momentum > 0, "Nesterov momentum needs a momentum above 0");
                break;
        }
    }
}
