using System.Globalization;
using System.Runtime.InteropServices;
using BitNet.Models;

namespace BitNet.Training;

/// <summary>
/// A training checkpoint: one safetensors file (written under a temporary name and renamed) holding every master weight
/// under its Hugging Face name (F32; norms [n], matrices [rows, cols]), the optimizer state as
/// <c>optimizer.m.&lt;name&gt;</c> (AdamW's first moment, or SGD's momentum buffer) and, for AdamW,
/// <c>optimizer.v.&lt;name&gt;</c> (F32, same shapes), and in <c>__metadata__</c>:
/// <list type="table">
/// <item><term>format</term><description><c>bitnet-training-checkpoint</c></description></item>
/// <item><term>format_version</term><description><see cref="FormatVersion"/></description></item>
/// <item><term>step</term><description>optimizer steps completed</description></item>
/// <item><term>config</term><description>the model's config.json</description></item>
/// <item><term>options</term><description>the <see cref="TrainingOptions"/> as JSON, schedules included</description></item>
/// <item><term>data_state</term><description>base64 of <see cref="ITrainingData.SaveState"/></description></item>
/// <item><term>rng_state</term><description>JSON: the initialisation seed; the trainer draws no random numbers after
/// initialisation (dropout-free, data order is the data's own state), so this is all the RNG state there is</description></item>
/// <item><term>history</term><description>the loss history as a JSON array (train and validation loss per step)</description></item>
/// </list>
/// Gradients are not stored: every step starts by zeroing them.
/// </summary>
public sealed class TrainingCheckpoint : IDisposable
{
    /// <summary>The <c>format</c> metadata value.</summary>
    public const string FormatName = "bitnet-training-checkpoint";

    /// <summary>The <c>format_version</c> this library writes and reads.</summary>
    public const int FormatVersion = 1;

    private readonly SafetensorsFile _file;

    private TrainingCheckpoint(SafetensorsFile file, long step, TrainingOptions options, List<TrainingStepRecord> history, byte[] dataState)
    {
        _file = file;
        Step = step;
        Options = options;
        History = history;
        DataState = dataState;
    }

    /// <summary>The file.</summary>
    public string Path => _file.Path;

    /// <summary>Optimizer steps completed.</summary>
    public long Step { get; }

    /// <summary>The run's options.</summary>
    public TrainingOptions Options { get; }

    /// <summary>Every step up to <see cref="Step"/>.</summary>
    public IReadOnlyList<TrainingStepRecord> History { get; }

    /// <summary>The data's cursor (<see cref="ITrainingData.SaveState"/>).</summary>
    public byte[] DataState { get; }

