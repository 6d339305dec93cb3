using System.Runtime.InteropServices;
using BitNet.Interop;

namespace BitNet;

/// <summary>Owns one <c>bn_pool*</c>. Every <see cref="NativeBuffer{T}"/> holds a reference on it
/// (<see cref="SafeHandle.DangerousAddRef"/>), so <c>bn_pool_destroy</c> runs only after the last block is freed,
/// whether the pool was disposed, finalised, or both, and in whichever order the finalizers run.</summary>
internal sealed class PoolHandle : SafeHandle
{
    private PoolHandle(nint pool, bool ownsHandle) : base(0, ownsHandle)
    {
        SetHandle(pool);
        OwnsPool = ownsHandle;
    }

    /// <summary>False for the process-wide pool, which is never destroyed.</summary>
    public bool OwnsPool { get; }

    /// <summary>Creates a private pool (<c>bn_pool_create</c>).</summary>
    public static unsafe PoolHandle Create()
    {
        NativeVersion.EnsureCompatible();
        BnPool pool;
        BitNetException.Check(NativeMethods.bn_pool_create(&pool));
        return new PoolHandle(pool.Handle, ownsHandle: true);
    }

    /// <summary>Wraps the process-wide pool, which is never destroyed.</summary>
    public static PoolHandle Default()
    {
        NativeVersion.EnsureCompatible();
        BnPool pool = NativeMethods.bn_pool_default();
        if (pool.IsNull) throw new BitNetException(BnStatus.ErrOutOfMemory, "bn_pool_default() returned null");
        return new PoolHandle(pool.Handle, ownsHandle: false);
    }

    public override bool IsInvalid => handle == 0;

    private volatile bool _disposed;

    /// <summary>True once Dispose was called. SafeHandle.IsClosed turns true only when the last reference is released,
    /// which a live buffer postpones; a disposed pool must refuse new work at once.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Takes a reference for a new buffer or a native call.</summary>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    public void AddRef()
    {
        ObjectDisposedException.ThrowIf(_disposed, typeof(NativeMemoryPool));
        bool added = false;
        DangerousAddRef(ref added);
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        base.Dispose(disposing);
    }

    /// <summary>The handle for a native call. Valid while the caller holds a reference or knows the pool is open.</summary>
    public BnPool Native => new(handle);

    /// <summary>True once <c>bn_pool_destroy</c> has run on this pool.</summary>
    internal bool Destroyed { get; private set; }

    /// <summary>What <c>bn_pool_destroy</c> returned (<see cref="BnStatus.ErrLeak"/> when blocks handed out through the raw
    /// interop were still live), and its message; null until it ran.</summary>
    internal BnStatus? DestroyStatus { get; private set; }

    internal string DestroyMessage { get; private set; } = string.Empty;

    protected override unsafe bool ReleaseHandle()
    {
        // May run on the finalizer thread; the message is read on the same thread, right after the call.
        BnStatus status = NativeMethods.bn_pool_destroy(new BnPool(handle));
        DestroyMessage = status == BnStatus.Ok ? string.Empty : NativeString.Read(NativeMethods.bn_last_error());
        DestroyStatus = status;
        Destroyed = true;
        // A leak report is not a failure to release: the pool freed everything, including the leaked blocks.
        return status is BnStatus.Ok or BnStatus.ErrLeak;
    }
}
