using System.Text;
using System.Text.Json;
using BitNet.Models;

namespace BitNet.Training;

/// <summary>
/// <see cref="TrainingOptions"/> and the loss history as JSON for checkpoint metadata, written and read by hand
/// (Utf8JsonWriter / JsonDocument: no reflection, so NativeAOT keeps it). Doubles are written in their shortest
/// round-trip form, so every value reads back bit for bit. The model's shape is stored separately as config.json text.
/// </summary>
internal static class TrainingOptionsJson
{
    public static string Write(TrainingOptions o)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteNumber("batch", o.Batch);
            w.WriteNumber("sequence_length", o.SequenceLength);
            w.WriteNumber("gradient_accumulation_steps", o.GradientAccumulationSteps);
            w.WriteNumber("total_steps", o.TotalSteps);
            w.WritePropertyName("optimizer");
            w.WriteStartObject();
            w.WriteString("type", o.Optimizer.Name);
            w.WriteBoolean("exempt_norms_from_decay", o.Optimizer.ExemptNormsFromDecay);
            w.WriteBoolean("exempt_embedding_from_decay", o.Optimizer.ExemptEmbeddingFromDecay);
            switch (o.Optimizer)
            {
                case AdamWOptions a:
                    w.WriteNumber("beta1", a.Beta1);
                    w.WriteNumber("beta2", a.Beta2);
                    w.WriteNumber("epsilon", a.Epsilon);
                    break;
                case SgdOptions s:
                    w.WriteNumber("momentum", s.Momentum);
                    w.WriteBoolean("nesterov", s.Nesterov);
                    break;
            }
            w.WriteEndObject();
            w.WritePropertyName("learning_rate");
            o.LearningRate.Write(w);
            w.WritePropertyName("weight_decay");
            o.WeightDecay.Write(w);
            w.WriteNumber("clip_norm", o.ClipNorm);
            w.WriteNumber("progressive_quantization_steps", o.ProgressiveQuantizationSteps);
            w.WriteNumber("eval_every", o.EvalEvery);
            w.WriteNumber("eval_rows", o.EvalRows);
            w.WriteNumber("checkpoint_every", o.CheckpointEvery);
            if (o.CheckpointDirectory is null) w.WriteNull("checkpoint_directory");
            else w.WriteString("checkpoint_directory", o.CheckpointDirectory);
            w.WriteNumber("seed", o.Seed);
            w.WriteNumber("threads", o.Threads);
            if (o.InitialWeights is null) w.WriteNull("initial_weights");
            else w.WriteString("initial_weights", o.InitialWeights);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <exception cref="FormatException">A missing or mistyped member.</exception>
    public static TrainingOptions Read(string json, ModelConfig model)
    {
        using var doc = JsonDocument.Parse(json);
        JsonElement r = doc.RootElement;
        JsonElement opt = Member(r, "optimizer", JsonValueKind.Object);
        string kind = Member(opt, "type", JsonValueKind.String).GetString()!;
        bool exemptNorms = Bool(opt, "exempt_norms_from_decay"), exemptEmbedding = Bool(opt, "exempt_embedding_from_decay");
        OptimizerOptions optimizer = kind switch
        {
            "adamw" => new AdamWOptions
            {
                Beta1 = Double(opt, "beta1"), Beta2 = Double(opt, "beta2"), Epsilon = Double(opt, "epsilon"),
                ExemptNormsFromDecay = exemptNorms, ExemptEmbeddingFromDecay = exemptEmbedding,
            },
            "sgd" => new SgdOptions
            {
                Momentum = Double(opt, "momentum"), Nesterov = Bool(opt, "nesterov"),
                ExemptNormsFromDecay = exemptNorms, ExemptEmbeddingFromDecay = exemptEmbedding,
            },
            _ => throw new FormatException($"unknown optimizer '{kind}'"),
        };
        return new TrainingOptions
        {
            Model = model,
            Batch = checked((int)Long(r, "batch")),
            SequenceLength = checked((int)Long(r, "sequence_length")),
            GradientAccumulationSteps = checked((int)Long(r, "gradient_accumulation_steps")),
            TotalSteps = Long(r, "total_steps"),
            Optimizer = optimizer,
            LearningRate = Schedule.Read(Member(r, "learning_rate", JsonValueKind.Object)),
            WeightDecay = Schedule.Read(Member(r, "weight_decay", JsonValueKind.Object)),
            ClipNorm = Double(r, "clip_norm"),
            ProgressiveQuantizationSteps = Long(r, "progressive_quantization_steps"),
            EvalEvery = Long(r, "eval_every"),
            EvalRows = checked((int)Long(r, "eval_rows")),
            CheckpointEvery = Long(r, "checkpoint_every"),
            CheckpointDirectory = NullableString(r, "checkpoint_directory"),
            Seed = Member(r, "seed", JsonValueKind.Number).GetUInt64(),
            Threads = checked((int)Long(r, "threads")),
            InitialWeights = NullableString(r, "initial_weights"),
        };
    }

