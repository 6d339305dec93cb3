using System.Globalization;
using System.Text.Json;
using BitNet.Models;
using BitNet.Tokenization;
using BitNet.Training;

namespace BitNet.Cli.Training;

/// <summary>Where the tokenizer of a run comes from: an existing tokenizer.json, or one trained on the data files.</summary>
internal sealed record TokenizerSource(string? Path, int TrainVocabSize, BpePreTokenizer PreTokenizer);

/// <summary>What to write when training ends (paths absolute; null: not written).</summary>
internal sealed record ExportTargets(string? Master, string? HfPacked, string? Gguf, TernaryFileType GgufType);

/// <summary>
/// The `bitnet train --config train.json` file (schema: docs/training.md), read by hand so that every mistake names its
/// field: unknown keys, wrong types and out-of-range values give <see cref="CommandException"/>
/// "train.json: data.files: ...". Relative paths are taken from the config file's folder. The model's vocabulary comes
/// from the tokenizer, so the <see cref="TrainingOptions"/> are built once it is known (<see cref="ToOptions"/>).
/// </summary>
internal sealed class TrainConfig
{

    public required IReadOnlyList<string> Files { get; init; }
    public required TokenizerSource Tokenizer { get; init; }
    public required double ValidationFraction { get; init; }
    public required int SequenceLength { get; init; }
    public required int Batch { get; init; }
    public required int GradAccum { get; init; }
    public required long Steps { get; init; }
    public required OptimizerOptions Optimizer { get; init; }
    public required Func<long, Schedule> LearningRate { get; init; }
    public required Func<long, Schedule> WeightDecay { get; init; }
    public required double Clip { get; init; }
    public required long ProgressiveQuantSteps { get; init; }
    public required long EvalEvery { get; init; }
    public required int EvalRows { get; init; }
    public required long CheckpointEvery { get; init; }
    public required long LogEvery { get; init; }
    public required string OutDir { get; init; }
    public required ulong Seed { get; init; }
    public required int Threads { get; init; }
    public required string? InitialWeights { get; init; }
    public required ExportTargets Export { get; init; }
    /// <summary>The model's shape less its vocabulary (filled in from the tokenizer).</summary>
    public required Func<BpeTokenizer, ModelConfig> Model { get; init; }

    /// <summary>The tokenizer.json a run uses and exports: the given one, or the one trained into <see cref="OutDir"/>.</summary>
    public string TokenizerPath => Tokenizer.Path ?? System.IO.Path.Combine(OutDir, "tokenizer.json");

    /// <summary>The training options for a model built on <paramref name="tokenizer"/>.</summary>
    public TrainingOptions ToOptions(BpeTokenizer tokenizer) => new()
    {
        Model = Model(tokenizer),
        Batch = Batch,
        SequenceLength = SequenceLength,
        GradientAccumulationSteps = GradAccum,
        TotalSteps = Steps,
        Optimizer = Optimizer,
        LearningRate = LearningRate(Steps),
        WeightDecay = WeightDecay(Steps),
        ClipNorm = Clip,
        ProgressiveQuantizationSteps = ProgressiveQuantSteps,
        EvalEvery = EvalEvery,
        EvalRows = EvalRows,
        CheckpointEvery = CheckpointEvery,
        CheckpointDirectory = OutDir,
        Seed = Seed,
        Threads = Threads,
        InitialWeights = InitialWeights,
    };

