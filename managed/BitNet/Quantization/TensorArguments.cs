namespace BitNet.Quantization;

/// <summary>The managed-side checks of a rows x cols tensor argument that libbitnet cannot make itself (it is not told
/// how long an input array is), with messages that name the numbers.</summary>
internal static class TensorArguments
{
    /// <summary>rows * cols for rows, cols &gt;= 0.</summary>
    public static long Count(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        return (long)rows * cols;
    }

    /// <summary>rows * cols for rows, cols &gt; 0: the shape of a result this library allocates (a
    /// <see cref="NativeBuffer{T}"/> is never empty).</summary>
    public static int PositiveCount(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        return Length((long)rows * cols, $"a {rows} x {cols} tensor");
    }

    /// <summary>An input span must hold exactly the rows * cols values of its tensor.</summary>
    public static void RequireLength<T>(ReadOnlySpan<T> span, long count, int rows, int cols, string paramName)
    {
        if (span.Length != count)
            throw new ArgumentException(
                $"{paramName} holds {span.Length} values but a {rows} x {cols} tensor has {count}", paramName);
    }

    /// <summary>A count as a span length (at most <see cref="Array.MaxLength"/>).</summary>
    public static int Length(long count, string what)
    {
        if (count < 0 || count > Array.MaxLength)
            throw new ArgumentException($"{what} takes {count} elements; spans and buffers hold at most {Array.MaxLength}");
        return (int)count;
    }
}
