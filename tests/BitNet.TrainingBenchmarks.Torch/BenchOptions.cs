using System.Globalization;

namespace BitNet.TrainingBenchmarks.Torch;

/// <summary>Command line of the benchmark. Defaults are the default model's shape (see docs/benchmarks.md).</summary>
internal sealed record BenchOptions
{
    public int Threads { get; init; } = 2;
    public int Warmup { get; init; } = 2;
    public int Steps { get; init; } = 5;
    public int Batch { get; init; } = 8;
    public int Seq { get; init; } = 256;
    public int Layers { get; init; } = 6;
    public int Hidden { get; init; } = 256;
    public int Intermediate { get; init; } = 768;
    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 2;
    public int Vocab { get; init; } = 4096;
    public double LearningRate { get; init; } = 1e-3;
    public double WeightDecay { get; init; } = 0.1;
    public double RopeTheta { get; init; } = 500000.0;
    public long Seed { get; init; } = 1234;
    public bool FixedData { get; init; }
    public bool Verbose { get; init; }
    public bool Help { get; init; }
    public string? CheckFixture { get; init; }

    public const string Usage =
        "usage: BitNet.TrainingBenchmarks.Torch [--threads N] [--warmup W] [--steps S] [--batch B] [--seq T]\n" +
        "         [--layers L] [--hidden H] [--intermediate I] [--heads NH] [--kv-heads NKV] [--vocab V]\n" +
        "         [--lr X] [--weight-decay X] [--rope-theta X] [--seed N] [--data random|fixed] [--verbose]\n" +
        "       BitNet.TrainingBenchmarks.Torch --check-fixture DIR   (e.g. shared/fixtures/bitnet-tiny)\n" +
        "Times W warm-up and S timed training steps (forward, backward, AdamW) of a BitNet b1.58 decoder with\n" +
        "TorchSharp and prints one JSON line (tokens_per_s = B*T / median step time). --check-fixture compares the\n" +
        "model's logits with transformers' on a fixture's float32 master weights (exit 1 when outside tolerance).";

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value");
            int Positive() => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0
                ? v
                : throw new ArgumentException($"{name} needs a positive integer");
            int NonNegative() => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int v)
                ? v
                : throw new ArgumentException($"{name} needs a non-negative integer");
            double Real() => double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v)
                             && double.IsFinite(v) && v >= 0
                ? v
                : throw new ArgumentException($"{name} needs a non-negative number");
            o = name switch
            {
                "--threads" => o with { Threads = Positive() },
                "--warmup" => o with { Warmup = NonNegative() },
                "--steps" => o with { Steps = Positive() },
                "--batch" => o with { Batch = Positive() },
                "--seq" => o with { Seq = Positive() },
                "--layers" => o with { Layers = Positive() },
                "--hidden" => o with { Hidden = Positive() },
                "--intermediate" => o with { Intermediate = Positive() },
                "--heads" => o with { Heads = Positive() },
                "--kv-heads" => o with { KvHeads = Positive() },
                "--vocab" => o with { Vocab = Positive() },
                "--lr" => o with { LearningRate = Real() },
                "--weight-decay" => o with { WeightDecay = Real() },
                "--rope-theta" => o with { RopeTheta = Real() },
                "--seed" => o with { Seed = NonNegative() },
                "--data" => Value() switch
                {
                    "random" => o with { FixedData = false },
                    "fixed" => o with { FixedData = true },
                    var d => throw new ArgumentException($"--data must be random or fixed, got '{d}'"),
                },
                "--check-fixture" => o with { CheckFixture = Value() },
                "--verbose" or "-v" => o with { Verbose = true },
                "--help" or "-h" => o with { Help = true },
                _ => throw new ArgumentException($"unknown option '{name}'"),
            };
        }
        if (o.Hidden % o.Heads != 0) throw new ArgumentException("--hidden must be a multiple of --heads");
        if (o.Heads % o.KvHeads != 0) throw new ArgumentException("--heads must be a multiple of --kv-heads");
        if (o.Hidden / o.Heads % 2 != 0) throw new ArgumentException("head_dim (hidden/heads) must be even for RoPE");
        return o;
    }
}
