using System.Runtime.InteropServices;
using System.Text.Json;
using BitNet.Quantization;

namespace BitNet.Models;

/// <summary>
/// Writes a <see cref="BitNetModelFile"/> as a Hugging Face folder in the layout of Microsoft's packed
/// bitnet-b1.58-2B-4T checkpoint: config.json with <c>quantization_config</c> (<c>autobitlinear</c>, <c>offline</c>),
/// model.safetensors with every projection as U8 [out/4, in] (HF <c>pack_weights</c>) beside a BF16
/// <c>weight_scale</c> = w rounded to bfloat16 (exact when w came from such a checkpoint), F32 norms, the embedding in
/// the type asked for, and the source's tokenizer.json when it has one. Master F32/F16 weights are not offered: HF
/// would re-ternarize them online, which does not give the same codes back. The folder is built under a temporary
/// name beside <c>OUT</c> and renamed.
/// </summary>
public static class HfPackedModelWriter
{
    /// <summary>Writes the folder.</summary>
    /// <param name="model">The model.</param>
    /// <param name="folder">The folder to create; it must not exist, or be empty.</param>
    /// <param name="embeddingType">F32, F16 or BF16.</param>
    /// <param name="progress">Receives the fraction done: after each layer, and 1 when the file is written.</param>
    /// <returns>Whether a tokenizer.json was written (only a Hugging Face source has one to copy).</returns>
    /// <exception cref="ArgumentException">Another embedding type.</exception>
    /// <exception cref="IOException"><paramref name="folder"/> exists and is not empty.</exception>
    public static bool Write(BitNetModelFile model, string folder, EmbeddingType embeddingType = EmbeddingType.F16,
                             IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        DType embeddingDType = embeddingType switch
        {
            EmbeddingType.F32 => DType.F32,
            EmbeddingType.F16 => DType.F16,
            EmbeddingType.BF16 => DType.BF16,
            _ => throw new ArgumentException($"a Hugging Face folder holds embeddings as f32, f16 or bf16, not {embeddingType}", nameof(embeddingType)),
        };
        string full = Path.GetFullPath(folder.TrimEnd('/', '\\'));
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new IOException($"{folder} exists and is not empty");
        if (File.Exists(full)) throw new IOException($"{folder} exists and is a file");

        string tmp = full + ".tmp-" + Environment.ProcessId;
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        try
        {
            File.WriteAllBytes(Path.Combine(tmp, "config.json"), ConfigJson(model.Config));
            var w = new SafetensorsWriter();
            w.Metadata["format"] = "pt";
            AddMatrix(w, "model.embed_tokens.weight", model.Embedding, embeddingDType);
            string[] proj = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
            for (int l = 0; l < model.Layers.Count; l++)
            {
                LayerWeights layer = model.Layers[l];
                string p = $"model.layers.{l}.";
                AddNorm(w, p + "input_layernorm.weight", layer.InputNorm);
                AddNorm(w, p + "post_attention_layernorm.weight", layer.PostAttentionNorm);
                AddNorm(w, p + "self_attn.attn_sub_norm.weight", layer.AttentionSubNorm);
                AddNorm(w, p + "mlp.ffn_sub_norm.weight", layer.FfnSubNorm);
                for (int i = 0; i < proj.Length; i++) AddPacked(w, p + proj[i], layer.Projections[i]);
                progress?.Report((l + 1.0) / (model.Layers.Count + 1)); // the last share: writing the file
            }
            AddNorm(w, "model.norm.weight", model.FinalNorm);
            if (model.LmHead is { } head) AddMatrix(w, "lm_head.weight", head, embeddingDType);
            w.Save(Path.Combine(tmp, "model.safetensors"));
            progress?.Report(1.0);

            string tokenizer = Path.Combine(model.Path, "tokenizer.json");
            bool copied = model.Format == ModelFileFormat.HuggingFace && File.Exists(tokenizer);
            if (copied) File.Copy(tokenizer, Path.Combine(tmp, "tokenizer.json"));
            if (Directory.Exists(full)) Directory.Delete(full); // empty, checked above
            Directory.Move(tmp, full);
            return copied;
        }
        catch
        {
            try { Directory.Delete(tmp, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    private static void AddNorm(SafetensorsWriter w, string name, float[] values) => w.AddSingles(name, values, values.Length);

    private static void AddMatrix(SafetensorsWriter w, string name, EmbeddingMatrix m, DType type)
    {
        long[] shape = [m.Rows, m.Cols];
        if (EmbeddingTypes.FromDType(type) == m.Type)
        {
            w.Add(name, type, shape, m.Bytes.ToArray());
            return;
        }
        float[] x = m.ToSingles();
        var data = new byte[checked(x.Length * DTypes.SizeOf(type))];
        switch (type)
        {
            case DType.F32: MemoryMarshal.AsBytes(x.AsSpan()).CopyTo(data); break;
            case DType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(data.AsSpan());
                for (int i = 0; i < x.Length; i++) h[i] = (Half)x[i];
                break;
            default:
                var b = MemoryMarshal.Cast<byte, ushort>(data.AsSpan());
                for (int i = 0; i < x.Length; i++) b[i] = FloatConvert.SingleToBF16(x[i]);
                break;
        }
        w.Add(name, type, shape, data);
    }

    private static void AddPacked(SafetensorsWriter w, string stem, TernaryTensor t)
    {
        var format = PackedFormat.Hf2B4T;
        byte[] bytes;
        if (t.PackedFormat == format) bytes = t.PackedBytes.ToArray();
        else
        {
            bytes = new byte[format.PackedSize(t.Rows, t.Cols)];
            format.Pack(t.GetCodes(), t.Rows, t.Cols, default, bytes);
        }
        w.Add(stem + ".weight", DType.U8, [t.Rows / 4, t.Cols], bytes);
        ushort scale = FloatConvert.SingleToBF16(t.Scale); // autobitlinear: y * weight_scale, weight_scale = w
        w.Add(stem + ".weight_scale", DType.BF16, [1], BitConverter.GetBytes(scale));
    }

    private static byte[] ConfigJson(ModelConfig c)
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            c.WriteHfConfigFields(j, "bfloat16");
            j.WriteStartObject("quantization_config");
            j.WriteString("quant_method", "bitnet");
            j.WriteString("linear_class", "autobitlinear");
            j.WriteString("quantization_mode", "offline");
            j.WriteEndObject();
            j.WriteEndObject();
        }
        return ms.ToArray();
    }
}
