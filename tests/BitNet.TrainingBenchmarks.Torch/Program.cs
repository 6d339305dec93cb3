// The TorchSharp peer of `bitnet-bench train`: one BitNet b1.58 decoder (HF BitNetForCausalLM) training step,
// forward + backward + AdamW, written with TorchSharp's functional ops the way transformers writes it, timed on
// random token batches. Prints one JSON line; bench/train-compare.sh runs it beside ours.
//
//   dotnet build tests/BitNet.TrainingBenchmarks.Torch -c Release
//   dotnet tests/BitNet.TrainingBenchmarks.Torch/bin/Release/net10.0/BitNet.TrainingBenchmarks.Torch.dll --threads 2
using System.Diagnostics;
using System.Globalization;
using BitNet.TrainingBenchmarks.Torch;
using static TorchSharp.torch;

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"torch-train-bench: {e.Message}");
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}
if (options.Help)
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

LibstdcxxCompat.Apply(); // before the first use of torch loads libLibTorchSharp.so

// Intra-op threads as asked; inter-op 1 (one step is one chain of ops, nothing to overlap). Interop must be set
// before any parallel work starts.
set_num_interop_threads(1);
set_num_threads(options.Threads);
int threadsSeen = get_num_threads();
if (threadsSeen != options.Threads)
{
    Console.Error.WriteLine($"torch-train-bench: asked for {options.Threads} threads, torch reports {threadsSeen}");
    return 1;
}

if (options.CheckFixture is not null) return FixtureCheck.Run(options.CheckFixture, options);

random.manual_seed(options.Seed);
using var model = new BitNetTorchModel(options);
var optimizer = optim.AdamW(model.Parameters, lr: options.LearningRate, beta1: 0.9, beta2: 0.95, eps: 1e-8,
    weight_decay: options.WeightDecay);

// Batches: inputs [B, T] and targets [B, T] (the next token), uniform random ids drawn from a seeded generator.
// --data fixed reuses one batch every step, so the model memorises it and the loss falls fast (sanity check).
var dataGen = new Generator((ulong)options.Seed + 1);
Tensor NextSequence() => randint(0, options.Vocab, new long[] { options.Batch, options.Seq + 1 }, dtype: int64,
    generator: dataGen);
Tensor fixedSeq = NextSequence();

double lossFirst = double.NaN, lossLast = double.NaN;
var stepMs = new List<double>();
int total = options.Warmup + options.Steps;
for (int step = 0; step < total; step++)
{
    using var scope = NewDisposeScope();
    Tensor seq = options.FixedData ? fixedSeq : NextSequence();
    Tensor inputs = seq.narrow(1, 0, options.Seq);
    Tensor targets = seq.narrow(1, 1, options.Seq);

    var watch = Stopwatch.StartNew();
    optimizer.zero_grad();
    Tensor logits = model.Forward(inputs); // [B, T, V]
    Tensor loss = nn.functional.cross_entropy(logits.view(-1, options.Vocab), targets.reshape(-1));
    loss.backward();
    optimizer.step();
    double lossValue = loss.item<float>(); // waits for the step (CPU: it is already done)
    watch.Stop();

    if (step == 0) lossFirst = lossValue;
    lossLast = lossValue;
    if (step >= options.Warmup) stepMs.Add(watch.Elapsed.TotalMilliseconds);
    if (options.Verbose)
        Console.Error.WriteLine($"step {step}: loss {lossValue:F4}, {watch.Elapsed.TotalMilliseconds:F1} ms");
}

// Median step time of the timed steps; tokens per step = B * T.
stepMs.Sort();
double median = stepMs.Count % 2 == 1
    ? stepMs[stepMs.Count / 2]
    : 0.5 * (stepMs[stepMs.Count / 2 - 1] + stepMs[stepMs.Count / 2]);
double tokensPerS = options.Batch * options.Seq / (median / 1000.0);

var inv = CultureInfo.InvariantCulture;
Console.WriteLine(string.Create(inv,
    $"{{\"impl\":\"torchsharp\",\"threads\":{threadsSeen},\"interop_threads\":{get_num_interop_threads()}," +
    $"\"batch\":{options.Batch},\"seq\":{options.Seq},\"layers\":{options.Layers},\"hidden\":{options.Hidden}," +
    $"\"intermediate\":{options.Intermediate},\"heads\":{options.Heads},\"kv_heads\":{options.KvHeads}," +
    $"\"vocab\":{options.Vocab},\"warmup\":{options.Warmup},\"steps\":{options.Steps}," +
    $"\"data\":\"{(options.FixedData ? "fixed" : "random")}\"," +
    $"\"tokens_per_s\":{tokensPerS:F1},\"step_ms\":{median:F2}," +
    $"\"loss_first\":{lossFirst:F4},\"loss_last\":{lossLast:F4}}}"));
return 0;
