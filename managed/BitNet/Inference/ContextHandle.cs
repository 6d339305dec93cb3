using System.Runtime.InteropServices;
using BitNet.Interop;

namespace BitNet.Inference;

/// <summary>Owns one <c>bn_context*</c> and a reference on the model, memory pool and thread pool it runs on, which
/// must outlive it; they are released after <c>bn_context_destroy</c>.</summary>
internal sealed class ContextHandle : SafeHandle
{
    private readonly SafeHandle[] _dependencies;

    private ContextHandle(nint ctx, SafeHandle[] dependencies) : base(0, ownsHandle: true)
    {
        SetHandle(ctx);
        _dependencies = dependencies;
    }

    /// <summary>Creates a context; <paramref name="threads"/> may be null (the calling thread only).</summary>
    public static unsafe ContextHandle Create(ModelHandle model, long contextSize, BnDtype kvType, long maxBatch, PoolHandle pool,
                                              SafeHandle? threads, BnThreadpool nativeThreads)
    {
        var held = new List<SafeHandle>(3);
        try
        {
            foreach (SafeHandle h in threads is null ? new SafeHandle[] { model, pool } : new SafeHandle[] { model, pool, threads })
            {
                bool added = false;
                h.DangerousAddRef(ref added);
                held.Add(h);
            }
            BnContext ctx;
            BnStatus status = NativeMethods.bn_context_create(model.Native, contextSize, kvType, maxBatch, pool.Native, nativeThreads, &ctx);
            if (status != BnStatus.Ok) throw BitNetException.FromLastError(status);
            return new ContextHandle(ctx.Handle, held.ToArray());
        }
        catch
        {
            foreach (SafeHandle h in held) h.DangerousRelease();
            throw;
        }
    }

    public override bool IsInvalid => handle == 0;

    public BnContext Native => new(handle);

    protected override bool ReleaseHandle()
    {
        bool ok = NativeMethods.bn_context_destroy(new BnContext(handle)) == BnStatus.Ok;
        foreach (SafeHandle h in _dependencies) h.DangerousRelease();
        return ok;
    }
}
