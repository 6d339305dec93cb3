namespace BitNet.Models;

/// <summary>One tensor as a model file stores it, for listings (<c>bitnet inspect</c>).</summary>
/// <param name="Name">The name in the file.</param>
/// <param name="Type">The stored type ("BF16", "U8", "TQ2_0", ...).</param>
/// <param name="Shape">Dimensions outermost first (PyTorch order; GGUF's ne[] reversed).</param>
/// <param name="ByteLength">Stored bytes.</param>
public sealed record StoredTensor(string Name, string Type, long[] Shape, long ByteLength);
