using BitNet.Interop;

namespace BitNet.Tests;

public sealed class BitNetExceptionTests
{
    [Test]
    public unsafe void ABadFreeThroughTheRawInteropIsRefusedAndTheExceptionCarriesStatusAndMessage()
    {
        using var pool = new NativeMemoryPool();
        int onStack = 0;
        BnStatus status = NativeMethods.bn_pool_free(pool.Handle.Native, &onStack);
        var e = Assert.Throws<BitNetException>(() => BitNetException.Check(status))!;
        Assert.Multiple(() =>
        {
            Assert.That(status, Is.EqualTo(BnStatus.ErrInvalidPointer));
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrInvalidPointer));
            Assert.That(e.NativeMessage, Is.Not.Empty);
            Assert.That(e.Message, Does.Contain(e.NativeMessage));
            Assert.That(e.Message, Does.Contain(BitNetException.StatusName(BnStatus.ErrInvalidPointer)));
            Assert.That(pool.Stats.BadFrees, Is.EqualTo(1));
            Assert.That(pool.Stats.Frees, Is.Zero);
        });
    }

    [Test]
    public unsafe void ADoubleFreeIsRefusedAndChangesNothing()
    {
        using var pool = new NativeMemoryPool();
        void* p;
        BitNetException.Check(NativeMethods.bn_pool_alloc(pool.Handle.Native, 128, &p));
        nint block = (nint)p;
        BitNetException.Check(NativeMethods.bn_pool_free(pool.Handle.Native, (void*)block));
        var e = Assert.Throws<BitNetException>(() => BitNetException.Check(NativeMethods.bn_pool_free(pool.Handle.Native, (void*)block)))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrInvalidPointer));
            Assert.That(pool.Stats, Is.EqualTo(pool.Stats with { Allocations = 1, Frees = 1, BadFrees = 1, BytesInUse = 0 }));
        });
    }

    [Test]
    public void StatusNamesComeFromTheNativeLibraryAndOkDoesNotThrow()
    {
        Assert.Multiple(() =>
        {
            Assert.That(BitNetException.StatusName(BnStatus.ErrLeak), Is.EqualTo("memory leaked"));
            Assert.That(BitNetException.StatusName((BnStatus)999), Is.EqualTo("unknown status"));
            Assert.That(() => BitNetException.Check(BnStatus.Ok), Throws.Nothing);
            Assert.That(() => BitNetException.Check(BnStatus.ErrShape),
                Throws.TypeOf<BitNetException>().With.Property(nameof(BitNetException.Status)).EqualTo(BnStatus.ErrShape));
        });
    }

    [Test]
    public unsafe void ErrorsOnTwoThreadsKeepTheirOwnMessages()
    {
        string? mine, theirs = null;
        using var pool = new NativeMemoryPool();
        var t = new Thread(() =>
        {
            byte* op, impl;
            BnStatus s = NativeMethods.bn_kernel_info(-7, &op, &impl);
            theirs = BitNetException.FromLastError(s).NativeMessage;
        });
        int x = 0;
        BnStatus st = NativeMethods.bn_pool_free(pool.Handle.Native, &x);
        t.Start();
        t.Join();
        mine = BitNetException.FromLastError(st).NativeMessage;
        Assert.Multiple(() =>
        {
            Assert.That(theirs, Does.Contain("-7"));
            Assert.That(mine, Does.Not.Contain("-7"));
            Assert.That(mine, Is.Not.Empty);
        });
    }
}
