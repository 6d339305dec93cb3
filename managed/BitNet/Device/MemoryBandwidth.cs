using BitNet.Interop;

namespace BitNet;

/// <summary>A STREAM-style read rate of this machine's memory (<c>bn_measure_read_bandwidth</c>).</summary>
/// <param name="MedianGBps">Median over the timed passes, 1e9 bytes per second.</param>
/// <param name="BestGBps">Fastest pass.</param>
public sealed record MemoryBandwidth(double MedianGBps, double BestGBps)
{
    /// <summary>The default buffer: 1 GiB, several times the largest last-level caches seen (260 MB).</summary>
    public const long DefaultBytes = 1L << 30;

    /// <summary>Reads a <paramref name="bytes"/>-byte buffer <paramref name="repetitions"/> times (after one untimed pass)
    /// with <paramref name="threads"/> threads. The buffer is taken from the OS for the call only. A decode step's
    /// bandwidth floor is this rate divided by the bytes of weights it reads (CLI.md "How speed is stated").</summary>
    /// <exception cref="BitNetException">Too small a buffer, or no memory for it.</exception>
    public static unsafe MemoryBandwidth Measure(int threads, long bytes = DefaultBytes, int repetitions = 3)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        using NativeThreadPool? pool = threads > 1 ? new NativeThreadPool(threads) : null;
        double median, best;
        if (pool is null)
        {
            BitNetException.Check(NativeMethods.bn_measure_read_bandwidth(default, bytes, repetitions, &median, &best));
        }
        else
        {
            using (new HandleReference(pool.Handle))
                BitNetException.Check(NativeMethods.bn_measure_read_bandwidth(pool.Handle.Native, bytes, repetitions, &median, &best));
        }
        return new MemoryBandwidth(median, best);
    }
}
