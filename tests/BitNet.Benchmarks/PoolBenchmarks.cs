using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BitNet.Interop;

namespace BitNet.Benchmarks;

/// <summary>
/// One allocate + free of Size bytes, per operation: through NativeBuffer (the safe managed path: a SafeHandle object,
/// a reference on the pool, the P/Invokes), through the raw interop (bn_pool_alloc / bn_pool_free), and through .NET's
/// NativeMemory (AlignedAlloc with the pool's 64-byte alignment, and plain Alloc) for comparison. The TwoThreads_
/// variants run the same operations on two threads at once (per-operation time is over both threads' operations).
/// </summary>
[MemoryDiagnoser]
public unsafe class PoolBenchmarks
{
    private const int Ops = 1024;

    private NativeMemoryPool _pool = null!;
    private TwoThreads _two = null!;
    private Action<int> _bufferWork = null!, _rawWork = null!, _alignedWork = null!, _allocWork = null!;

    [Params(64, 4096, 65536)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pool = new NativeMemoryPool();
        _two = new TwoThreads();
        _bufferWork = _ => BufferOps();
        _rawWork = _ => RawOps();
        _alignedWork = _ => AlignedOps();
        _allocWork = _ => AllocOps();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _two.Dispose();
        _pool.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public void NativeBuffer() => BufferOps();

    [Benchmark(OperationsPerInvoke = Ops)]
    public void RawInterop() => RawOps();

    [Benchmark(OperationsPerInvoke = Ops, Baseline = true)]
    public void NativeMemory_AlignedAlloc() => AlignedOps();

    [Benchmark(OperationsPerInvoke = Ops)]
    public void NativeMemory_Alloc() => AllocOps();

    [Benchmark(OperationsPerInvoke = 2 * Ops)]
    public void TwoThreads_NativeBuffer() => _two.Run(_bufferWork);

    [Benchmark(OperationsPerInvoke = 2 * Ops)]
    public void TwoThreads_RawInterop() => _two.Run(_rawWork);

    [Benchmark(OperationsPerInvoke = 2 * Ops)]
    public void TwoThreads_NativeMemory_AlignedAlloc() => _two.Run(_alignedWork);

    [Benchmark(OperationsPerInvoke = 2 * Ops)]
    public void TwoThreads_NativeMemory_Alloc() => _two.Run(_allocWork);

    // Each operation touches the first byte so that no allocator can skip the work.
    private void BufferOps()
    {
        for (int i = 0; i < Ops; i++)
        {
            using var b = _pool.Allocate<byte>(Size);
            b.Span[0] = 1;
        }
    }

    private void RawOps()
    {
        BnPool pool = _pool.Handle.Native;
        nuint size = (nuint)Size;
        for (int i = 0; i < Ops; i++)
        {
            void* p;
            if (NativeMethods.bn_pool_alloc(pool, size, &p) != BnStatus.Ok) throw new OutOfMemoryException();
            *(byte*)p = 1;
            NativeMethods.bn_pool_free(pool, p);
        }
    }

    private void AlignedOps()
    {
        nuint size = (nuint)Size;
        for (int i = 0; i < Ops; i++)
        {
            void* p = NativeMemory.AlignedAlloc(size, NativeConstants.BN_POOL_ALIGNMENT);
            *(byte*)p = 1;
            NativeMemory.AlignedFree(p);
        }
    }

    private void AllocOps()
    {
        nuint size = (nuint)Size;
        for (int i = 0; i < Ops; i++)
        {
            void* p = NativeMemory.Alloc(size);
            *(byte*)p = 1;
            NativeMemory.Free(p);
        }
    }
}
