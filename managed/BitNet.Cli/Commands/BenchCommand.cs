using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using BitNet.Inference;

namespace BitNet.Cli.Commands;

/// <summary>`bitnet bench -m PATH [-p 128] [-n 64] [--threads N] [--repetitions 3] [--json]` (CLI.md): prefill and
/// decode speed, llama-bench style. Each repetition (after one untimed warm-up) resets the session, times a prefill of
/// <c>-p</c> random token ids (fixed seed) in one forward pass, then <c>-n</c> decode steps of one token each (last-row
/// logits, the argmax is fed back). Rates are means over repetitions with sample standard deviations. <c>-p 0</c> skips
/// prefill (its rate is reported as 0), <c>-n 0</c> skips decode (likewise). Without --json a markdown table goes to
/// stdout; with --json one <see cref="BenchReport"/> object. Progress goes to stderr.</summary>
internal static class BenchCommand
{
    /// <summary>The seed of the random prompt ids.</summary>
    public const int PromptSeed = 1234;

    public static Command Create(CliContext cli)
    {
        var model = new Option<string>("--model", "-m") { Description = "A GGUF file or a Hugging Face model folder", Required = true };
        var prompt = new Option<int>("-p", "--n-prompt") { Description = "Prompt tokens to prefill (0: skip prefill)", DefaultValueFactory = _ => 128 };
        var gen = new Option<int>("-n", "--n-gen") { Description = "Tokens to decode one at a time (0: skip decode)", DefaultValueFactory = _ => 64 };
        var threads = new Option<int?>("--threads", "-t") { Description = "Threads (default: one per physical core)" };
        var reps = new Option<int>("--repetitions", "-r") { Description = "Timed repetitions (after one warm-up)", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table" };
        var noFloor = new Option<bool>("--no-floor") { Description = "Skip measuring the memory-bandwidth floor (a 1 GiB read after each repetition)" };
        var layout = I2SLayoutOption.Create();
        var command = new Command("bench", "Measure prefill and decode speed (tokens per second)")
        {
            model, prompt, gen, threads, reps, json, noFloor, layout,
        };
        command.SetAction(parse =>
        {
            int p = parse.GetValue(prompt), n = parse.GetValue(gen), r = parse.GetValue(reps);
            int? threadCount = parse.GetValue(threads);
            if (p < 0) throw new CommandException("-p must be 0 or more");
            if (n < 0) throw new CommandException("-n must be 0 or more");
            if (p == 0 && n == 0) throw new CommandException("-p and -n are both 0: nothing to measure");
            if (r < 1) throw new CommandException("--repetitions must be at least 1");
            if (threadCount is <= 0) throw new CommandException("--threads must be at least 1");
            string path = parse.GetValue(model)!;

            using var m = I2SLayoutOption.Load(cli, path, parse.GetValue(layout));
            int context = p + n;
            if (context > m.Config.MaxPositionEmbeddings)
                throw new CommandException($"-p + -n = {context} exceeds the model's max_position_embeddings {m.Config.MaxPositionEmbeddings}");
            long weightBytes = m.File.Tensors.Sum(t => t.ByteLength);
            using var session = m.CreateSession(new SessionOptions { Threads = threadCount, ContextSize = context });

            var rng = new Random(PromptSeed);
            int vocab = m.Config.VocabSize;
            int[] ids = new int[Math.Max(p, 1)];
            for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(vocab);

            cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bench: {path}, {session.Threads} threads, pp{p} tg{n}, {r} repetitions (+1 warm-up)"));
            var prefill = new List<double>();
            var decode = new List<double>();
            // The floor (CLI.md "How speed is stated"): this run's read bandwidth over the bytes a decode step reads,
            // read right after each repetition's decode, because a shared machine's bandwidth moves between seconds
            // (46-80 GB/s seen on one VM): each repetition is judged against its own reading. The peak RSS is taken
            // before the first reading: the 1 GiB read buffer is not the model's memory, and the warm-up and first
            // repetition have allocated everything the session uses.
            bool measureFloor = n > 0 && !parse.GetValue(noFloor);
            var readings = new List<double>();
            var fractions = new List<double>();
            long? peakRss = null;
            for (int rep = 0; rep <= r; rep++)
            {
                (double pp, double tg) = RunOnce(session, ids, p, n);
                if (rep == 0)
                {
                    cli.Error.WriteLine("warm-up done");
                    continue;
                }
                if (p > 0) prefill.Add(pp);
                if (n > 0) decode.Add(tg);
                string floorText = "";
                if (measureFloor)
                {
                    peakRss ??= PeakRssBytes();
                    double gbs = MemoryBandwidth.Measure(session.Threads, repetitions: 2).MedianGBps;
                    readings.Add(gbs);
                    fractions.Add(tg / (gbs * 1e9 / weightBytes));
                    floorText = string.Create(CultureInfo.InvariantCulture, $", read {gbs:F1} GB/s: {100 * fractions[^1]:F0}% of its floor");
                }
                cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"repetition {rep}/{r}: prefill {pp:F2} tok/s, decode {tg:F2} tok/s{floorText}"));
            }
            peakRss ??= PeakRssBytes();
            double? bandwidth = readings.Count > 0 ? Median(readings) : null;
            double? floor = bandwidth is { } bw ? bw * 1e9 / weightBytes : null;
            var report = new BenchReport(
                Model: path,
                Threads: session.Threads,
                NPrompt: p,
                NGen: n,
                Repetitions: r,
                PrefillTokS: Mean(prefill),
                PrefillTokSStddev: StdDev(prefill),
                DecodeTokS: Mean(decode),
                DecodeTokSStddev: StdDev(decode),
                PrefillTokSSamples: prefill,
                DecodeTokSSamples: decode,
                WeightBytes: weightBytes,
                PeakRssBytes: peakRss,
                ReadBandwidthGbS: bandwidth,
                BandwidthFloorTokS: floor,
                DecodeFloorFraction: fractions.Count > 0 ? Median(fractions) : null,
                ReadBandwidthGbSSamples: readings,
                DecodeFloorFractionSamples: fractions);
            if (parse.GetValue(json)) cli.Out.WriteLine(JsonSerializer.Serialize(report, CliJsonContext.Default.BenchReport));
            else WriteTable(cli.Out, report);
            return ExitCodes.Success;
        });
        return command;
    }

    private static (double Prefill, double Decode) RunOnce(InferenceSession session, int[] ids, int p, int n)
    {
        session.Reset();
        double pp = 0, tg = 0;
        int next = ids[0];
        var logits = new float[session.VocabSize];
        if (p > 0)
        {
            long t0 = Stopwatch.GetTimestamp();
            session.Forward(ids.AsSpan(0, p), logits, LogitsMode.Last, default);
            pp = p / Stopwatch.GetElapsedTime(t0).TotalSeconds;
            next = ArgMax(logits);
        }
        if (n > 0)
        {
            Span<int> one = stackalloc int[1];
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < n; i++)
            {
                one[0] = next;
                session.Forward(one, logits, LogitsMode.Last, default);
                next = ArgMax(logits);
            }
            tg = n / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        return (pp, tg);
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    private static double Mean(List<double> xs) => xs.Count == 0 ? 0 : xs.Average();

    private static double Median(List<double> xs)
    {
        double[] s = [.. xs.Order()];
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static double StdDev(List<double> xs)
    {
        if (xs.Count < 2) return 0;
        double mean = xs.Average();
        return Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Count - 1));
    }

    /// <summary>The process's peak resident set (VmHWM in /proc/self/status), or null where there is none.</summary>
    internal static long? PeakRssBytes()
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return null;
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                string[] parts = line["VmHWM:".Length..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[0].Trim(), CultureInfo.InvariantCulture) * 1024; // kB
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }

    private static void WriteTable(TextWriter o, BenchReport r)
    {
        string model = Path.GetFileName(Path.TrimEndingDirectorySeparator(r.Model));
        string size = string.Create(CultureInfo.InvariantCulture, $"{r.WeightBytes / (double)(1L << 30):F2} GiB");
        o.WriteLine("| model | size | threads | test | t/s |");
        o.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        if (r.NPrompt > 0)
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {model} | {size} | {r.Threads} | pp{r.NPrompt} | {r.PrefillTokS:F2} ± {r.PrefillTokSStddev:F2} |"));
        if (r.NGen > 0)
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {model} | {size} | {r.Threads} | tg{r.NGen} | {r.DecodeTokS:F2} ± {r.DecodeTokSStddev:F2} |"));
        if (r.PeakRssBytes is { } rss)
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"\npeak RSS {rss / (double)(1L << 20):F1} MiB"));
        if (r.BandwidthFloorTokS is { } floor && r.ReadBandwidthGbS is { } gbs)
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bandwidth floor {floor:F2} tok/s ({gbs:F1} GB/s read / {r.WeightBytes / 1e9:F3} GB per step, medians of the readings after each repetition): decode at {100 * r.DecodeFloorFraction:F0}% of its repetition's floor (median)"));
    }
}

