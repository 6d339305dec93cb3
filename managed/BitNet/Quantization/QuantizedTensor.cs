namespace BitNet.Quantization;

/// <summary>
/// What every quantized [<see cref="Rows"/>, <see cref="Cols"/>] tensor of this namespace is: row-major codes in native
/// memory plus the scales its subclass defines, and a way back to floats. Disposing it returns the codes to their pool.
/// </summary>
/// <typeparam name="TCode">The code type: <see cref="sbyte"/> for signed codes, <see cref="byte"/> for affine ones.</typeparam>
public abstract class QuantizedTensor<TCode> : IDisposable where TCode : unmanaged
{
    private protected QuantizedTensor(int rows, int cols, NativeBuffer<TCode> codes)
    {
        Rows = rows;
        Cols = cols;
        Codes = codes;
    }

    /// <summary>Rows (output channels for weights, tokens for activations).</summary>
    public int Rows { get; }

    /// <summary>Columns (input features).</summary>
    public int Cols { get; }

    /// <summary>Rows * Cols codes, row-major.</summary>
    public NativeBuffer<TCode> Codes { get; }

    /// <summary>The dequantized values in a buffer from <paramref name="pool"/> (default: the shared pool).</summary>
    public NativeBuffer<float> Dequantize(NativeMemoryPool? pool = null)
    {
        var result = (pool ?? NativeMemoryPool.Shared).Allocate<float>(Rows * Cols);
        try
        {
            Dequantize(result.Span);
        }
        catch
        {
            result.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>Writes the dequantized values into <paramref name="destination"/> (at least Rows * Cols long).</summary>
    public abstract void Dequantize(Span<float> destination);

    /// <summary>Throws unless <paramref name="destination"/> holds Rows * Cols values.</summary>
    private protected void CheckDestination(Span<float> destination, string what)
    {
        int n = Rows * Cols;
        if (destination.Length < n)
            throw new ArgumentException($"destination holds {destination.Length} values but {Rows} x {Cols} {what} need {n}",
                nameof(destination));
    }

    /// <summary>Returns the codes to their pool.</summary>
    public void Dispose()
    {
        Codes.Dispose();
        GC.SuppressFinalize(this);
    }
}
