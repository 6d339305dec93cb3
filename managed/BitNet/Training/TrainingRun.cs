using System.Diagnostics;
using BitNet.Models;

namespace BitNet.Training;

/// <summary>
/// A training run: a <see cref="BitNetTrainer"/>, its data and its options, stepping to
/// <see cref="TrainingOptions.TotalSteps"/>. Each optimizer step zeroes the gradients, runs
/// <see cref="TrainingOptions.GradientAccumulationSteps"/> micro-batches with gradient scale 1/k, clips the global
/// gradient norm, and takes one optimizer step with the schedules' learning rate and weight decay; the validation loss is
/// measured every <see cref="TrainingOptions.EvalEvery"/> steps and checkpoints are written every
/// <see cref="TrainingOptions.CheckpointEvery"/> (<see cref="TrainingCheckpoint"/>). A run resumed from step k's checkpoint
/// (<see cref="Resume(string, ITrainingData, IProgress{TrainingProgress}?, CancellationToken)"/>) gives, bit for bit, the losses
/// and weights of the uninterrupted run.
/// <code>
/// TrainingResult r = TrainingRun.Run(options, data, progress, ct);        // start to finish
/// using var run = TrainingRun.Start(options, data);                       // or step by step, keeping the trainer
/// run.Run(progress, ct);
/// TrainedModelWriter.WritePacked(run.Trainer, "out/", "tokenizer.json");
/// </code>
/// </summary>
public sealed class TrainingRun : IDisposable
{
    private readonly NativeThreadPool _threads;
    private readonly List<TrainingStepRecord> _history;
    private readonly int[] _inputs, _targets;
    private string? _lastCheckpoint;

    private TrainingRun(TrainingOptions options, ITrainingData data, NativeThreadPool threads, BitNetTrainer trainer,
                        long completedSteps, List<TrainingStepRecord> history)
    {
        Options = options;
        Data = data;
        _threads = threads;
        Trainer = trainer;
        CompletedSteps = completedSteps;
        _history = history;
        _inputs = new int[options.Batch * options.SequenceLength];
        _targets = new int[options.Batch * options.SequenceLength];
    }

    /// <summary>The settings.</summary>
    public TrainingOptions Options { get; }

    /// <summary>The data the batches come from.</summary>
    public ITrainingData Data { get; }

    /// <summary>The trainer (its weights are the run's current weights).</summary>
    public BitNetTrainer Trainer { get; }

    /// <summary>Optimizer steps done so far.</summary>
    public long CompletedSteps { get; private set; }

    /// <summary>Every step so far.</summary>
    public IReadOnlyList<TrainingStepRecord> History => _history;

    /// <summary>Trains from scratch (or from <see cref="TrainingOptions.InitialWeights"/>) to the end.</summary>
    public static TrainingResult Run(TrainingOptions options, ITrainingData data, IProgress<TrainingProgress>? progress = null,
                                     CancellationToken cancellationToken = default)
    {
        using TrainingRun run = Start(options, data);
        return run.Run(progress, cancellationToken);
    }

    /// <summary>Continues the run saved in <paramref name="checkpointPath"/> to its end.</summary>
    public static TrainingResult Resume(string checkpointPath, ITrainingData data, IProgress<TrainingProgress>? progress = null,
                                        CancellationToken cancellationToken = default)
    {
        using TrainingRun run = FromCheckpoint(checkpointPath, data);
        return run.Run(progress, cancellationToken);
    }

