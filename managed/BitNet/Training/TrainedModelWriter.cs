using System.Text.Json;
using BitNet.Models;

namespace BitNet.Training;

/// <summary>
/// Writes a <see cref="BitNetTrainer"/>'s weights as a model that the rest of the library (and Hugging Face, llama.cpp,
/// bitnet.cpp) loads: a master folder (config.json without <c>quantization_config</c>, so linear layers quantize online,
/// + model.safetensors in F32), the packed Hugging Face layout (<see cref="HfPackedModelWriter"/>), or GGUF
/// (<see cref="GgufModelWriter"/>; TQ2_0 by default, I2_S on request). The packed and GGUF writers work from a
/// <see cref="BitNetModelFile"/>: the master folder is written to a temporary folder beside the output, opened, and
/// converted. A tokenizer.json given is copied in (and, for GGUF, written as <c>tokenizer.ggml.*</c>).
/// Formats that store scales in 16 bits (packed: BF16 <c>weight_scale</c>; TQ2_0: FP16 d) round each projection's
/// absmean scale, so their logits match the trainer's blend-1 logits only as closely as that rounding allows; F32
/// embeddings (<see cref="Models.EmbeddingType.F32"/>) and I2_S keep them exact.
/// </summary>
public static class TrainedModelWriter
{
    /// <summary>Writes the master folder: config.json, model.safetensors (F32, HF names), tokenizer.json when given.</summary>
    /// <param name="trainer">The trainer whose master weights are written.</param>
    /// <param name="folder">The folder to create; it must not exist, or be empty.</param>
    /// <param name="tokenizerJson">A tokenizer.json to copy in, or null.</param>
    /// <exception cref="IOException"><paramref name="folder"/> exists and is not empty.</exception>
    public static void WriteMaster(BitNetTrainer trainer, string folder, string? tokenizerJson = null)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (tokenizerJson is not null && !File.Exists(tokenizerJson)) throw new FileNotFoundException($"no such tokenizer file: {tokenizerJson}", tokenizerJson);
        string full = CheckEmptyTarget(folder);
        string tmp = full + ".tmp-" + Environment.ProcessId;
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        try
        {
            WriteMasterFiles(trainer, tmp, tokenizerJson);
            if (Directory.Exists(full)) Directory.Delete(full); // empty, checked above
            Directory.Move(tmp, full);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>Writes the Hugging Face packed folder (U8 ternary + BF16 weight_scale, as microsoft/bitnet-b1.58-2B-4T).</summary>
    /// <param name="trainer">The trainer.</param>
    /// <param name="folder">The folder to create; it must not exist, or be empty.</param>
    /// <param name="tokenizerJson">A tokenizer.json to copy in, or null.</param>
    /// <param name="embeddingType">The embedding's type: F32, F16 (default) or BF16.</param>
    public static void WritePacked(BitNetTrainer trainer, string folder, string? tokenizerJson = null,
                                   EmbeddingType embeddingType = EmbeddingType.F16)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        WithMasterModel(trainer, folder, tokenizerJson, loadTokenizer: false, model => HfPackedModelWriter.Write(model, folder, embeddingType));
    }

    /// <summary>Writes a GGUF file (TQ2_0 by default; <see cref="TernaryFileType.I2_S"/> and the others through
    /// <paramref name="options"/>).</summary>
    /// <param name="trainer">The trainer.</param>
    /// <param name="path">The .gguf file (written under a temporary name and renamed).</param>
    /// <param name="tokenizerJson">A tokenizer.json to embed as <c>tokenizer.ggml.*</c>, or null.</param>
    /// <param name="options">Types (default TQ2_0 projections, F16 embedding).</param>
    public static void WriteGguf(BitNetTrainer trainer, string path, string? tokenizerJson = null, GgufModelWriterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentException.ThrowIfNullOrEmpty(path);
        WithMasterModel(trainer, path, tokenizerJson, loadTokenizer: true, model => GgufModelWriter.Write(model, path, options));
    }

    /// <summary>config.json of a master folder: the model's hyper-parameters, no <c>quantization_config</c> (HF then
    /// quantizes the float weights online, as the trainer does at blend 1).</summary>
    internal static byte[] MasterConfigJson(ModelConfig c)
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            c.WriteHfConfigFields(j, "float32");
            j.WriteNumber("initializer_range", BitNetTrainer.InitializerRange);
            j.WriteEndObject();
        }
        return ms.ToArray();
    }

    private static void WriteMasterFiles(BitNetTrainer trainer, string folder, string? tokenizerJson)
    {
        File.WriteAllBytes(Path.Combine(folder, "config.json"), MasterConfigJson(trainer.Config));
        var w = new SafetensorsWriter();
        w.Metadata["format"] = "pt";
        foreach (TrainerTensor t in trainer.Tensors) w.AddSingles(t.Name, trainer.ReadTensor(t, TrainBuffer.Parameters), t.Shape);
        w.Save(Path.Combine(folder, "model.safetensors"));
        if (tokenizerJson is not null) File.Copy(tokenizerJson, Path.Combine(folder, "tokenizer.json"));
    }

    // the master folder in a temporary folder beside `target`, opened as a BitNetModelFile for a writer
    private static void WithMasterModel(BitNetTrainer trainer, string target, string? tokenizerJson, bool loadTokenizer, Action<BitNetModelFile> write)
    {
        if (tokenizerJson is not null && !File.Exists(tokenizerJson)) throw new FileNotFoundException($"no such tokenizer file: {tokenizerJson}", tokenizerJson);
        string full = Path.GetFullPath(target.TrimEnd('/', '\\'));
        string tmp = full + ".master-tmp-" + Environment.ProcessId;
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        try
        {
            WriteMasterFiles(trainer, tmp, tokenizerJson);
            using BitNetModelFile model = BitNetModelFile.Open(tmp, new ModelLoadOptions { LoadTokenizer = loadTokenizer });
            write(model);
        }
        finally
        {
            TryDelete(tmp);
        }
    }

    private static string CheckEmptyTarget(string folder)
    {
        string full = Path.GetFullPath(folder.TrimEnd('/', '\\'));
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any()) throw new IOException($"{folder} exists and is not empty");
        if (File.Exists(full)) throw new IOException($"{folder} exists and is a file");
        return full;
    }

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