    /// <summary>Opens a checkpoint and reads its metadata.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="ModelFormatException">Not a checkpoint of this format, or damaged metadata.</exception>
    public static TrainingCheckpoint Open(string path)
    {
        SafetensorsFile file = SafetensorsFile.Open(path);
        try
        {
            IReadOnlyDictionary<string, string> m = file.Metadata;
            string Get(string key) => m.TryGetValue(key, out var v) ? v : throw new ModelFormatException(path, $"not a training checkpoint: no '{key}' in __metadata__");
            if (Get("format") != FormatName) throw new ModelFormatException(path, $"format '{Get("format")}' is not '{FormatName}'");
            if (Get("format_version") != FormatVersion.ToString(CultureInfo.InvariantCulture))
                throw new ModelFormatException(path, $"checkpoint format version {Get("format_version")} is not {FormatVersion} (the one this library reads)");
            if (!long.TryParse(Get("step"), NumberStyles.None, CultureInfo.InvariantCulture, out long step))
                throw new ModelFormatException(path, $"step '{Get("step")}' is not a step count");
            ModelConfig config = ModelConfig.FromJson(System.Text.Encoding.UTF8.GetBytes(Get("config")), path + " (config)");
            TrainingOptions options;
            List<TrainingStepRecord> history;
            byte[] data;
            try
            {
                options = TrainingOptionsJson.Read(Get("options"), config);
                history = TrainingOptionsJson.ReadHistory(Get("history"));
                data = Convert.FromBase64String(Get("data_state"));
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or InvalidOperationException or OverflowException)
            {
                throw new ModelFormatException(path, $"damaged checkpoint metadata: {e.Message}", e);
            }
            if (history.Count != step) throw new ModelFormatException(path, $"the history has {history.Count} steps, the checkpoint says {step}");
            return new TrainingCheckpoint(file, step, options, history, data);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Writes the trainer's weights and optimizer state and the run's metadata to <paramref name="path"/>.</summary>
    internal static void Save(string path, BitNetTrainer trainer, TrainingOptions options, long step, byte[] dataState,
                              IReadOnlyList<TrainingStepRecord> history)
    {
        var w = new SafetensorsWriter();
        bool adam = options.Optimizer is AdamWOptions;
        foreach (TrainerTensor t in trainer.Tensors)
        {
            w.AddSingles(t.Name, trainer.ReadTensor(t, TrainBuffer.Parameters), t.Shape);
            w.AddSingles("optimizer.m." + t.Name, trainer.ReadTensor(t, TrainBuffer.FirstMoment), t.Shape);
            if (adam) w.AddSingles("optimizer.v." + t.Name, trainer.ReadTensor(t, TrainBuffer.SecondMoment), t.Shape);
        }
        w.Metadata["format"] = FormatName;
        w.Metadata["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture);
        w.Metadata["step"] = step.ToString(CultureInfo.InvariantCulture);
        w.Metadata["config"] = System.Text.Encoding.UTF8.GetString(TrainedModelWriter.MasterConfigJson(options.Model));
        w.Metadata["options"] = TrainingOptionsJson.Write(options);
        w.Metadata["data_state"] = Convert.ToBase64String(dataState);
        w.Metadata["rng_state"] = $"{{\"seed\":{options.Seed.ToString(CultureInfo.InvariantCulture)},\"draws_after_init\":0}}";
        w.Metadata["history"] = TrainingOptionsJson.WriteHistory(history);
        w.Save(path);
    }

    /// <summary>Writes the weights and moments into <paramref name="trainer"/> (of the checkpoint's shape) and zeroes its
    /// gradients.</summary>
    internal void RestoreInto(BitNetTrainer trainer)
    {
        var buffer = new float[trainer.Tensors.Max(t => t.ElementCount)];
        foreach (TrainerTensor t in trainer.Tensors)
        {
            Span<float> v = buffer.AsSpan(0, t.ElementCount);
            Read(t.Name, t, v, required: true);
            trainer.WriteTensor(t, TrainBuffer.Parameters, v);
            Read("optimizer.m." + t.Name, t, v, required: true);
            trainer.WriteTensor(t, TrainBuffer.FirstMoment, v);
            if (!Read("optimizer.v." + t.Name, t, v, required: Options.Optimizer is AdamWOptions)) v.Clear();
            trainer.WriteTensor(t, TrainBuffer.SecondMoment, v);
        }
        trainer.ZeroGradients();
    }

    /// <summary>The master weight of that HF name, as stored.</summary>
    public float[] ReadWeights(string name) => _file.ReadSingles(name);

    private bool Read(string name, TrainerTensor t, Span<float> destination, bool required)
    {
        TensorInfo? info = _file.Find(name);
        if (info is null)
            return required ? throw new ModelFormatException(Path, $"missing tensor '{name}'") : false;
        if (info.DType != DType.F32 || info.ElementCount != t.ElementCount)
            throw new ModelFormatException(Path, $"tensor '{name}' is {info.DType} {info.ShapeText}, expected F32 with {t.ElementCount} values");
        _file.GetBytes(info).CopyTo(MemoryMarshal.AsBytes(destination)); // byte copy: the mapping need not be 4-byte aligned
        return true;
    }

    /// <summary>Unmaps the file.</summary>
    public void Dispose() => _file.Dispose();
}
