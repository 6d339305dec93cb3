using System.Runtime.InteropServices;
using BitNet.Interop;

namespace BitNet;

/// <summary>
/// <see cref="Length"/> elements of <typeparamref name="T"/> in one 64-byte-aligned block of a
/// <see cref="NativeMemoryPool"/>, seen as a <see cref="Span{T}"/>. The block goes back to the pool on
/// <see cref="SafeHandle.Dispose()"/> or, if the buffer is never disposed, on finalisation. The buffer holds a
/// reference on its pool, so the pool is destroyed only after this block is freed.
/// </summary>
/// <remarks>A span obtained from the buffer must not be used after the buffer is disposed.</remarks>
public sealed unsafe class NativeBuffer<T> : SafeHandle where T : unmanaged
{
    private readonly PoolHandle _pool;

    /// <summary>Allocates <paramref name="length"/> elements from the process-wide pool.</summary>
    public NativeBuffer(int length, bool zeroed = false) : this(NativeMemoryPool.Shared.Handle, length, zeroed) { }

    /// <summary>Allocates <paramref name="length"/> elements from <paramref name="pool"/>.</summary>
    public NativeBuffer(NativeMemoryPool pool, int length, bool zeroed = false)
        : this((pool ?? throw new ArgumentNullException(nameof(pool))).Handle, length, zeroed) { }

    internal NativeBuffer(PoolHandle pool, int length, bool zeroed) : base(0, ownsHandle: true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        nuint bytes = checked((nuint)length * (nuint)sizeof(T));
        pool.AddRef(); // throws ObjectDisposedException for a disposed pool
        _pool = pool;
        try
        {
            void* block;
            BnStatus status = zeroed
                ? NativeMethods.bn_pool_calloc(pool.Native, bytes, &block)
                : NativeMethods.bn_pool_alloc(pool.Native, bytes, &block);
            BitNetException.Check(status);
            SetHandle((nint)block);
        }
        catch
        {
            pool.DangerousRelease(); // no handle was set, so ReleaseHandle will not run
            throw;
        }
        Length = length;
    }

    /// <summary>The number of elements.</summary>
    public int Length { get; }

    /// <summary>The number of bytes the elements take (the block may be larger).</summary>
    public long ByteLength => (long)Length * sizeof(T);

    /// <summary>The elements. Throws <see cref="ObjectDisposedException"/> once the buffer is disposed.</summary>
    public Span<T> Span => new(Pointer, Length);

    /// <summary>The elements, as <see cref="Span"/>.</summary>
    public Span<T> AsSpan() => Span;

    /// <summary>Elements [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>).</summary>
    public Span<T> AsSpan(int start, int length) => Span.Slice(start, length);

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>The block's address, for this library's own native calls. Callers that may race with Dispose hold
    /// <see cref="Use"/> around the call.</summary>
    internal T* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed || IsClosed, this);
            return (T*)handle;
        }
    }

    private volatile bool _disposed;

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        base.Dispose(disposing);
    }

    internal HandleReference Use()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new(this);
    }

    /// <summary>Frees the block and drops this buffer's reference on its pool (which may destroy a disposed pool).</summary>
    protected override bool ReleaseHandle()
    {
        BnStatus status = NativeMethods.bn_pool_free(_pool.Native, (void*)handle);
        _pool.DangerousRelease();
        return status == BnStatus.Ok;
    }
}
