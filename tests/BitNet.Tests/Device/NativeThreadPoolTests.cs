using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BitNet.Tests.Device;

public sealed unsafe class NativeThreadPoolTests
{
    [Test]
    public void SizeCountsTheCaller()
    {
        using var one = new NativeThreadPool(1);
        using var three = new NativeThreadPool(3);
        using var all = new NativeThreadPool();
        Assert.Multiple(() =>
        {
            Assert.That(one.Size, Is.EqualTo(1));
            Assert.That(three.Size, Is.EqualTo(3));
            Assert.That(all.Size, Is.EqualTo(CpuInfo.LogicalCores));
        });
    }

    [Test]
    public void ManagedParallelForCoversTheRangeExactlyOnce()
    {
        using var pool = new NativeThreadPool(4);
        const int n = 100_003;
        var hits = new int[n];
        var workers = new int[pool.Size];
        pool.ParallelFor(n, 0, (begin, end, worker) =>
        {
            Interlocked.Increment(ref workers[worker]);
            for (long i = begin; i < end; i++) Interlocked.Increment(ref hits[i]);
        });
        Assert.Multiple(() =>
        {
            Assert.That(hits, Is.All.EqualTo(1));
            Assert.That(workers.Sum(), Is.GreaterThanOrEqualTo(1));
        });
    }

    [Test]
    public void AnExceptionInABodyIsRethrownOnTheCaller()
    {
        using var pool = new NativeThreadPool(3);
        var e = Assert.Throws<InvalidOperationException>(() => pool.ParallelFor(1000, 10, (begin, end, _) =>
        {
            if (begin <= 500 && 500 < end) throw new InvalidOperationException("chunk with 500");
        }))!;
        Assert.That(e.Message, Is.EqualTo("chunk with 500"));
        // the pool still works afterwards
        long sum = 0;
        pool.ParallelFor(100, 0, (b, end, _) => Interlocked.Add(ref sum, end - b));
        Assert.That(sum, Is.EqualTo(100));
    }

    [Test]
    public void UnmanagedCallbackReceivesTheContext()
    {
        using var pool = new NativeThreadPool(2);
        long[] counts = new long[1];
        fixed (long* p = counts)
        {
            pool.ParallelFor(12_345, 100, &AddRange, p);
        }
        Assert.That(counts[0], Is.EqualTo(12_345));
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void AddRange(void* context, long begin, long end, int worker) =>
        Interlocked.Add(ref *(long*)context, end - begin);

    [Test]
    public void BadArgumentsAreRefused()
    {
        using var pool = new NativeThreadPool(2);
        Assert.Multiple(() =>
        {
            Assert.That(() => new NativeThreadPool(-1), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => pool.ParallelFor(-1, 0, (_, _, _) => { }), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
        pool.Dispose();
        Assert.That(() => pool.ParallelFor(10, 0, (_, _, _) => { }), Throws.TypeOf<ObjectDisposedException>());
    }
}
