namespace BitNet.Models;

/// <summary>
/// A ggml tensor type as GGUF stores it: the type id, and how many bytes a row of values takes. Values come in
/// blocks of <see cref="BlockSize"/> along the row (ne[0]), each <see cref="BytesPerBlock"/> bytes; a row's length
/// must be a multiple of the block size. bitnet.cpp's I2_S (and TL1) also add <see cref="TensorTrailerBytes"/> once
/// per tensor: its fp32 scale and padding sit after the codes (BN <c>ggml_nbytes</c>: <c>n/4 + 32</c>).
/// </summary>
/// <param name="Id">The type id in the file (<c>ggml_type</c>).</param>
/// <param name="Name">The usual spelling ("Q4_K", "TQ2_0", "I2_S").</param>
/// <param name="BlockSize">Values per block.</param>
/// <param name="BytesPerBlock">Bytes per block.</param>
/// <param name="TensorTrailerBytes">Bytes added once to the whole tensor (32 for I2_S and TL1, else 0).</param>
public sealed record GgufType(uint Id, string Name, int BlockSize, int BytesPerBlock, int TensorTrailerBytes = 0)
{
    /// <summary>Whether the id means this type only in bitnet.cpp's fork of ggml (I2_S, TL1).</summary>
    public bool IsBitNetCppOnly => TensorTrailerBytes != 0;

