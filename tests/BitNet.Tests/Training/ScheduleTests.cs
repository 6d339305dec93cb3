using BitNet.Training;

namespace BitNet.Tests.Training;

/// <summary>Learning-rate and weight-decay schedules at known steps, their JSON round trip, and the quantization blend.</summary>
public sealed class ScheduleTests
{
    private const double Tol = 1e-12;

    [Test]
    public void Constant_IsTheSameEverywhere()
    {
        var s = new ConstantSchedule(3e-4);
        Assert.That(new[] { s.At(0), s.At(1), s.At(1_000_000) }, Is.All.EqualTo(3e-4));
    }

    [Test]
    public void LinearWarmupCosine_RisesLinearly_ThenFollowsHalfACosine()
    {
        // peak 1e-3, 10 warmup steps, 110 steps, min ratio 0.1: decay over steps 10 .. 109 (99 intervals)
        var s = new LinearWarmupCosineSchedule(1e-3, 10, 110, 0.1);
        Assert.Multiple(() =>
        {
            Assert.That(s.At(0), Is.EqualTo(1e-4).Within(Tol));
            Assert.That(s.At(4), Is.EqualTo(5e-4).Within(Tol));
            Assert.That(s.At(9), Is.EqualTo(1e-3).Within(Tol));
            Assert.That(s.At(10), Is.EqualTo(1e-3).Within(Tol));
            Assert.That(s.At(59), Is.EqualTo(1e-4 + 0.9e-3 * 0.5 * (1 + Math.Cos(Math.PI * 49 / 99.0))).Within(Tol));
            Assert.That(s.At(109), Is.EqualTo(1e-4).Within(Tol));
            Assert.That(s.At(500), Is.EqualTo(1e-4).Within(Tol));
        });
    }

    [Test]
    public void StepDecay_MultipliesByGammaEveryNSteps()
    {
        var s = new StepDecaySchedule(0.1, 30, 0.5);
        Assert.Multiple(() =>
        {
            Assert.That(s.At(0), Is.EqualTo(0.1));
            Assert.That(s.At(29), Is.EqualTo(0.1));
            Assert.That(s.At(30), Is.EqualTo(0.05).Within(Tol));
            Assert.That(s.At(89), Is.EqualTo(0.025).Within(Tol));
            Assert.That(s.At(90), Is.EqualTo(0.0125).Within(Tol));
        });
    }

    [Test]
    public void TwoStage_DropsAtTheSwitch_AndCoolsDownToTheFinalValue()
    {
        // BitNet 2B4T recipe: peak 1.5e-3, 1001 steps, warmup 100 -> stage-1 cosine from 1.5e-3 at step 100 aimed at
        // 1.5e-4 at step 1000, cut at step 500; stage 2 from 5e-4 at step 500 down to 0 at step 1000.
        var lr = TwoStageSchedule.BitNet2B4TLearningRate(1.5e-3, 1001, warmupSteps: 100);
        Assert.That(lr.SwitchStep, Is.EqualTo(500));
        double Stage1(long step) => 1.5e-4 + 1.35e-3 * 0.5 * (1 + Math.Cos(Math.PI * (step - 100) / 900.0));
        Assert.Multiple(() =>
        {
            Assert.That(lr.At(0), Is.EqualTo(1.5e-5).Within(Tol));
            Assert.That(lr.At(99), Is.EqualTo(1.5e-3).Within(Tol));
            Assert.That(lr.At(100), Is.EqualTo(1.5e-3).Within(Tol));
            Assert.That(lr.At(300), Is.EqualTo(Stage1(300)).Within(Tol));
            Assert.That(lr.At(499), Is.EqualTo(Stage1(499)).Within(Tol));
            Assert.That(lr.At(499), Is.GreaterThan(8e-4), "stage 1 is still high just before the switch");
            Assert.That(lr.At(500), Is.EqualTo(5e-4).Within(Tol), "the sharp drop");
            Assert.That(lr.At(750), Is.EqualTo(2.5e-4).Within(Tol), "half way down the cooldown cosine");
            Assert.That(lr.At(1000), Is.EqualTo(0).Within(Tol));
        });

        var wd = TwoStageSchedule.BitNet2B4TWeightDecay(1001);
        Assert.Multiple(() =>
        {
            Assert.That(wd.At(0), Is.EqualTo(0.1).Within(Tol), "weight decay peaks at 0.1");
            Assert.That(wd.At(250), Is.EqualTo(0.05 * (1 + Math.Cos(Math.PI * 250 / 1000.0))).Within(Tol));
            Assert.That(wd.At(499), Is.GreaterThan(0.05));
            Assert.That(wd.At(500), Is.EqualTo(0), "stage 2 has no weight decay");
            Assert.That(wd.At(1000), Is.EqualTo(0));
        });
    }

    [Test]
    public void Schedules_RoundTripThroughJson()
    {
        Schedule[] all =
        [
            new ConstantSchedule(0.1 + 0.2), // 0.30000000000000004: shortest round trip keeps it
            new LinearWarmupCosineSchedule(6e-4, 7, 123, 1.0 / 3),
            new StepDecaySchedule(0.3, 17, 0.7),
            TwoStageSchedule.BitNet2B4TLearningRate(1.5e-3, 1000, 37),
            TwoStageSchedule.BitNet2B4TWeightDecay(1000),
        ];
        foreach (Schedule s in all)
        {
            Schedule back = Schedule.FromJson(s.ToJson());
            Assert.That(back.GetType(), Is.EqualTo(s.GetType()));
            for (long step = 0; step < 1100; step += 13) Assert.That(back.At(step), Is.EqualTo(s.At(step)), $"{s} at {step}");
        }
    }

    [Test]
    public void Schedule_FromJson_RejectsUnknownTypes()
    {
        Assert.Throws<FormatException>(() => Schedule.FromJson("{\"type\":\"exponential\",\"value\":1}"));
        Assert.Throws<FormatException>(() => Schedule.FromJson("{\"type\":\"constant\"}"));
        Assert.Throws<FormatException>(() => Schedule.FromJson("[1,2]"));
    }

    [Test]
    public void ProgressiveQuantization_RampsLinearlyToOne()
    {
        var pq = new ProgressiveQuantization(4);
        Assert.That(new[] { pq.BlendAt(0), pq.BlendAt(1), pq.BlendAt(2), pq.BlendAt(4), pq.BlendAt(100) },
            Is.EqualTo(new[] { 0f, 0.25f, 0.5f, 1f, 1f }));
        Assert.That(new ProgressiveQuantization(0).BlendAt(0), Is.EqualTo(1f), "0 steps: ternary from the start");
    }
}
