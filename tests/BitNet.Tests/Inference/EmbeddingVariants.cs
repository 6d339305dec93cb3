using BitNet.Interop;
using BitNet.Models;

namespace BitNet.Tests.Inference;

/// <summary>The same GGUF model with another token_embd (the tied LM head): what the embedding and head tests compare
/// a stored type against (its own F32 dequantization, say).</summary>
internal static class EmbeddingVariants
{
    /// <summary>A copy of <paramref name="from"/> with token_embd.weight replaced by <paramref name="bytes"/> of
    /// <paramref name="type"/>; every other key and tensor as it is.</summary>
    public static void WithEmbedding(string from, string to, GgufType type, byte[] bytes)
    {
        using var f = GgufFile.Open(from);
        var w = new GgufWriter();
        foreach (string k in f.Keys) w.Set(k, f.Metadata[k]);
        foreach (var t in f.Tensors)
            if (t.Name == "token_embd.weight") w.AddTensor(t.Name, type, t.Dimensions, bytes);
            else w.AddTensor(t.Name, t.Type, t.Dimensions, f.GetTensorBytes(t).ToArray());
        w.Save(to);
    }

    /// <summary>(rows, cols) of <paramref name="type"/> widened to float by the native library.</summary>
    public static unsafe float[] Dequantize(BnDtype type, byte[] q, int rows, int cols)
    {
        var y = new float[rows * cols];
        fixed (byte* p = q)
        fixed (float* o = y)
            BitNetException.Check(NativeMethods.bn_dtype_dequantize(type, p, q.Length, rows, cols, o));
        return y;
    }
}