    /// <summary>Bytes of a tensor of this type with these dimensions (GGUF order, dims[0] the row length), or
    /// null when the row length is not a multiple of <see cref="BlockSize"/> or the size overflows.</summary>
    public long? TryByteSize(ReadOnlySpan<long> dims)
    {
        long rowLength = dims.Length == 0 ? 1 : dims[0];
        if (rowLength < 0 || rowLength % BlockSize != 0) return null;
        try
        {
            long n = 1;
            foreach (long d in dims) n = checked(n * d);
            return checked(n / BlockSize * BytesPerBlock + TensorTrailerBytes);
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    /// <summary>Bytes of a tensor of this type with these dimensions (GGUF order).</summary>
    /// <exception cref="ArgumentException">The row length is not a multiple of the block size, or the size overflows.</exception>
    public long ByteSize(ReadOnlySpan<long> dims) =>
        TryByteSize(dims) ?? throw new ArgumentException(
            $"{Name} [{string.Join(", ", dims.ToArray())}]: row length must be a multiple of {BlockSize} and the size must fit 64 bits", nameof(dims));

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>Which meaning a file's tensor type ids have. bitnet.cpp's fork numbered its types 36–39 before upstream
/// ggml did (upstream 39 is MXFP4, bitnet.cpp's is TL2), so the id alone is ambiguous: the architecture decides.</summary>
public enum GgufTypeIdSpace
{
    /// <summary>ggml-org/llama.cpp's numbering (also used for arch <c>bitnet</c>).</summary>
    Upstream,
    /// <summary>microsoft/BitNet's fork: 36 = I2_S, 37 = I8_S, 38 = TL1, 39 = TL2 (arch <c>bitnet-b1.58</c>, <c>bitnet-25</c>).</summary>
    BitNetCpp,
}

/// <summary>
/// The ggml tensor types, one row each (sizes from ggml's type-traits table and BN's <c>ggml_nbytes</c>). Adding a
/// type is one field here and its place in the id tables below.
/// </summary>
public static class GgufTypes
{
    private const int QK = 256; // QK_K: the super-block of the k-quants and the ternary types

#pragma warning disable CS1591 // each field is the type of its name
    public static readonly GgufType F32 = new(0, "F32", 1, 4);
    public static readonly GgufType F16 = new(1, "F16", 1, 2);
    public static readonly GgufType Q4_0 = new(2, "Q4_0", 32, 2 + 16);
    public static readonly GgufType Q4_1 = new(3, "Q4_1", 32, 2 + 2 + 16);
    public static readonly GgufType Q5_0 = new(6, "Q5_0", 32, 2 + 4 + 16);
    public static readonly GgufType Q5_1 = new(7, "Q5_1", 32, 2 + 2 + 4 + 16);
    public static readonly GgufType Q8_0 = new(8, "Q8_0", 32, 2 + 32);
    public static readonly GgufType Q8_1 = new(9, "Q8_1", 32, 4 + 32);
    public static readonly GgufType Q2_K = new(10, "Q2_K", QK, 2 + 2 + QK / 16 + QK / 4);
    public static readonly GgufType Q3_K = new(11, "Q3_K", QK, 2 + QK / 4 + QK / 8 + 12);
    public static readonly GgufType Q4_K = new(12, "Q4_K", QK, 2 + 2 + QK / 2 + 12);
    public static readonly GgufType Q5_K = new(13, "Q5_K", QK, 2 + 2 + QK / 2 + QK / 8 + 12);
    public static readonly GgufType Q6_K = new(14, "Q6_K", QK, 2 + QK / 2 + QK / 4 + QK / 16);
    public static readonly GgufType Q8_K = new(15, "Q8_K", QK, 4 + QK + QK / 8);
    public static readonly GgufType IQ2_XXS = new(16, "IQ2_XXS", QK, 2 + QK / 4);
    public static readonly GgufType IQ2_XS = new(17, "IQ2_XS", QK, 2 + QK / 4 + QK / 32);
    public static readonly GgufType IQ3_XXS = new(18, "IQ3_XXS", QK, 2 + QK / 4 + QK / 8);
    public static readonly GgufType IQ1_S = new(19, "IQ1_S", QK, 2 + QK / 8 + QK / 16);
    public static readonly GgufType IQ4_NL = new(20, "IQ4_NL", 32, 2 + 16);
    public static readonly GgufType IQ3_S = new(21, "IQ3_S", QK, 2 + QK / 4 + QK / 8 + QK / 32 + 4);
    public static readonly GgufType IQ2_S = new(22, "IQ2_S", QK, 2 + QK / 4 + QK / 16);
    public static readonly GgufType IQ4_XS = new(23, "IQ4_XS", QK, 2 + 2 + QK / 2 + QK / 64);
    public static readonly GgufType I8 = new(24, "I8", 1, 1);
    public static readonly GgufType I16 = new(25, "I16", 1, 2);
    public static readonly GgufType I32 = new(26, "I32", 1, 4);
    public static readonly GgufType I64 = new(27, "I64", 1, 8);
    public static readonly GgufType F64 = new(28, "F64", 1, 8);
    public static readonly GgufType IQ1_M = new(29, "IQ1_M", QK, QK / 8 + QK / 16 + QK / 32);
    public static readonly GgufType BF16 = new(30, "BF16", 1, 2);
    public static readonly GgufType TQ1_0 = new(34, "TQ1_0", QK, 2 + 4 * 13);
    public static readonly GgufType TQ2_0 = new(35, "TQ2_0", QK, 2 + 64);
    /// <summary>bitnet.cpp I2_S: 2-bit codes, four per byte, then one fp32 scale in a 32-byte trailer: n/4 + 32 bytes.</summary>
    public static readonly GgufType I2_S = new(36, "I2_S", 4, 1, 32);
    /// <summary>bitnet.cpp TL1 (ARM lookup-table kernel): sized like I2_S by BN's <c>ggml_nbytes</c>.</summary>
    public static readonly GgufType TL1 = new(38, "TL1", 4, 1, 32);
    /// <summary>Upstream MXFP4 (id 39, which bitnet.cpp uses for TL2).</summary>
    public static readonly GgufType MXFP4 = new(39, "MXFP4", 32, 1 + 16);
#pragma warning restore CS1591

    private static readonly GgufType[] s_common =
    [
        F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ2_XXS, IQ2_XS, IQ3_XXS,
        IQ1_S, IQ4_NL, IQ3_S, IQ2_S, IQ4_XS, I8, I16, I32, I64, F64, IQ1_M, BF16, TQ1_0, TQ2_0,
    ];

    // Upstream retired 36–38 (IQ4_NL_4_4/4_8/8_8, never a file format after the repacking moved to load time), so
    // there the bitnet.cpp meaning is the only one and an upstream-numbered `bitnet` file may still hold I2_S.
    private static readonly Dictionary<uint, GgufType> s_upstream = s_common.Append(I2_S).Append(TL1).Append(MXFP4).ToDictionary(t => t.Id);
    private static readonly Dictionary<uint, GgufType> s_bitnetCpp = s_common.Append(I2_S).Append(TL1).ToDictionary(t => t.Id);

    /// <summary>Every type this table knows, in id order (MXFP4 included; it shares id 39 with bitnet.cpp's TL2).</summary>
    public static IReadOnlyList<GgufType> All { get; } = s_upstream.Values.OrderBy(t => t.Id).ToArray();

    /// <summary>The architectures whose files number types as bitnet.cpp does.</summary>
    public static IReadOnlyList<string> BitNetCppArchitectures { get; } = ["bitnet-b1.58", "bitnet-25"];

    /// <summary>The id space a file of this <c>general.architecture</c> uses.</summary>
    public static GgufTypeIdSpace IdSpaceOf(string? architecture) =>
        architecture is not null && BitNetCppArchitectures.Contains(architecture) ? GgufTypeIdSpace.BitNetCpp : GgufTypeIdSpace.Upstream;

    /// <summary>The type with that id in that id space; false for ids this table does not know.</summary>
    public static bool TryGet(uint id, GgufTypeIdSpace space, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out GgufType? type) =>
        (space == GgufTypeIdSpace.BitNetCpp ? s_bitnetCpp : s_upstream).TryGetValue(id, out type);

    /// <summary>Why an id is not in the table, for error messages ("" when nothing more is known).</summary>
    internal static string Explain(uint id, GgufTypeIdSpace space) => (id, space) switch
    {
        (37, GgufTypeIdSpace.BitNetCpp) => " (bitnet.cpp I8_S, an activation type, is not a weight format)",
        (39, GgufTypeIdSpace.BitNetCpp) => " (bitnet.cpp TL2: its size depends on code-generated kernel tiles; not supported)",
        (4 or 5, _) => " (Q4_2/Q4_3 were removed from ggml)",
        (31 or 32 or 33, _) => " (Q4_0_4_4/4_8/8_8 were removed from ggml: requantize the file)",
        _ => "",
    };
}
