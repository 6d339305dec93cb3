using BitNet.Interop;

namespace BitNet.Quantization;

/// <summary>Which values of a tensor share one scale: see <see cref="Granularity"/>.</summary>
public enum GranularityKind
{
    /// <summary>One scale for the whole tensor.</summary>
    Tensor = BnGranularity.Tensor,
    /// <summary>One scale per row (a weight matrix's output channel).</summary>
    Channel = BnGranularity.Channel,
    /// <summary>One scale per run of <see cref="Granularity.GroupSize"/> consecutive values of a row.</summary>
    Group = BnGranularity.Group,
}

/// <summary>
/// How many values of a rows x cols tensor (row-major) share one scale: the whole tensor, one row, or a group of
/// <see cref="GroupSize"/> consecutive values of a row (cols must be a multiple of it). Scales are numbered in
/// memory order: the scale of value [r, c] is 0, r, or r * (cols / GroupSize) + c / GroupSize.
/// <c>default(Granularity)</c> is <see cref="PerTensor"/>.
/// </summary>
public readonly record struct Granularity
{
    private Granularity(GranularityKind kind, int groupSize)
    {
        Kind = kind;
        GroupSize = groupSize;
    }

    /// <summary>Which grouping this is.</summary>
    public GranularityKind Kind { get; }

    /// <summary>Values per group for <see cref="GranularityKind.Group"/>; 0 otherwise.</summary>
    public int GroupSize { get; }

    /// <summary>One scale for the whole tensor (what HF's BitNet WeightQuant does).</summary>
    public static Granularity PerTensor => new(GranularityKind.Tensor, 0);

    /// <summary>One scale per row (output channel).</summary>
    public static Granularity PerChannel => new(GranularityKind.Channel, 0);

    /// <summary>One scale per <paramref name="groupSize"/> consecutive values of a row. Whether it divides the
    /// number of columns is checked when a tensor is quantized (<see cref="BnStatus.ErrShape"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="groupSize"/> is not positive.</exception>
    public static Granularity PerGroup(int groupSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groupSize);
        return new(GranularityKind.Group, groupSize);
    }

    /// <summary>The number of scales (and zero points) a rows x cols tensor has: 1, rows, or rows * cols / GroupSize
    /// (<c>bn_quant_scale_count</c>).</summary>
    /// <exception cref="BitNetException">cols is not a multiple of <see cref="GroupSize"/> (<see cref="BnStatus.ErrShape"/>).</exception>
    public unsafe long ScaleCount(int rows, int cols)
    {
        TensorArguments.Count(rows, cols);
        NativeVersion.EnsureCompatible();
        long n;
        BitNetException.Check(NativeMethods.bn_quant_scale_count(Native, rows, cols, GroupSize, &n));
        return n;
    }

    /// <summary>The index of the scale that value [<paramref name="row"/>, <paramref name="col"/>] of a tensor with
    /// <paramref name="cols"/> columns uses.</summary>
    public long ScaleIndex(int row, int col, int cols) => Kind switch
    {
        GranularityKind.Tensor => 0,
        GranularityKind.Channel => row,
        _ => (long)row * (cols / GroupSize) + col / GroupSize,
    };

    /// <summary>The values per scale in a rows x cols tensor: rows * cols, cols, or <see cref="GroupSize"/>.</summary>
    internal long RunLength(int rows, int cols) => Kind switch
    {
        GranularityKind.Tensor => (long)rows * cols,
        GranularityKind.Channel => cols,
        _ => GroupSize,
    };

    internal BnGranularity Native => (BnGranularity)Kind;

    /// <summary>"PerTensor", "PerChannel" or "PerGroup(128)".</summary>
    public override string ToString() => Kind switch
    {
        GranularityKind.Tensor => "PerTensor",
        GranularityKind.Channel => "PerChannel",
        _ => $"PerGroup({GroupSize})",
    };
}
