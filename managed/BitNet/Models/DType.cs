namespace BitNet.Models;

/// <summary>Element types of tensors in model files (safetensors names; GGUF types map onto these where they are plain).</summary>
public enum DType
{
    /// <summary>64-bit IEEE float.</summary>
    F64,
    /// <summary>32-bit IEEE float.</summary>
    F32,
    /// <summary>16-bit IEEE half.</summary>
    F16,
    /// <summary>bfloat16: the top 16 bits of a float32.</summary>
    BF16,
    /// <summary>signed 64-bit integer.</summary>
    I64,
    /// <summary>signed 32-bit integer.</summary>
    I32,
    /// <summary>signed 16-bit integer.</summary>
    I16,
    /// <summary>signed byte.</summary>
    I8,
    /// <summary>unsigned byte (packed ternary weights use it).</summary>
    U8,
    /// <summary>one byte, 0 or 1.</summary>
    Bool,
    /// <summary>unsigned 64-bit integer.</summary>
    U64,
    /// <summary>unsigned 32-bit integer.</summary>
    U32,
    /// <summary>unsigned 16-bit integer.</summary>
    U16,
    /// <summary>8-bit float, 4 exponent bits.</summary>
    F8E4M3,
    /// <summary>8-bit float, 5 exponent bits.</summary>
    F8E5M2,
}

/// <summary>Sizes and names of <see cref="DType"/> values.</summary>
public static class DTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(DType t) => t switch
    {
        DType.F64 or DType.I64 or DType.U64 => 8,
        DType.F32 or DType.I32 or DType.U32 => 4,
        DType.F16 or DType.BF16 or DType.I16 or DType.U16 => 2,
        DType.I8 or DType.U8 or DType.Bool or DType.F8E4M3 or DType.F8E5M2 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>The safetensors spelling ("F32", "BF16", "F8_E4M3", ...).</summary>
    public static string SafetensorsName(DType t) => t switch
    {
        DType.F8E4M3 => "F8_E4M3",
        DType.F8E5M2 => "F8_E5M2",
        DType.Bool => "BOOL",
        _ => t.ToString(),
    };

    /// <summary>Parses a safetensors dtype name; false for names this library does not know.</summary>
    public static bool TryParseSafetensors(string name, out DType t)
    {
        switch (name)
        {
            case "F64": t = DType.F64; return true;
            case "F32": t = DType.F32; return true;
            case "F16": t = DType.F16; return true;
            case "BF16": t = DType.BF16; return true;
            case "I64": t = DType.I64; return true;
            case "I32": t = DType.I32; return true;
            case "I16": t = DType.I16; return true;
            case "I8": t = DType.I8; return true;
            case "U8": t = DType.U8; return true;
            case "BOOL": t = DType.Bool; return true;
            case "U64": t = DType.U64; return true;
            case "U32": t = DType.U32; return true;
            case "U16": t = DType.U16; return true;
            case "F8_E4M3": t = DType.F8E4M3; return true;
            case "F8_E5M2": t = DType.F8E5M2; return true;
            default: t = default; return false;
        }
    }
}