/// <summary>What `bitnet bench --json` prints (snake_case keys).</summary>
/// <param name="Model">The model path as given.</param>
/// <param name="Threads">Threads running the forward pass.</param>
/// <param name="NPrompt">Prompt tokens prefilled per repetition (0: prefill skipped).</param>
/// <param name="NGen">Tokens decoded one at a time per repetition (0: decode skipped).</param>
/// <param name="Repetitions">Timed repetitions (the warm-up excluded).</param>
/// <param name="PrefillTokS">Mean prefill rate, tokens per second (0 when prefill is skipped).</param>
/// <param name="PrefillTokSStddev">Sample standard deviation of the prefill rate (0 with one repetition or none).</param>
/// <param name="DecodeTokS">Mean decode rate, tokens per second (0 when decode is skipped).</param>
/// <param name="DecodeTokSStddev">Sample standard deviation of the decode rate.</param>
/// <param name="PrefillTokSSamples">The prefill rate of each repetition (empty when skipped).</param>
/// <param name="DecodeTokSSamples">The decode rate of each repetition (empty when skipped).</param>
/// <param name="WeightBytes">Bytes of every tensor of the model as stored (what a decode step reads, KV cache excluded).</param>
/// <param name="PeakRssBytes">Peak resident set of the process (Linux VmHWM) before the first bandwidth reading (after
/// the warm-up and the first repetition), null where unknown.</param>
/// <param name="ReadBandwidthGbS">STREAM-style read bandwidth (1e9 B/s), the median of the readings taken right after
/// each repetition's decode; null when decode was skipped or --no-floor.</param>
/// <param name="BandwidthFloorTokS">The decode bandwidth floor: read bandwidth / <see cref="WeightBytes"/>.</param>
/// <param name="DecodeFloorFraction">Median over repetitions of the decode rate over that repetition's own floor.</param>
/// <param name="ReadBandwidthGbSSamples">The reading after each repetition (empty without a floor).</param>
/// <param name="DecodeFloorFractionSamples">Each repetition's decode rate over its own floor.</param>
internal sealed record BenchReport(
    string Model,
    int Threads,
    int NPrompt,
    int NGen,
    int Repetitions,
    double PrefillTokS,
    double PrefillTokSStddev,
    double DecodeTokS,
    double DecodeTokSStddev,
    IReadOnlyList<double> PrefillTokSSamples,
    IReadOnlyList<double> DecodeTokSSamples,
    long WeightBytes,
    long? PeakRssBytes,
    double? ReadBandwidthGbS,
    double? BandwidthFloorTokS,
    double? DecodeFloorFraction,
    IReadOnlyList<double> ReadBandwidthGbSSamples,
    IReadOnlyList<double> DecodeFloorFractionSamples);