    public static string WriteHistory(IReadOnlyList<TrainingStepRecord> history)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartArray();
            foreach (TrainingStepRecord h in history)
            {
                w.WriteStartObject();
                w.WriteNumber("step", h.Step);
                WriteDouble(w, "train_loss", h.TrainLoss);
                if (h.ValidationLoss is double v) WriteDouble(w, "validation_loss", v);
                else w.WriteNull("validation_loss");
                WriteDouble(w, "learning_rate", h.LearningRate);
                WriteDouble(w, "weight_decay", h.WeightDecay);
                WriteDouble(w, "gradient_norm", h.GradientNorm);
                w.WriteNumber("blend", h.Blend);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    public static List<TrainingStepRecord> ReadHistory(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new FormatException("the history is not a JSON array");
        var list = new List<TrainingStepRecord>();
        foreach (JsonElement e in doc.RootElement.EnumerateArray())
        {
            double? validation = e.TryGetProperty("validation_loss", out var v) && v.ValueKind != JsonValueKind.Null ? ReadDouble(v) : null;
            list.Add(new TrainingStepRecord(Long(e, "step"), ReadDouble(Member(e, "train_loss")), validation,
                ReadDouble(Member(e, "learning_rate")), ReadDouble(Member(e, "weight_decay")), ReadDouble(Member(e, "gradient_norm")),
                Member(e, "blend", JsonValueKind.Number).GetSingle()));
        }
        return list;
    }

    // JSON has no NaN or infinities: a diverged loss is written as the string "NaN" / "Infinity"
    private static void WriteDouble(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteString(name, v.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static double ReadDouble(JsonElement e) => e.ValueKind == JsonValueKind.String
        ? double.Parse(e.GetString()!, System.Globalization.CultureInfo.InvariantCulture)
        : e.GetDouble();

    private static JsonElement Member(JsonElement e, string name, JsonValueKind? kind = null)
    {
        if (!e.TryGetProperty(name, out var v) || (kind is { } k && v.ValueKind != k))
            throw new FormatException($"missing or mistyped '{name}'");
        return v;
    }

    private static long Long(JsonElement e, string name) => Member(e, name, JsonValueKind.Number).GetInt64();
    private static double Double(JsonElement e, string name) => Member(e, name, JsonValueKind.Number).GetDouble();

    private static bool Bool(JsonElement e, string name) => Member(e, name).ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new FormatException($"'{name}' is not a boolean"),
    };

    private static string? NullableString(JsonElement e, string name)
    {
        JsonElement v = Member(e, name);
        return v.ValueKind == JsonValueKind.Null ? null : v.ValueKind == JsonValueKind.String ? v.GetString() : throw new FormatException($"'{name}' is not a string");
    }
}
