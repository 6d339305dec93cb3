using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace BitNet.Tests.Memory;

public sealed class NativeBufferTests
{
    [Test]
    public void SpanReadsBackWhatWasWritten()
    {
        using var pool = new NativeMemoryPool();
        using var buffer = pool.Allocate<double>(12_345);
        Assert.Multiple(() =>
        {
            Assert.That(buffer.Length, Is.EqualTo(12_345));
            Assert.That(buffer.ByteLength, Is.EqualTo(12_345L * sizeof(double)));
            Assert.That(buffer.Span.Length, Is.EqualTo(12_345));
        });
        Span<double> span = buffer.AsSpan();
        for (int i = 0; i < span.Length; i++) span[i] = i * 0.5;
        double[] tail = buffer.AsSpan(12_000, 345).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(tail, Has.Length.EqualTo(345));
            Assert.That(tail[0], Is.EqualTo(6000.0));
            Assert.That(tail[344], Is.EqualTo(12_344 * 0.5));
            Assert.That(buffer.Span[7], Is.EqualTo(3.5));
            Assert.That(() => buffer.AsSpan(12_000, 346).Length, Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void ZeroedAllocationIsZeroEvenWhenTheBlockWasUsedBefore()
    {
        using var pool = new NativeMemoryPool();
        using (var dirty = pool.Allocate<int>(5000)) dirty.Span.Fill(-1);
        using var clean = pool.Allocate<int>(5000, zeroed: true);
        Assert.That(clean.Span.ToArray(), Is.All.Zero);
    }

    [Test]
    public void DisposeTwiceIsSafeAndFreesOnce()
    {
        using var pool = new NativeMemoryPool();
        var buffer = pool.Allocate<byte>(256);
        buffer.Dispose();
        buffer.Dispose();
        PoolStats stats = pool.Stats;
        Assert.Multiple(() =>
        {
            Assert.That(stats.Frees, Is.EqualTo(1));
            Assert.That(stats.BadFrees, Is.Zero);
            Assert.That(stats.BytesInUse, Is.Zero);
            Assert.That(buffer.IsClosed, Is.True);
            Assert.That(() => buffer.Span.Length, Throws.TypeOf<ObjectDisposedException>());
        });
    }

    [Test]
    public void InvalidLengthsAreRefusedBeforeAnyAllocation()
    {
        using var pool = new NativeMemoryPool();
        Assert.Multiple(() =>
        {
            Assert.That(() => pool.Allocate<int>(0), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => pool.Allocate<int>(-5), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(pool.Stats.Allocations, Is.Zero);
        });
    }

    [Test]
    public void AFinalisedBufferReturnsItsBlock()
    {
        using var pool = new NativeMemoryPool();
        AllocateAndDrop(pool);
        Assert.That(pool.Stats.BytesInUse, Is.GreaterThan(0UL), "the dropped buffer is still live before a GC");
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        PoolStats stats = pool.Stats;
        Assert.Multiple(() =>
        {
            Assert.That(stats.Allocations, Is.EqualTo(1));
            Assert.That(stats.Frees, Is.EqualTo(1));
            Assert.That(stats.BytesInUse, Is.Zero);
            Assert.That(stats.BadFrees, Is.Zero);
        });
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AllocateAndDrop(NativeMemoryPool pool)
    {
        var buffer = pool.Allocate<int>(10_000);
        buffer.Span.Fill(7);
    }

    [Test]
    public void EightThreadsAllocateFillVerifyAndFreeAcrossThreads()
    {
        const int threads = 8, perThread = 3000;
        int[] sizes = [1, 16, 100, 255, 1000, 4096, 20_000, 70_000, 300_000];
        using var pool = new NativeMemoryPool();
        var handoff = new ConcurrentQueue<NativeBuffer<int>>();
        long corrupt = 0, allocated = 0;

        void Verify(NativeBuffer<int> b)
        {
            Span<int> s = b.Span;
            int tag = s[0];
            for (int i = 1; i < s.Length; i++)
            {
                if (s[i] != tag + i) { Interlocked.Increment(ref corrupt); break; }
            }
            b.Dispose();
        }

        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var rng = new Random(1234 + t);
            for (int i = 0; i < perThread; i++)
            {
                int n = sizes[rng.Next(sizes.Length)];
                if (rng.Next(64) == 0) n = 2 << 20; // now and then a large (mmap) block
                var b = pool.Allocate<int>(n);
                Interlocked.Increment(ref allocated);
                int tag = (t << 24) | i;
                Span<int> s = b.Span;
                for (int k = 0; k < s.Length; k++) s[k] = tag + k;
                // half the blocks are freed by another thread than the one that allocated them
                if ((i & 1) == 0) Verify(b);
                else handoff.Enqueue(b);
                if (handoff.TryDequeue(out var other)) Verify(other);
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        while (handoff.TryDequeue(out var rest)) Verify(rest);

        PoolStats stats = pool.Stats;
        Assert.Multiple(() =>
        {
            Assert.That(Interlocked.Read(ref corrupt), Is.Zero, "buffers whose contents changed under them");
            Assert.That(stats.Allocations, Is.EqualTo((ulong)(threads * perThread)));
            Assert.That(stats.Allocations, Is.EqualTo((ulong)Interlocked.Read(ref allocated)));
            Assert.That(stats.Frees, Is.EqualTo(stats.Allocations));
            Assert.That(stats.BytesInUse, Is.Zero);
            Assert.That(stats.BadFrees, Is.Zero);
            Assert.That(stats.BytesPeak, Is.GreaterThanOrEqualTo((ulong)(2 << 20) * sizeof(int)));
        });
    }
}
