using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using BitNet.Interop;

namespace BitNet;

/// <summary>The work of one chunk [<paramref name="begin"/>, <paramref name="end"/>) of a parallel range;
/// <paramref name="worker"/> is 0 for the calling thread and 1..Size-1 for the pool's threads.</summary>
public delegate void ParallelRangeBody(long begin, long end, int worker);

/// <summary>
/// libbitnet's thread pool: <see cref="Size"/> threads counting the caller, which runs the chunks of a
/// <see cref="ParallelFor(long, long, ParallelRangeBody)"/> and returns when all are done. Calls from several
/// threads are serialised; a call made from inside a body runs serially on the calling thread.
/// </summary>
public sealed unsafe class NativeThreadPool : IDisposable
{
    private readonly ThreadPoolHandle _handle;

    /// <summary>Starts <paramref name="threads"/> - 1 threads (0: one thread per logical core).</summary>
    public NativeThreadPool(int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        _handle = ThreadPoolHandle.Create(threads);
        using (new HandleReference(_handle)) Size = NativeMethods.bn_threadpool_size(_handle.Native);
    }

    /// <summary>The number of threads, the caller included.</summary>
    public int Size { get; }

    /// <summary>The native pool, for this library's own objects that run on it (a context keeps a reference).</summary>
    internal ThreadPoolHandle Handle => _handle;

    /// <summary>Runs <paramref name="body"/> over [0, <paramref name="count"/>) in chunks of at least
    /// <paramref name="grain"/> items (0: the pool chooses). The first exception a chunk throws is rethrown here, after
    /// every chunk has returned; chunks that start after it are skipped.</summary>
    public void ParallelFor(long count, long grain, ParallelRangeBody body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var state = new ManagedBody(body);
        GCHandle gc = GCHandle.Alloc(state);
        try
        {
            ParallelFor(count, grain, &RunManagedBody, (void*)GCHandle.ToIntPtr(gc));
        }
        finally
        {
            gc.Free();
        }
        state.Failure?.Throw();
    }

    /// <summary>Runs a static unmanaged callback over [0, <paramref name="count"/>): the form for kernels, which pass
    /// their arguments through <paramref name="context"/>. The callback must not throw.</summary>
    public void ParallelFor(long count, long grain, delegate* unmanaged[Cdecl]<void*, long, long, int, void> body, void* context)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(grain);
        if (body == null) throw new ArgumentNullException(nameof(body));
        using (new HandleReference(_handle))
            BitNetException.Check(NativeMethods.bn_threadpool_parallel_for(_handle.Native, count, grain, body, context));
    }

    /// <summary>Joins the pool's threads.</summary>
    public void Dispose() => _handle.Dispose();

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void RunManagedBody(void* context, long begin, long end, int worker)
    {
        var state = (ManagedBody)GCHandle.FromIntPtr((nint)context).Target!;
        if (state.Failure is not null) return;
        try
        {
            state.Body(begin, end, worker);
        }
        catch (Exception e) // nothing may unwind into native frames
        {
            Interlocked.CompareExchange(ref state.Failure, ExceptionDispatchInfo.Capture(e), null);
        }
    }

    private sealed class ManagedBody(ParallelRangeBody body)
    {
        public readonly ParallelRangeBody Body = body;
        public ExceptionDispatchInfo? Failure;
    }
}
