namespace BitNet.Models;

/// <summary>One tensor of a GGUF file: name, type, dimensions and where its bytes lie.</summary>
/// <param name="Name">The tensor's name as stored ("blk.0.attn_q.weight").</param>
/// <param name="Type">The ggml type.</param>
/// <param name="Dimensions">GGUF (ggml) order: <c>Dimensions[0]</c> is ne[0], the fastest-varying one, the row length.
/// A PyTorch weight [out, in] is stored as [in, out].</param>
/// <param name="Offset">Byte offset of the data relative to the start of the data section (as stored).</param>
/// <param name="FileOffset">Absolute byte offset of the data in the file.</param>
/// <param name="ByteLength">Bytes of data.</param>
public sealed record GgufTensorInfo(string Name, GgufType Type, long[] Dimensions, long Offset, long FileOffset, long ByteLength)
{
    /// <summary>The product of the dimensions (1 for none).</summary>
    public long ElementCount => Dimensions.Aggregate(1L, (a, b) => a * b);

    /// <summary>ne[0]: the number of values in a row.</summary>
    public long RowLength => Dimensions.Length == 0 ? 1 : Dimensions[0];

    /// <summary>The dimensions outermost first (row-major, as safetensors and PyTorch write them): the reverse of <see cref="Dimensions"/>.</summary>
    public long[] Shape => Dimensions.Reverse().ToArray();

    /// <summary>"Q4_K [256, 512]" in GGUF order.</summary>
    public override string ToString() => $"{Name}: {Type.Name} [{string.Join(", ", Dimensions)}]";
}