    /// <summary>Reads and checks <paramref name="path"/>.</summary>
    /// <exception cref="CommandException">The file is missing, not JSON, or a field is wrong (the message names it).</exception>
    public static TrainConfig Load(string path)
    {
        if (!File.Exists(path)) throw new CommandException($"--config: no such file: {path}");
        var parser = new Parser(path);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new CommandException($"{parser.Name}: not valid JSON: {CliApplication.OneLine(e.Message)}");
        }
        using (doc) return parser.Read(doc.RootElement);
    }

    /// <summary>Reads the members; every error names the file and the field.</summary>
    private sealed class Parser(string path)
    {
        private readonly string _name = System.IO.Path.GetFileName(path);
        private readonly string _folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;

        public string Name => _name;

        private CommandException Fail(string field, string problem) => new($"{_name}: {field}: {problem}");

        public TrainConfig Read(JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object) throw new CommandException($"{_name}: the top level must be a JSON object");
            var r = new Fields(this, root, "");
            r.Allow("model", "data", "seq_len", "batch", "grad_accum", "steps", "optimizer", "lr", "weight_decay", "clip",
                "progressive_quant_steps", "eval_every", "eval_rows", "checkpoint_every", "log_every", "out_dir", "seed", "threads",
                "init", "export");

            long steps = r.Long("steps", null, min: 1);
            int seqLen = r.Int("seq_len", 256, min: 1);
            var (model, hidden, ffn, kvSize) = ReadModel(r.Object("model", required: true)!.Value, seqLen);
            var (files, tokenizer, validation) = ReadData(r.Object("data", required: true)!.Value);
            string outDir = r.Path("out_dir", required: true)!;
            return new TrainConfig
            {
                Files = files,
                Tokenizer = tokenizer,
                ValidationFraction = validation,
                SequenceLength = seqLen,
                Batch = r.Int("batch", 8, min: 1),
                GradAccum = r.Int("grad_accum", 1, min: 1),
                Steps = steps,
                Optimizer = ReadOptimizer(root.TryGetProperty("optimizer", out var opt) ? opt : (JsonElement?)null),
                LearningRate = ReadSchedule(root, "lr", 1e-3, isLearningRate: true),
                WeightDecay = ReadSchedule(root, "weight_decay", 0.1, isLearningRate: false),
                Clip = r.Double("clip", 1.0, min: 0),
                ProgressiveQuantSteps = r.Long("progressive_quant_steps", 0, min: 0),
                EvalEvery = r.Long("eval_every", 100, min: 0),
                EvalRows = r.Int("eval_rows", 0, min: 0),
                CheckpointEvery = r.Long("checkpoint_every", 0, min: 0),
                LogEvery = r.Long("log_every", 10, min: 1),
                OutDir = outDir,
                Seed = (ulong)r.Long("seed", 1, min: 0),
                Threads = r.Int("threads", 0, min: 0),
                InitialWeights = r.Path("init", required: false, mustExist: true),
                Export = ReadExport(r.Object("export", required: false), hidden, ffn, kvSize),
                Model = model,
            };
        }

        private (Func<BpeTokenizer, ModelConfig> Make, int Hidden, int Ffn, int KvSize) ReadModel(JsonElement e, int seqLen)
        {
            var r = new Fields(this, e, "model.");
            r.Allow("preset", "hidden", "ffn", "layers", "heads", "kv_heads", "max_positions", "rope_theta", "rms_norm_eps", "activation", "vocab");
            ModelConfig? preset = null;
            if (r.String("preset", null) is string name)
                preset = ModelPresets.Get(name) ?? throw Fail("model.preset", $"'{name}' is not a preset ({string.Join(", ", ModelPresets.Names)})");
            int hidden = r.Int("hidden", preset?.HiddenSize, min: 1);
            int heads = r.Int("heads", preset?.HeadCount, min: 1);
            int kvHeads = r.Int("kv_heads", preset?.KeyValueHeadCount ?? heads, min: 1);
            int ffn = r.Int("ffn", preset?.IntermediateSize, min: 1);
            int layers = r.Int("layers", preset?.LayerCount, min: 1);
            int maxPositions = r.Int("max_positions", Math.Max(seqLen, preset?.MaxPositionEmbeddings ?? 0), min: 1);
            double theta = r.Double("rope_theta", preset?.RopeTheta ?? 500000, min: 1e-9);
            double eps = r.Double("rms_norm_eps", preset?.RmsNormEpsilon ?? 1e-5, min: 1e-12);
            string act = r.String("activation", "relu2")!;
            FfnActivation activation = act switch
            {
                "relu2" => FfnActivation.ReluSquared,
                "silu" => FfnActivation.Silu,
                _ => throw Fail("model.activation", $"'{act}' is not relu2 or silu"),
            };
            int? vocab = e.TryGetProperty("vocab", out _) ? r.Int("vocab", null, min: 1) : null;
            if (hidden % heads != 0) throw Fail("model.heads", $"{heads} heads do not divide hidden {hidden}");
            if ((hidden / heads) % 2 != 0) throw Fail("model.heads", $"the head size hidden / heads = {hidden / heads} must be even (RoPE rotates pairs)");
            if (heads % kvHeads != 0) throw Fail("model.kv_heads", $"{kvHeads} KV heads do not divide {heads} heads");
            if (seqLen > maxPositions) throw Fail("seq_len", $"{seqLen} exceeds model.max_positions {maxPositions}");
            return (tokenizer =>
            {
                if (vocab is int v && v < tokenizer.VocabSize)
                    throw Fail("model.vocab", $"{v} is smaller than the tokenizer's vocabulary of {tokenizer.VocabSize}");
                return new ModelConfig
                {
                    HiddenSize = hidden,
                    IntermediateSize = ffn,
                    LayerCount = layers,
                    HeadCount = heads,
                    KeyValueHeadCount = kvHeads,
                    VocabSize = vocab ?? tokenizer.VocabSize,
                    RmsNormEpsilon = (float)eps,
                    RopeTheta = (float)theta,
                    MaxPositionEmbeddings = maxPositions,
                    BosTokenId = tokenizer.BosId,
                    EosTokenIds = tokenizer.EosId is int eos ? [eos] : [],
                    Activation = activation,
                    ActivationSource = "train config",
                    TieWordEmbeddings = true,
                };
            }, hidden, ffn, kvHeads * (hidden / heads));
        }

        private (List<string> Files, TokenizerSource Tokenizer, double Validation) ReadData(JsonElement e)
        {
            var r = new Fields(this, e, "data.");
            r.Allow("files", "tokenizer", "validation_fraction");
            if (!e.TryGetProperty("files", out var filesEl)) throw Fail("data.files", "missing (a file name or a list of them)");
            var files = new List<string>();
            if (filesEl.ValueKind == JsonValueKind.String) files.Add(r.Path("files", required: true, mustExist: true)!);
            else if (filesEl.ValueKind == JsonValueKind.Array && filesEl.GetArrayLength() > 0)
            {
                int i = 0;
                foreach (var f in filesEl.EnumerateArray())
                {
                    if (f.ValueKind != JsonValueKind.String || f.GetString()!.Length == 0) throw Fail($"data.files[{i}]", "must be a file name");
                    string full = Resolve(f.GetString()!);
                    if (!File.Exists(full)) throw Fail($"data.files[{i}]", $"no such file: {full}");
                    files.Add(full);
                    i++;
                }
            }
            else throw Fail("data.files", "must be a file name or a non-empty list of them");

            TokenizerSource tokenizer;
            if (!e.TryGetProperty("tokenizer", out var tok)) throw Fail("data.tokenizer", "missing (a tokenizer.json path, or {\"train_bpe\": vocab_size})");
            if (tok.ValueKind == JsonValueKind.String) tokenizer = new TokenizerSource(r.Path("tokenizer", required: true, mustExist: true), 0, BpePreTokenizer.Llama3);
            else if (tok.ValueKind == JsonValueKind.Object)
            {
                var t = new Fields(this, tok, "data.tokenizer.");
                t.Allow("train_bpe", "pre_tokenizer");
                int size = t.Int("train_bpe", null, min: 258 + 2);
                string pre = t.String("pre_tokenizer", "llama3")!;
                BpePreTokenizer kind = pre switch
                {
                    "llama3" => BpePreTokenizer.Llama3,
                    "gpt2" => BpePreTokenizer.Gpt2,
                    _ => throw Fail("data.tokenizer.pre_tokenizer", $"'{pre}' is not llama3 or gpt2"),
                };
                tokenizer = new TokenizerSource(null, size, kind);
            }
            else throw Fail("data.tokenizer", "must be a tokenizer.json path or {\"train_bpe\": vocab_size}");
            double validation = r.Double("validation_fraction", 0.05, min: 0);
            if (validation >= 1) throw Fail("data.validation_fraction", $"must be below 1, not {F(validation)}");
            return (files, tokenizer, validation);
        }

        private OptimizerOptions ReadOptimizer(JsonElement? e)
        {
            if (e is null) return new AdamWOptions();
            if (e.Value.ValueKind == JsonValueKind.String)
            {
                return e.Value.GetString() switch
                {
                    "adamw" => new AdamWOptions(),
                    "sgd" => new SgdOptions(),
                    var other => throw Fail("optimizer", $"'{other}' is not adamw or sgd"),
                };
            }
            if (e.Value.ValueKind != JsonValueKind.Object) throw Fail("optimizer", "must be \"adamw\", \"sgd\" or an object with a \"type\"");
            var r = new Fields(this, e.Value, "optimizer.");
            string type = r.String("type", null) ?? throw Fail("optimizer.type", "missing (adamw or sgd)");
            bool norms = r.Bool("exempt_norms_from_decay", false), embedding = r.Bool("exempt_embedding_from_decay", false);
            switch (type)
            {
                case "adamw":
                    r.Allow("type", "beta1", "beta2", "eps", "exempt_norms_from_decay", "exempt_embedding_from_decay");
                    double b1 = r.Double("beta1", 0.9, min: 0), b2 = r.Double("beta2", 0.95, min: 0);
                    if (b1 >= 1) throw Fail("optimizer.beta1", "must be below 1");
                    if (b2 >= 1) throw Fail("optimizer.beta2", "must be below 1");
                    double eps = r.Double("eps", 1e-8, min: 0);
                    if (eps <= 0) throw Fail("optimizer.eps", "must be above 0");
                    return new AdamWOptions { Beta1 = b1, Beta2 = b2, Epsilon = eps, ExemptNormsFromDecay = norms, ExemptEmbeddingFromDecay = embedding };
                case "sgd":
                    r.Allow("type", "momentum", "nesterov", "exempt_norms_from_decay", "exempt_embedding_from_decay");
                    double momentum = r.Double("momentum", 0, min: 0);
                    bool nesterov = r.Bool("nesterov", false);
                    if (nesterov && momentum <= 0) throw Fail("optimizer.nesterov", "needs a momentum above 0");
                    return new SgdOptions { Momentum = momentum, Nesterov = nesterov, ExemptNormsFromDecay = norms, ExemptEmbeddingFromDecay = embedding };
                default:
                    throw Fail("optimizer.type", $"'{type}' is not adamw or sgd");
            }
        }

        /// <summary>A number (constant) or a schedule object; built once the run's step count is known (the default length
        /// of the cosine and BitNet schedules).</summary>
        private Func<long, Schedule> ReadSchedule(JsonElement root, string field, double fallback, bool isLearningRate)
        {
            if (!root.TryGetProperty(field, out var e)) return _ => new ConstantSchedule(fallback);
            if (e.ValueKind == JsonValueKind.Number)
            {
                double v = e.GetDouble();
                if (!double.IsFinite(v) || v < 0) throw Fail(field, $"must be a number >= 0, not {e}");
                return _ => new ConstantSchedule(v);
            }
            if (e.ValueKind != JsonValueKind.Object) throw Fail(field, "must be a number or a schedule object with a \"type\"");
            var r = new Fields(this, e, field + ".");
            string type = r.String("type", null) ?? throw Fail(field + ".type", "missing (constant, cosine, step_decay, two_stage, bitnet_2b4t)");
            Func<long, Schedule> make;
            switch (type)
            {
                case "constant":
                    r.Allow("type", "value");
                    double value = r.Double("value", null, min: 0);
                    make = _ => new ConstantSchedule(value);
                    break;
                case "cosine":
                    r.Allow("type", "peak", "warmup_steps", "min_ratio", "total_steps");
                    double peak = r.Double("peak", null, min: 0);
                    long warmup = r.Long("warmup_steps", 0, min: 0);
                    double minRatio = r.Double("min_ratio", 0.1, min: 0);
                    long? total = e.TryGetProperty("total_steps", out _) ? r.Long("total_steps", null, min: 1) : null;
                    make = steps => new LinearWarmupCosineSchedule(peak, warmup, total ?? steps, minRatio);
                    break;
                case "step_decay":
                    r.Allow("type", "initial", "every", "gamma");
                    double initial = r.Double("initial", null, min: 0);
                    long every = r.Long("every", null, min: 1);
                    double gamma = r.Double("gamma", null, min: 0);
                    make = _ => new StepDecaySchedule(initial, every, gamma);
                    break;
                case "two_stage":
                    r.Allow("type", "stage1_peak", "stage1_final", "stage2_peak", "stage2_final", "warmup_steps", "switch_step", "total_steps");
                    double s1p = r.Double("stage1_peak", null, min: 0), s1f = r.Double("stage1_final", null, min: 0);
                    double s2p = r.Double("stage2_peak", null, min: 0), s2f = r.Double("stage2_final", null, min: 0);
                    long w2 = r.Long("warmup_steps", 0, min: 0);
                    long? sw = e.TryGetProperty("switch_step", out _) ? r.Long("switch_step", null, min: 0) : null;
                    long? t2 = e.TryGetProperty("total_steps", out _) ? r.Long("total_steps", null, min: 1) : null;
                    make = steps => new TwoStageSchedule(s1p, s1f, s2p, s2f, w2, sw ?? (t2 ?? steps) / 2, t2 ?? steps);
                    break;
                case "bitnet_2b4t":
                    if (isLearningRate) r.Allow("type", "peak", "warmup_steps");
                    else r.Allow("type", "peak"); // the report's weight decay has no warm-up
                    double p = r.Double("peak", isLearningRate ? null : 0.1, min: 0);
                    long w = r.Long("warmup_steps", 0, min: 0);
                    make = isLearningRate
                        ? steps => TwoStageSchedule.BitNet2B4TLearningRate(p, steps, w)
                        : steps => TwoStageSchedule.BitNet2B4TWeightDecay(steps, p);
                    break;
                default:
                    throw Fail(field + ".type", $"'{type}' is not constant, cosine, step_decay, two_stage or bitnet_2b4t");
            }
            return steps =>
            {
                try
                {
                    return make(steps);
                }
                catch (ArgumentException x)
                {
                    throw Fail(field, CliApplication.OneLine(x.Message));
                }
            };
        }

        /// <summary>The export targets; the model's row lengths must fit the formats' blocks (TQ1_0/TQ2_0: 256 weights,
        /// I2_S: 128; the HF packing puts four rows in a byte).</summary>
        private ExportTargets ReadExport(JsonElement? e, int hidden, int ffn, int kvSize)
        {
            if (e is null) return new ExportTargets(null, null, null, TernaryFileType.TQ2_0);
            var r = new Fields(this, e.Value, "export.");
            r.Allow("master", "hf_packed", "gguf", "gguf_type");
            string type = r.String("gguf_type", "tq2_0")!;
            TernaryFileType ggufType = type switch
            {
                "tq2_0" => TernaryFileType.TQ2_0,
                "tq1_0" => TernaryFileType.TQ1_0,
                "i2_s" => TernaryFileType.I2_S,
                "f16" => TernaryFileType.F16,
                "f32" => TernaryFileType.F32,
                _ => throw Fail("export.gguf_type", $"'{type}' is not tq2_0, tq1_0, i2_s, f16 or f32"),
            };
            var targets = new ExportTargets(r.Path("master", false), r.Path("hf_packed", false), r.Path("gguf", false), ggufType);
            foreach (var (field, folder) in new[] { ("export.master", targets.Master), ("export.hf_packed", targets.HfPacked) })
                if (folder is not null && Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
                    throw Fail(field, $"{folder} exists and is not empty (the export would overwrite it)");
            if (targets.Gguf is not null && Directory.Exists(targets.Gguf)) throw Fail("export.gguf", $"{targets.Gguf} is a folder");
            int block = ggufType switch { TernaryFileType.TQ1_0 or TernaryFileType.TQ2_0 => 256, TernaryFileType.I2_S => 128, _ => 1 };
            if (targets.Gguf is not null && (hidden % block != 0 || ffn % block != 0))
                throw Fail("export.gguf_type", $"{type} stores rows in blocks of {block} weights: model.hidden ({hidden}) and model.ffn ({ffn}) must be multiples of {block} (f16 and f32 take any shape)");
            if (targets.HfPacked is not null && (hidden % 4 != 0 || ffn % 4 != 0 || kvSize % 4 != 0))
                throw Fail("export.hf_packed", $"the packing holds four rows per byte: model.hidden ({hidden}), model.ffn ({ffn}) and the KV size ({kvSize}) must be multiples of 4");
            return targets;
        }

        private string Resolve(string path) => System.IO.Path.GetFullPath(System.IO.Path.Combine(_folder, path));

        private static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);

        /// <summary>Typed reads of one JSON object's members, each error naming <c>prefix + key</c>.</summary>
        private readonly struct Fields(Parser config, JsonElement obj, string prefix)
        {
            public void Allow(params string[] keys)
            {
                foreach (var p in obj.EnumerateObject())
                    if (Array.IndexOf(keys, p.Name) < 0)
                        throw config.Fail(prefix + p.Name, $"unknown field (known: {string.Join(", ", keys)})");
            }

            private JsonElement? Get(string key) => obj.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

            private CommandException Missing(string key, string what) => config.Fail(prefix + key, $"missing ({what})");

            public long Long(string key, long? fallback, long min)
            {
                if (Get(key) is not { } v) return fallback ?? throw Missing(key, "an integer");
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long x)) throw config.Fail(prefix + key, $"must be an integer, not {v}");
                if (x < min) throw config.Fail(prefix + key, $"must be at least {min}, not {x}");
                return x;
            }

            public int Int(string key, int? fallback, int min)
            {
                long x = Long(key, fallback, min);
                if (x > int.MaxValue) throw config.Fail(prefix + key, $"{x} is too large");
                return (int)x;
            }

            public double Double(string key, double? fallback, double min)
            {
                if (Get(key) is not { } v) return fallback ?? throw Missing(key, "a number");
                if (v.ValueKind != JsonValueKind.Number) throw config.Fail(prefix + key, $"must be a number, not {v}");
                double x = v.GetDouble();
                if (!double.IsFinite(x) || x < min) throw config.Fail(prefix + key, $"must be a number >= {F(min)}, not {v}");
                return x;
            }

            public bool Bool(string key, bool fallback)
            {
                if (Get(key) is not { } v) return fallback;
                return v.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw config.Fail(prefix + key, $"must be true or false, not {v}"),
                };
            }

            public string? String(string key, string? fallback)
            {
                if (Get(key) is not { } v) return fallback;
                if (v.ValueKind != JsonValueKind.String || v.GetString()!.Length == 0) throw config.Fail(prefix + key, $"must be a non-empty string, not {v}");
                return v.GetString();
            }

            public JsonElement? Object(string key, bool required)
            {
                if (Get(key) is not { } v) return required ? throw Missing(key, "an object") : null;
                if (v.ValueKind != JsonValueKind.Object) throw config.Fail(prefix + key, $"must be an object, not {v.ValueKind.ToString().ToLowerInvariant()}");
                return v;
            }

            /// <summary>A path relative to the config file's folder, made absolute.</summary>
            public string? Path(string key, bool required, bool mustExist = false)
            {
                string? s = String(key, null);
                if (s is null) return required ? throw Missing(key, "a path") : null;
                string full = config.Resolve(s);
                if (mustExist && !File.Exists(full) && !Directory.Exists(full)) throw config.Fail(prefix + key, $"no such file: {full}");
                return full;
            }
        }
    }
}
