using BitNet.Interop;

namespace BitNet.Tests.Memory;

public sealed class NativeMemoryPoolTests
{
    [Test]
    public void AllocateAndFreeUpdateTheCounters()
    {
        using var pool = new NativeMemoryPool();
        PoolStats before = pool.Stats;
        Assert.That(before, Is.EqualTo(new PoolStats(0, 0, before.BytesReserved, 0, 0, 0)));

        var a = pool.Allocate<byte>(100);       // small
        var b = pool.Allocate<float>(10_000);   // medium (40 000 bytes)
        var c = pool.Allocate<byte>(3 << 20);   // large (3 MiB)
        PoolStats live = pool.Stats;
        Assert.Multiple(() =>
        {
            Assert.That(live.Allocations, Is.EqualTo(3));
            Assert.That(live.Frees, Is.Zero);
            Assert.That(live.BytesInUse, Is.GreaterThanOrEqualTo(100UL + 40_000 + (3 << 20)));
            Assert.That(live.BytesPeak, Is.GreaterThanOrEqualTo(live.BytesInUse));
            Assert.That(live.BytesReserved, Is.GreaterThanOrEqualTo(live.BytesInUse));
            Assert.That(pool.ClassStats(BnSizeClass.Small).Allocations, Is.EqualTo(1));
            Assert.That(pool.ClassStats(BnSizeClass.Medium).Allocations, Is.EqualTo(1));
            Assert.That(pool.ClassStats(BnSizeClass.Large).Allocations, Is.EqualTo(1));
            Assert.That(pool.ClassStats(BnSizeClass.Large).BytesInUse, Is.GreaterThanOrEqualTo((ulong)(3 << 20)));
        });

        ulong peak = live.BytesInUse;
        a.Dispose();
        b.Dispose();
        c.Dispose();
        PoolStats after = pool.Stats;
        Assert.Multiple(() =>
        {
            Assert.That(after.Allocations, Is.EqualTo(3));
            Assert.That(after.Frees, Is.EqualTo(3));
            Assert.That(after.BytesInUse, Is.Zero);
            Assert.That(after.BytesPeak, Is.EqualTo(peak));
            Assert.That(after.BadFrees, Is.Zero);
            Assert.That(pool.ClassStats(BnSizeClass.Medium).Frees, Is.EqualTo(1));
            Assert.That(pool.ClassStats(BnSizeClass.Medium).BytesInUse, Is.Zero);
        });
    }

    [Test]
    public void BlockSizeIsAtLeastTheRequestAndBlocksAreAligned()
    {
        using var pool = new NativeMemoryPool();
        foreach (int n in new[] { 1, 63, 64, 65, 1000, 1024, 4097, 1 << 20, (1 << 20) + 1 })
        {
            using var buffer = pool.Allocate<byte>(n);
            Assert.That(pool.BlockSize(buffer), Is.GreaterThanOrEqualTo(n), $"block of {n} bytes");
            unsafe
            {
                Assert.That((ulong)buffer.Pointer % NativeConstants.BN_POOL_ALIGNMENT, Is.EqualTo(0UL), $"alignment of {n} bytes");
            }
        }
    }

    [Test]
    public void TrimKeepsLiveBlocksAndReleasesCachedOnes()
    {
        using var pool = new NativeMemoryPool();
        using var keep = pool.Allocate<long>(1000);
        keep.Span.Fill(0x0123456789ABCDEF);
        var large = pool.Allocate<byte>(8 << 20);
        large.Dispose(); // a cached large block, at most
        ulong reservedBefore = pool.Stats.BytesReserved;
        pool.Trim();
        PoolStats after = pool.Stats;
        Assert.Multiple(() =>
        {
            Assert.That(after.BytesReserved, Is.LessThanOrEqualTo(reservedBefore));
            Assert.That(after.BytesReserved, Is.LessThan((ulong)(8 << 20)), "the freed 8 MiB block is back with the OS");
            Assert.That(after.BytesInUse, Is.GreaterThanOrEqualTo(8000UL));
            Assert.That(keep.Span.ToArray(), Is.All.EqualTo(0x0123456789ABCDEF));
        });
    }

    [Test]
    public void LeakReportNamesLiveBlocks()
    {
        using var pool = new NativeMemoryPool();
        using (pool.Allocate<byte>(5000))
        {
            string report = pool.LeakReport();
            Assert.That(report, Is.Not.Empty);
        }
        Assert.That(pool.Stats.BytesInUse, Is.Zero);
    }

    [Test]
    public void SharedPoolIsTheDefaultPoolAndSurvivesDispose()
    {
        NativeMemoryPool shared = NativeMemoryPool.Shared;
        Assert.Multiple(() =>
        {
            Assert.That(shared.IsShared, Is.True);
            Assert.That(NativeMemoryPool.Shared, Is.SameAs(shared));
            Assert.That(shared.Handle.Native.Handle, Is.EqualTo(NativeMethods.bn_pool_default().Handle));
        });
        shared.Dispose();
        ulong before = shared.Stats.Allocations;
        using (var buffer = new NativeBuffer<int>(16)) buffer.Span.Fill(1);
        Assert.That(shared.Stats.Allocations, Is.GreaterThan(before));
    }

    [Test]
    public void DisposingAPoolWithALiveBufferDefersTheDestroy()
    {
        var pool = new NativeMemoryPool();
        PoolHandle handle = pool.Handle;
        var buffer = pool.Allocate<int>(2048);
        pool.Dispose();

        Assert.That(handle.Destroyed, Is.False, "a live buffer keeps the native pool");
        buffer.Span.Fill(42); // the block is still valid memory
        Assert.Multiple(() =>
        {
            Assert.That(buffer.Span.ToArray(), Is.All.EqualTo(42));
            Assert.That(() => pool.Stats, Throws.TypeOf<ObjectDisposedException>());
            Assert.That(() => pool.Allocate<int>(1), Throws.TypeOf<ObjectDisposedException>());
        });

        buffer.Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(handle.Destroyed, Is.True, "the last buffer's free destroys the pool");
            Assert.That(handle.DestroyStatus, Is.EqualTo(BnStatus.Ok), handle.DestroyMessage);
        });
    }

    [Test]
    public unsafe void DestroyingAPoolWithABlockFromTheRawInteropReportsTheLeak()
    {
        var pool = new NativeMemoryPool();
        PoolHandle handle = pool.Handle;
        void* block;
        Assert.That(NativeMethods.bn_pool_alloc(handle.Native, 3000, &block), Is.EqualTo(BnStatus.Ok));
        pool.Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(handle.Destroyed, Is.True);
            Assert.That(handle.DestroyStatus, Is.EqualTo(BnStatus.ErrLeak));
            Assert.That(handle.DestroyMessage, Is.Not.Empty);
        });
    }
}
