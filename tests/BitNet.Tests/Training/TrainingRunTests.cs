using BitNet.Models;
using BitNet.Training;

namespace BitNet.Tests.Training;

/// <summary>Training runs: the step loop (accumulation, clipping, schedules, validation), checkpoints and their round
/// trip, and that a run resumed from a checkpoint is bit-identical to the uninterrupted one.</summary>
public sealed class TrainingRunTests
{
    private string _temp = null!;

    [SetUp]
    public void CreateTemp()
    {
        _temp = Path.Combine(Path.GetTempPath(), "bitnet-train-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_temp);
    }

    [TearDown]
    public void DeleteTemp()
    {
        if (Directory.Exists(_temp)) Directory.Delete(_temp, recursive: true);
    }

    private TrainingOptions Options(string dir, long total = 10) => new()
    {
        Model = TrainingTestModels.Small(),
        Batch = 2,
        SequenceLength = 16,
        GradientAccumulationSteps = 2,
        TotalSteps = total,
        Optimizer = new AdamWOptions { ExemptNormsFromDecay = true },
        LearningRate = new LinearWarmupCosineSchedule(3e-3, 2, total, 0.1),
        WeightDecay = TwoStageSchedule.BitNet2B4TWeightDecay(total),
        ClipNorm = 1.0,
        ProgressiveQuantizationSteps = 4,
        EvalEvery = 3,
        CheckpointEvery = 5,
        CheckpointDirectory = dir,
        Seed = 11,
        Threads = 2,
    };

    private static SyntheticTrainingData Data() => new(96, 16, validationRows: 3);

    [Test]
    public void Run_RecordsEveryStep_WithTheSchedulesValues_AndLowersTheLoss()
    {
        TrainingOptions o = Options(Path.Combine(_temp, "run"), total: 12) with { LearningRate = new ConstantSchedule(3e-3) };
        var reports = new List<TrainingProgress>();
        TrainingResult r = TrainingRun.Run(o, Data(), new SynchronousProgress<TrainingProgress>(reports.Add));
        Assert.That(r.CompletedSteps, Is.EqualTo(12));
        Assert.That(r.Cancelled, Is.False);
        Assert.That(r.History.Select(h => h.Step), Is.EqualTo(Enumerable.Range(1, 12).Select(i => (long)i)));
        Assert.That(reports.Select(p => p.Step), Is.EqualTo(Enumerable.Range(1, 12).Select(i => (long)i)));
        for (int i = 0; i < 12; i++)
        {
            TrainingStepRecord h = r.History[i];
            Assert.That(h.WeightDecay, Is.EqualTo(o.WeightDecay.At(i)));
            Assert.That(h.Blend, Is.EqualTo(Math.Min(1f, i / 4f)));
            Assert.That(h.ValidationLoss is not null, Is.EqualTo((i + 1) % 3 == 0), $"validation at step {i + 1}");
            Assert.That(h.TrainLoss, Is.GreaterThan(0));
        }
        Assert.That(reports.Where(p => p.CheckpointPath is not null).Select(p => p.Step), Is.EqualTo(new long[] { 5, 10, 12 }));
        Assert.That(File.Exists(Path.Combine(o.CheckpointDirectory!, "checkpoint-00000005.safetensors")));
        Assert.That(r.LastCheckpoint, Does.EndWith("checkpoint-00000012.safetensors"));
        double firstVal = r.History[2].ValidationLoss!.Value, lastVal = r.FinalValidationLoss!.Value;
        TestContext.Out.WriteLine($"train {r.History[0].TrainLoss:F4} -> {r.FinalTrainLoss:F4}, validation {firstVal:F4} -> {lastVal:F4}");
        Assert.That(lastVal, Is.LessThan(firstVal));
    }

    [Test]
    public void Checkpoint_RoundTripsWeightsMomentsOptionsAndHistory()
    {
        TrainingOptions o = Options(Path.Combine(_temp, "ck")) with
        {
            Optimizer = new SgdOptions { Momentum = 0.9, Nesterov = true, ExemptEmbeddingFromDecay = true },
            LearningRate = TwoStageSchedule.BitNet2B4TLearningRate(0.05, 10, 2),
        };
        var data = Data();
        using var run = TrainingRun.Start(o, data);
        for (int i = 0; i < 3; i++) run.TakeStep();
        string path = run.SaveCheckpoint(Path.Combine(_temp, "one.safetensors"));
        Assert.That(Directory.GetFiles(_temp), Is.EquivalentTo(new[] { path }), "no temporary file left behind");

        using (TrainingCheckpoint ck = TrainingCheckpoint.Open(path))
        {
            Assert.That(ck.Step, Is.EqualTo(3));
            Assert.That(ck.History, Is.EqualTo(run.History));
            Assert.That(ck.DataState, Is.EqualTo(data.SaveState()));
            Assert.That(TrainedModelWriter.MasterConfigJson(ck.Options.Model), Is.EqualTo(TrainedModelWriter.MasterConfigJson(o.Model)));
            Assert.That(ck.Options.Optimizer, Is.EqualTo(o.Optimizer));
            Assert.That(ck.Options.LearningRate.ToJson(), Is.EqualTo(o.LearningRate.ToJson()));
            Assert.That(ck.Options.WeightDecay.ToJson(), Is.EqualTo(o.WeightDecay.ToJson()));
            Assert.That(ck.Options with { Model = o.Model, Optimizer = o.Optimizer, LearningRate = o.LearningRate, WeightDecay = o.WeightDecay },
                Is.EqualTo(o));
            foreach (TrainerTensor t in run.Trainer.Tensors)
                Assert.That(ck.ReadWeights(t.Name), Is.EqualTo(run.Trainer.ReadTensor(t, TrainBuffer.Parameters)), t.Name);
        }

        using var restored = TrainingRun.FromCheckpoint(path, Data());
        Assert.That(restored.CompletedSteps, Is.EqualTo(3));
        foreach (TrainerTensor t in run.Trainer.Tensors)
        {
            Assert.That(restored.Trainer.ReadTensor(t, TrainBuffer.Parameters), Is.EqualTo(run.Trainer.ReadTensor(t, TrainBuffer.Parameters)), t.Name);
            Assert.That(restored.Trainer.ReadTensor(t, TrainBuffer.FirstMoment), Is.EqualTo(run.Trainer.ReadTensor(t, TrainBuffer.FirstMoment)), t.Name + " momentum");
            Assert.That(restored.Trainer.ReadTensor(t, TrainBuffer.FirstMoment), Has.Some.Not.EqualTo(0f), t.Name + " momentum is non-trivial");
        }
        Assert.That(restored.Data.SaveState(), Is.EqualTo(data.SaveState()), "the data cursor is restored");
    }

    [TestCase(2, TestName = "Resume_FromStep5_IsBitIdenticalToTheUninterruptedRun")]
    [TestCase(1, TestName = "Resume_FromStep5_OnAnotherThreadCount_IsBitIdentical")]
    public void Resume_FromStep5_IsBitIdentical(int resumeThreads)
    {
        string dirA = Path.Combine(_temp, "a"), dirB = Path.Combine(_temp, "b");
        using var full = TrainingRun.Start(Options(dirA), Data());
        TrainingResult a = full.Run();
        Assert.That(a.CompletedSteps, Is.EqualTo(10));

        using var resumed = TrainingRun.FromCheckpoint(Path.Combine(dirA, TrainingRun.CheckpointFileName(5)), Data(),
            threads: resumeThreads, checkpointDirectory: dirB);
        Assert.That(resumed.CompletedSteps, Is.EqualTo(5));
        TrainingResult b = resumed.Run();

        Assert.That(b.CompletedSteps, Is.EqualTo(10));
        Assert.That(b.History, Is.EqualTo(a.History), "train and validation losses, gradient norms: bit for bit");
        foreach (TrainerTensor t in full.Trainer.Tensors)
        {
            foreach (TrainBuffer which in new[] { TrainBuffer.Parameters, TrainBuffer.FirstMoment, TrainBuffer.SecondMoment })
                Assert.That(resumed.Trainer.ReadTensor(t, which), Is.EqualTo(full.Trainer.ReadTensor(t, which)), $"{t.Name} {which}");
        }
        // both runs wrote step 10's checkpoint: the same bytes, except the directory named in the options
        using var ca = TrainingCheckpoint.Open(Path.Combine(dirA, TrainingRun.CheckpointFileName(10)));
        using var cb = TrainingCheckpoint.Open(Path.Combine(dirB, TrainingRun.CheckpointFileName(10)));
        Assert.That(cb.History, Is.EqualTo(ca.History));
    }

    [Test]
    public void Resume_FromACheckpointOfAnotherRunsData_Throws()
    {
        using var run = TrainingRun.Start(Options(Path.Combine(_temp, "x")), Data());
        run.TakeStep();
        string path = run.SaveCheckpoint(Path.Combine(_temp, "x.safetensors"));
        Assert.Throws<ArgumentException>(() => TrainingRun.FromCheckpoint(path, new SyntheticTrainingData(96, 24)));
    }

    [Test]
    public void Open_RejectsFilesThatAreNotCheckpoints()
    {
        string model = Path.Combine(RepositoryPaths.Fixture("bitnet-tiny", "master"), "model.safetensors");
        Assert.Throws<ModelFormatException>(() => TrainingCheckpoint.Open(model));
        Assert.Throws<FileNotFoundException>(() => TrainingCheckpoint.Open(Path.Combine(_temp, "none.safetensors")));
    }

    [Test]
    public void Cancellation_StopsBetweenSteps_AndCheckpoints()
    {
        using var cts = new CancellationTokenSource();
        TrainingOptions o = Options(Path.Combine(_temp, "c"));
        using var run = TrainingRun.Start(o, Data());
        TrainingResult r = run.Run(new SynchronousProgress<TrainingProgress>(p => { if (p.Step == 2) cts.Cancel(); }), cts.Token);
        Assert.That(r.Cancelled);
        Assert.That(r.CompletedSteps, Is.EqualTo(2));
        Assert.That(r.LastCheckpoint, Does.EndWith(TrainingRun.CheckpointFileName(2)));
        Assert.That(File.Exists(r.LastCheckpoint));
    }

    [Test]
    public void Options_Validate_NamesTheProblem()
    {
        TrainingOptions o = Options(_temp);
        Assert.That(Assert.Throws<ArgumentException>(() => TrainingRun.Start(o with { Batch = 0 }, Data()))!.Message, Does.Contain("Batch"));
        Assert.That(Assert.Throws<ArgumentException>(() => TrainingRun.Start(o with { SequenceLength = 65 }, Data()))!.Message, Does.Contain("SequenceLength"));
        Assert.That(Assert.Throws<ArgumentException>(() => TrainingRun.Start(o with { SequenceLength = 32 }, Data()))!.Message, Does.Contain("16 tokens"));
        Assert.That(Assert.Throws<ArgumentException>(() => TrainingRun.Start(o with { Optimizer = new AdamWOptions { Beta2 = 1 } }, Data()))!.Message, Does.Contain("betas"));
    }

    /// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
