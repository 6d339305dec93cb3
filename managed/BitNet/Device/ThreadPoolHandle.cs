using System.Runtime.InteropServices;
using BitNet.Interop;

namespace BitNet;

/// <summary>Owns one <c>bn_threadpool*</c>; <c>bn_threadpool_destroy</c> joins its threads.</summary>
internal sealed class ThreadPoolHandle : SafeHandle
{
    private ThreadPoolHandle(nint pool) : base(0, ownsHandle: true) => SetHandle(pool);

    public static unsafe ThreadPoolHandle Create(int threads)
    {
        NativeVersion.EnsureCompatible();
        BnThreadpool pool;
        BitNetException.Check(NativeMethods.bn_threadpool_create(threads, &pool));
        return new ThreadPoolHandle(pool.Handle);
    }

    public override bool IsInvalid => handle == 0;

    public BnThreadpool Native => new(handle);

    protected override bool ReleaseHandle() => NativeMethods.bn_threadpool_destroy(new BnThreadpool(handle)) == BnStatus.Ok;
}