    /// <summary>Sets up a new run: the trainer, its initial weights, decay exemptions.</summary>
    /// <exception cref="ArgumentException">Options that cannot work, or data whose sequence length or vocabulary does not fit.</exception>
    public static TrainingRun Start(TrainingOptions options, ITrainingData data)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(data);
        options.Validate();
        CheckData(options, data);
        var threads = new NativeThreadPool(options.Threads);
        BitNetTrainer? trainer = null;
        try
        {
            trainer = BitNetTrainer.Create(options.Model, options.Batch, options.SequenceLength, threads);
            if (options.InitialWeights is { } path)
            {
                using BitNetModelFile model = BitNetModelFile.Open(path, new ModelLoadOptions { LoadTokenizer = false });
                trainer.LoadWeights(model);
            }
            else trainer.InitializeRandom(options.Seed);
            trainer.ApplyDecayExemptions(options.Optimizer);
            return new TrainingRun(options, data, threads, trainer, 0, new List<TrainingStepRecord>());
        }
        catch
        {
            trainer?.Dispose();
            threads.Dispose();
            throw;
        }
    }

    /// <summary>Restores a run from a checkpoint: weights, optimizer moments, step, history, options, and the data's
    /// cursor (<see cref="ITrainingData.RestoreState"/>).</summary>
    /// <param name="checkpointPath">A file <see cref="SaveCheckpoint"/> wrote.</param>
    /// <param name="data">The same data the run was started with.</param>
    /// <param name="totalSteps">A new end of the run (null: the checkpoint's; the schedules keep their own lengths).</param>
    /// <param name="threads">A different thread count (null: the checkpoint's); results do not depend on it.</param>
    /// <param name="checkpointDirectory">Where further checkpoints go (null: the checkpoint's own setting).</param>
    /// <exception cref="ModelFormatException">Not a checkpoint this library wrote, or a damaged one.</exception>
    public static TrainingRun FromCheckpoint(string checkpointPath, ITrainingData data, long? totalSteps = null, int? threads = null,
                                             string? checkpointDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        using TrainingCheckpoint checkpoint = TrainingCheckpoint.Open(checkpointPath);
        TrainingOptions options = checkpoint.Options;
        if (totalSteps is long n) options = options with { TotalSteps = n };
        if (threads is int t) options = options with { Threads = t };
        if (checkpointDirectory is not null) options = options with { CheckpointDirectory = checkpointDirectory };
        options.Validate();
        CheckData(options, data);
        var pool = new NativeThreadPool(options.Threads);
        BitNetTrainer? trainer = null;
        try
        {
            trainer = BitNetTrainer.Create(options.Model, options.Batch, options.SequenceLength, pool);
            checkpoint.RestoreInto(trainer);
            trainer.ApplyDecayExemptions(options.Optimizer);
            data.RestoreState(checkpoint.DataState);
            var run = new TrainingRun(options, data, pool, trainer, checkpoint.Step, checkpoint.History.ToList());
            run._lastCheckpoint = Path.GetFullPath(checkpointPath);
            return run;
        }
        catch
        {
            trainer?.Dispose();
            pool.Dispose();
            throw;
        }
    }

    /// <summary>Steps until <see cref="TrainingOptions.TotalSteps"/>, or until <paramref name="cancellationToken"/> is
    /// cancelled (checked between steps: the result then says so, and a checkpoint of the last completed step is written
    /// when a checkpoint directory is set).</summary>
    public TrainingResult Run(IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        bool cancelled = false;
        while (CompletedSteps < Options.TotalSteps)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                cancelled = true;
                break;
            }
            long started = clock.ElapsedTicks;
            TrainingStepRecord record = TakeStep();
            double seconds = (clock.ElapsedTicks - started) / (double)Stopwatch.Frequency;
            long step = CompletedSteps;
            bool last = step == Options.TotalSteps;

            double? validation = null;
            if (Options.EvalEvery > 0 && (step % Options.EvalEvery == 0 || last) && Data.ValidationRows > 0)
            {
                validation = ValidationLoss(Options.EvalRows, new ProgressiveQuantization(Options.ProgressiveQuantizationSteps).BlendAt(step));
                record = record with { ValidationLoss = validation };
                _history[^1] = record;
            }

            string? written = null;
            if (Options.CheckpointDirectory is { } dir && (last || (Options.CheckpointEvery > 0 && step % Options.CheckpointEvery == 0)))
                written = SaveCheckpoint(Path.Combine(dir, CheckpointFileName(step)));

            double tokens = (double)Options.Batch * Options.SequenceLength * Options.GradientAccumulationSteps;
            progress?.Report(new TrainingProgress(step, Options.TotalSteps, record.TrainLoss, validation, record.LearningRate,
                record.WeightDecay, record.GradientNorm, record.Blend, seconds > 0 ? tokens / seconds : 0, clock.Elapsed, written));
        }
        if (cancelled && Options.CheckpointDirectory is { } d && CompletedSteps > 0)
        {
            string path = Path.GetFullPath(Path.Combine(d, CheckpointFileName(CompletedSteps)));
            if (_lastCheckpoint != path) SaveCheckpoint(path);
        }
        return new TrainingResult(CompletedSteps, _history.ToArray(), _lastCheckpoint, cancelled);
    }

    /// <summary>One optimizer step (the next one), recorded in <see cref="History"/>.</summary>
    public TrainingStepRecord TakeStep()
    {
        long s = CompletedSteps; // 0-based index of this step
        float blend = new ProgressiveQuantization(Options.ProgressiveQuantizationSteps).BlendAt(s);
        double lr = Options.LearningRate.At(s), wd = Options.WeightDecay.At(s);
        int k = Options.GradientAccumulationSteps, b = Options.Batch, t = Options.SequenceLength;
        Trainer.ZeroGradients();
        double lossSum = 0;
        for (int micro = 0; micro < k; micro++)
        {
            Data.NextBatch(_inputs, _targets, b);
            lossSum += Trainer.ForwardBackward(_inputs, _targets, b, t, blend, 1f / k);
        }
        double norm = Options.ClipNorm > 0 ? Trainer.ClipGradientNorm(Options.ClipNorm) : Trainer.GradientNorm();
        Trainer.Step(Options.Optimizer, lr, wd, s + 1);
        CompletedSteps = s + 1;
        var record = new TrainingStepRecord(s + 1, lossSum / k, null, lr, wd, norm, blend);
        _history.Add(record);
        return record;
    }

    /// <summary>The mean cross-entropy over the first <paramref name="rows"/> validation rows (0: all), weighted by their
    /// counted targets, at quantization blend <paramref name="blend"/> (default 1: the ternary model).</summary>
    public double ValidationLoss(int rows = 0, float blend = 1f)
    {
        int total = rows <= 0 ? Data.ValidationRows : Math.Min(rows, Data.ValidationRows);
        if (total == 0) throw new InvalidOperationException("the data has no validation rows");
        int t = Options.SequenceLength;
        double sum = 0;
        long count = 0;
        for (int first = 0; first < total; first += Options.Batch)
        {
            int n = Math.Min(Options.Batch, total - first);
            Span<int> inputs = _inputs.AsSpan(0, n * t), targets = _targets.AsSpan(0, n * t);
            Data.ValidationBatch(first, n, inputs, targets);
            EvaluationResult r = Trainer.Evaluate(inputs, targets, n, t, blend);
            sum += (double)r.Loss * r.TargetCount;
            count += r.TargetCount;
        }
        return count == 0 ? double.NaN : sum / count;
    }

    /// <summary>Writes a checkpoint of the current state to <paramref name="path"/> (temporary name, then rename) and
    /// returns its full path.</summary>
    public string SaveCheckpoint(string path)
    {
        string full = Path.GetFullPath(path);
        if (Path.GetDirectoryName(full) is { } dir) Directory.CreateDirectory(dir);
        TrainingCheckpoint.Save(full, Trainer, Options, CompletedSteps, Data.SaveState(), _history);
        _lastCheckpoint = full;
        return full;
    }

    /// <summary>The file name of step <paramref name="step"/>'s checkpoint: <c>checkpoint-00000100.safetensors</c>.</summary>
    public static string CheckpointFileName(long step) => $"checkpoint-{step:D8}.safetensors";

    /// <summary>Releases the trainer and its threads.</summary>
    public void Dispose()
    {
        Trainer.Dispose();
        _threads.Dispose();
    }

    private static void CheckData(TrainingOptions options, ITrainingData data)
    {
        if (data.SequenceLength != options.SequenceLength)
            throw new ArgumentException($"the data serves rows of {data.SequenceLength} tokens, the options ask for {options.SequenceLength}", nameof(data));
        if (data.VocabularySize > options.Model.VocabSize)
            throw new ArgumentException($"the data's vocabulary ({data.VocabularySize}) is larger than the model's ({options.Model.VocabSize})", nameof(data));
    }
}
