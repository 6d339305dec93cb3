using System.Text;
using BitNet.Interop;

namespace BitNet;

/// <summary>
/// A libbitnet memory pool: 64-byte-aligned blocks in three size classes (small &lt; 1 KiB, medium up to 1 MiB,
/// large mmap-backed), thread-safe, with a per-thread cache. <see cref="Shared"/> is the process-wide pool; a private
/// pool (<c>new NativeMemoryPool()</c>) has its own counters and is destroyed when it is disposed and the last
/// <see cref="NativeBuffer{T}"/> allocated from it is freed.
/// </summary>
public sealed class NativeMemoryPool : IDisposable
{
    private static readonly Lazy<NativeMemoryPool> s_shared = new(() => new NativeMemoryPool(PoolHandle.Default()));

    private readonly PoolHandle _handle;

    /// <summary>Creates a private pool.</summary>
    public NativeMemoryPool() : this(PoolHandle.Create()) { }

    private NativeMemoryPool(PoolHandle handle)
    {
        _handle = handle;
        IsShared = !handle.OwnsPool;
    }

    /// <summary>The process-wide pool (<c>bn_pool_default</c>). Never destroyed; <see cref="Dispose"/> does nothing on it.</summary>
    public static NativeMemoryPool Shared => s_shared.Value;

    /// <summary>True for <see cref="Shared"/>.</summary>
    public bool IsShared { get; }

    internal PoolHandle Handle => _handle;

    /// <summary>Allocates a buffer of <paramref name="length"/> elements (uninitialised, or zeroed).</summary>
    public NativeBuffer<T> Allocate<T>(int length, bool zeroed = false) where T : unmanaged => new(_handle, length, zeroed);

    /// <summary>The pool's counters now.</summary>
    public unsafe PoolStats Stats
    {
        get
        {
            BnPoolStats s;
            using (Use()) BitNetException.Check(NativeMethods.bn_pool_get_stats(_handle.Native, &s));
            return new PoolStats(s.BytesInUse, s.BytesPeak, s.BytesReserved, s.Allocations, s.Frees, s.BadFrees);
        }
    }

    /// <summary>The counters of one size class now.</summary>
    public unsafe PoolClassStats ClassStats(BnSizeClass sizeClass)
    {
        BnPoolClassStats s;
        using (Use()) BitNetException.Check(NativeMethods.bn_pool_get_class_stats(_handle.Native, sizeClass, &s));
        return new PoolClassStats(s.Allocations, s.Frees, s.CacheHits, s.CacheMisses, s.BytesInUse);
    }

    /// <summary>The usable size of the block behind <paramref name="buffer"/> (its size class), at least its
    /// <see cref="NativeBuffer{T}.ByteLength"/>.</summary>
    public unsafe long BlockSize<T>(NativeBuffer<T> buffer) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(buffer);
        nuint size;
        using (Use())
        using (buffer.Use())
            BitNetException.Check(NativeMethods.bn_pool_block_size(_handle.Native, buffer.Pointer, &size));
        return (long)size;
    }

    /// <summary>Returns cached memory to the OS: the calling thread's cache, empty slabs and cached large blocks.</summary>
    public void Trim()
    {
        using (Use()) BitNetException.Check(NativeMethods.bn_pool_trim(_handle.Native));
    }

    /// <summary>A report of the blocks still in use (count and bytes per class, the first addresses); libbitnet's text.</summary>
    public unsafe string LeakReport()
    {
        using (Use())
        {
            byte[] buf = new byte[1024];
            while (true)
            {
                nuint needed;
                fixed (byte* p = buf)
                    BitNetException.Check(NativeMethods.bn_pool_leak_report(_handle.Native, p, (nuint)buf.Length, &needed));
                if (needed <= (nuint)buf.Length)
                {
                    int len = Array.IndexOf(buf, (byte)0);
                    return Encoding.UTF8.GetString(buf, 0, len < 0 ? buf.Length : len);
                }
                buf = new byte[checked((int)needed)]; // truncated: again with the full length
            }
        }
    }

    /// <summary>Disposes a private pool: it is destroyed now, or when the last buffer from it is freed. Does nothing on
    /// <see cref="Shared"/>.</summary>
    public void Dispose()
    {
        if (!IsShared) _handle.Dispose();
    }

    /// <summary>Holds a reference on the pool handle for the duration of a native call (throws
    /// <see cref="ObjectDisposedException"/> once the pool is disposed).</summary>
    internal HandleReference Use()
    {
        ObjectDisposedException.ThrowIf(_handle.IsDisposed, this);
        return new(_handle);
    }
}
